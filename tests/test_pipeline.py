"""pipeline.py: which SVM solver a config gets, and that every solver is given the same objective."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.svm import LinearSVC

from featpipe import pipeline
from featpipe.config import SvmConfig, parse_config
from featpipe.nn import MLPClassifier
from featpipe.svm import LinearSVM


@pytest.mark.parametrize("n_features", [10, 2048, 2049, 50_000])
def test_auto_solver_is_newton_at_every_dimension(n_features):
    assert pipeline.svm_solver(SvmConfig(), n_features) == "newton"
    assert isinstance(pipeline.build_svm(SvmConfig(), 1.0, 100, n_features, 0), LinearSVM)


@pytest.mark.parametrize("solver, cls", [("newton", LinearSVM), ("liblinear", LinearSVC),
                                         ("sgd", SGDClassifier), ("minibatch", MLPClassifier)])
@pytest.mark.parametrize("n_features", [10, 5000])
def test_named_solver_is_used_at_any_dimension(solver, cls, n_features):
    svm = SvmConfig(solver=solver)
    assert pipeline.svm_solver(svm, n_features) == solver
    assert type(pipeline.build_svm(svm, 1.0, 100, n_features, 0)) is cls


def test_svm_settings_reach_the_newton_solver():
    svm = parse_config("svm:\n  loss: hinge\n  multiclass: weston_watkins\n  tol: 1e-3\n  max_iter: 50\n").svm
    model = pipeline.build_svm(svm, 0.5, 100, 10, 0)
    assert (model.C, model.loss, model.multiclass, model.tol, model.max_iter) == (0.5, "hinge", "weston_watkins",
                                                                                  1e-3, 50)


def _problem():
    X, y = make_classification(n_samples=300, n_features=8, n_informative=6, n_classes=3, class_sep=1.0,
                               random_state=0)
    return X - X.mean(axis=0), y


def _sgd_form(W, b, X, y, alpha):
    """mean(hinge) + alpha/2 |W|^2 summed over the one-vs-rest problems (SGDClassifier's objective)."""
    signs = np.where(y[:, None] == np.arange(W.shape[0]), 1.0, -1.0)
    margins = np.maximum(0.0, 1.0 - signs * (X @ W.T + b))
    return float(margins.mean(axis=0).sum() + 0.5 * alpha * (W * W).sum())


def test_sgd_is_given_alpha_equal_to_one_over_c_n():
    X, y = _problem()
    C = 0.05
    sgd = pipeline.build_svm(SvmConfig(solver="sgd", loss="hinge", max_iter=5000, tol=1e-7), C, len(y), 8, 0)
    assert sgd.alpha == pytest.approx(1.0 / (C * len(y)))
    sgd.fit(X, y)
    exact = LinearSVM(C=C, loss="hinge", intercept_scaling=100.0).fit(X, y)  # bias nearly unregularized, as in SGD
    # the C form is C n times the alpha form: both solvers minimize the same function
    ours = _sgd_form(exact.coef_, exact.intercept_, X, y, sgd.alpha)
    theirs = _sgd_form(sgd.coef_, sgd.intercept_, X, y, sgd.alpha)
    assert ours * C * len(y) == pytest.approx(exact.objective(X, y), rel=2e-2)  # only the bias term differs
    assert ours <= theirs * (1 + 1e-3)
    assert theirs <= ours * 1.05  # averaged SGD gets within 5% of the optimum of the same objective
    assert np.mean(sgd.predict(X) == exact.predict(X)) >= 0.9


def test_minibatch_svm_minimizes_the_weston_watkins_objective_with_alpha():
    X, y = _problem()
    C = 0.05
    svm = SvmConfig(solver="minibatch", epochs=60, learning_rate=0.05)
    minibatch = pipeline.build_svm(svm, C, len(y), 8, 0)
    assert minibatch.weight_decay == pytest.approx(1.0 / (C * len(y)))
    minibatch.fit(X, y)
    exact = LinearSVM(C=C, loss="hinge", multiclass="weston_watkins", intercept_scaling=100.0).fit(X, y)
    probe = LinearSVM(C=C, loss="hinge", multiclass="weston_watkins", intercept_scaling=100.0).fit(X, y)
    probe.coef_ = minibatch.coefs_[0].T.astype(np.float64)
    probe.intercept_ = minibatch.intercepts_[0].astype(np.float64)
    ours, theirs = exact.objective(X, y), probe.objective(X, y)
    assert ours <= theirs * (1 + 1e-3)
    assert theirs <= ours * 1.05  # 60 epochs of momentum SGD: within 5%
