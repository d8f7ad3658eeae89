"""LinearSVM against liblinear (LinearSVC), by objective and predictions; gradients; errors; saving."""

import warnings

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from featpipe import model_io
from featpipe.errors import InputError
from featpipe.svm import LinearSVM, _gram, _newton


def _liblinear(X, y, C, loss):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear's hinge dual may stop at max_iter at large C
        return LinearSVC(C=C, loss=loss, tol=1e-8, max_iter=100_000, random_state=0).fit(X, y)


def _objective_of(reference, X, y, C, loss):
    """LinearSVM's objective at liblinear's weights (same objective: the bias is a constant feature)."""
    probe = LinearSVM(C=C, loss=loss).fit(X[:40], y[:40])
    probe.coef_, probe.intercept_ = reference.coef_, reference.intercept_
    return probe.objective(X, y)


@pytest.mark.parametrize("precondition", ["gram", "none"])
@pytest.mark.parametrize("loss", ["squared_hinge", "hinge"])
@pytest.mark.parametrize("C", [0.01, 0.3, 10.0])
def test_objective_and_predictions_match_liblinear(problem, loss, C, precondition):
    X, y = problem
    ours = LinearSVM(C=C, loss=loss, precondition=precondition).fit(X, y)
    reference = _liblinear(X, y, C, loss)
    theirs = _objective_of(reference, X, y, C, loss)
    # at most liblinear's objective (plus 1e-6 of it for squared hinge; the hinge is reached
    # through a Huber width of 1e-3, which may cost up to C * 1e-3 / 2 per sample in the band)
    slack = 1e-6 if loss == "squared_hinge" else 1e-3
    assert ours.converged_
    assert ours.objective_ <= theirs * (1 + slack)
    assert ours.objective_ >= theirs * (1 - 0.05)  # and not a different objective altogether
    assert np.mean(ours.predict(X) == reference.predict(X)) >= (0.99 if loss == "squared_hinge" else 0.95)


def test_squared_hinge_weights_match_liblinear(problem):
    X, y = problem
    ours = LinearSVM(C=0.3, tol=1e-8).fit(X, y)
    reference = _liblinear(X, y, 0.3, "squared_hinge")
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-4 * np.abs(reference.coef_).max())
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=1e-4 * np.abs(reference.coef_).max())


def test_binary_problem_has_one_weight_vector_like_liblinear(problem):
    X, y = problem
    keep = y < 2
    ours = LinearSVM(C=1.0).fit(X[keep], y[keep])
    reference = _liblinear(X[keep], y[keep], 1.0, "squared_hinge")
    assert ours.coef_.shape == reference.coef_.shape == (1, X.shape[1])
    assert ours.decision_function(X[keep]).shape == (keep.sum(),)
    np.testing.assert_array_equal(ours.predict(X[keep]), reference.predict(X[keep]))


@pytest.mark.parametrize("multiclass", ["ovr", "weston_watkins"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_gradient_and_hessian_product_match_finite_differences(problem, multiclass, smoothing):
    X, y = problem
    p = _newton.Problem(X=X.astype(np.float64), labels=y, n_classes=4, C=0.7, multiclass=multiclass,
                        smoothing=smoothing)
    rng = np.random.default_rng(1)
    W, V = rng.standard_normal((13, 4)) * 0.3, rng.standard_normal((13, 4))
    U = _newton._masked(p.margins(p.scores(W)))
    _, dl, d2l = p.loss(U)
    G = W + p.C * p.back(p.to_scores(dl))
    h = 1e-6
    numeric = (p.objective(W + h * V).sum() - p.objective(W - h * V).sum()) / (2 * h)
    assert np.isclose(np.vdot(G, V), numeric, rtol=1e-6)
    if smoothing == 0.0:  # the squared hinge's gradient is piecewise linear: its difference is H v
        numeric_hv = (_gradient(p, W + h * V) - _gradient(p, W - h * V)) / (2 * h)
        np.testing.assert_allclose(_newton._hessian_product(p, V, d2l), numeric_hv, rtol=1e-5, atol=1e-6)


def _gradient(p, W):
    U = _newton._masked(p.margins(p.scores(W)))
    return W + p.C * p.back(p.to_scores(p.loss(U)[1]))


def test_weston_watkins_minimizes_its_objective(problem):
    X, y = problem
    model = LinearSVM(C=0.5, multiclass="weston_watkins").fit(X, y)
    W = np.vstack([model.coef_.T, model.intercept_])
    p = _newton.Problem(X=X, labels=y, n_classes=4, C=0.5, multiclass="weston_watkins")
    rng = np.random.default_rng(2)
    for _ in range(5):  # no random nearby point is better
        assert p.objective(W + 1e-3 * rng.standard_normal(W.shape)).sum() >= model.objective_
    assert model.score(X, y) > 0.5


def test_lbfgs_reaches_the_same_objective(problem):
    X, y = problem
    newton = LinearSVM(C=0.3).fit(X, y)
    lbfgs = LinearSVM(C=0.3, method="lbfgs", max_iter=2000, tol=1e-6).fit(X, y)
    assert lbfgs.objective_ == pytest.approx(newton.objective_, rel=1e-5)


def test_float32_features_give_the_float64_solution(problem):
    X, y = problem
    single = LinearSVM(C=0.3).fit(X.astype(np.float32), y)
    double = LinearSVM(C=0.3).fit(X, y)
    assert single.objective_ == pytest.approx(double.objective_, rel=1e-5)


def test_warm_start_reaches_the_cold_start_solution(problem):
    X, y = problem
    cold = LinearSVM(C=3.0, tol=1e-8).fit(X, y)
    start = LinearSVM(C=0.3).fit(X, y)
    warm = LinearSVM(C=3.0, tol=1e-8).fit(X, y, coef_init=start.coef_, intercept_init=start.intercept_)
    np.testing.assert_allclose(warm.coef_, cold.coef_, atol=1e-5 * np.abs(cold.coef_).max())
    assert warm.n_iter_ <= cold.n_iter_


def _correlated(n=600, d=40, factors=3, seed=0):
    """Features driven by a few strong common factors (as standardized bag-of-words counts are):
    the spectrum of X^T X spreads over orders of magnitude and plain CG needs many products."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, factors)) * (10.0 / np.arange(1, factors + 1))
    X = F @ rng.normal(size=(factors, d)) + rng.normal(size=(n, d)) + 2.0
    y = ((X - X.mean(axis=0)) @ rng.normal(size=(d, 4)) + 3 * rng.normal(size=(n, 4))).argmax(axis=1)
    return X, y


def test_gram_matrix_is_the_extended_features_product():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 7)).astype(np.float32)
    extended = np.hstack([X.astype(np.float64), np.full((50, 1), 2.5)])
    np.testing.assert_allclose(_gram.gram_matrix(X, 2.5), extended.T @ extended, rtol=1e-5)


@pytest.mark.parametrize("multiclass", ["ovr", "weston_watkins"])
def test_gram_preconditioner_reaches_the_same_optimum_in_fewer_hessian_products(monkeypatch, multiclass):
    X, y = _correlated()
    products = []
    original = _newton._hessian_product
    monkeypatch.setattr(_newton, "_hessian_product", lambda *a: (products.append(1), original(*a))[1])
    fits = {}
    for precondition in ("none", "gram"):
        products.clear()
        fits[precondition] = (LinearSVM(C=10.0, tol=1e-8, multiclass=multiclass, precondition=precondition)
                              .fit(X, y), len(products))
    (plain, plain_products), (gram, gram_products) = fits["none"], fits["gram"]
    assert plain.converged_ and gram.converged_
    assert gram.objective_ == pytest.approx(plain.objective_, rel=1e-5)
    assert np.mean(gram.predict(X) == plain.predict(X)) >= 0.99
    if multiclass == "ovr":  # (the coupled Weston-Watkins Hessian gains less: 3,697 against 4,578 here)
        assert gram_products < plain_products / 2


def test_auto_preconditions_when_rows_outnumber_features_and_d_is_moderate():
    svm = LinearSVM()
    assert svm.uses_gram(np.zeros((100, 50)))
    assert not svm.uses_gram(np.zeros((60, 50)))  # n < 2 d: the n d^2 product does not pay
    assert not LinearSVM(precondition="none").uses_gram(np.zeros((100, 50)))
    assert LinearSVM(precondition="gram").uses_gram(np.zeros((60, 50)))
    assert not LinearSVM(method="lbfgs").uses_gram(np.zeros((100, 50)))


def test_a_gram_matrix_of_another_shape_is_an_input_error(problem):
    X, y = problem
    with pytest.raises(InputError, match=r"Gram matrix given is \(5, 5\)"):
        LinearSVM(precondition="gram").fit(X, y, gram=np.eye(5))


def test_model_round_trip(tmp_path, problem):
    X, y = problem
    labels = np.array(["cat", "dog", "emu", "fox"])[y]
    model = LinearSVM(C=0.3, multiclass="weston_watkins").fit(X, labels)
    model_io.save(model, tmp_path)
    loaded = model_io.load(tmp_path)
    assert isinstance(loaded, LinearSVM) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
    assert loaded.objective_ == model.objective_


def test_one_class_is_an_input_error(problem):
    X, _ = problem
    with pytest.raises(InputError, match=r"at least two classes.*only class 7 in 400 samples"):
        LinearSVM().fit(X, np.full(len(X), 7))


def test_nan_features_are_an_input_error_with_the_count(problem):
    X, y = problem
    X = X.copy()
    X[3, 1] = np.nan
    X[5, 2] = np.inf
    X[5, 3] = -np.inf
    with pytest.raises(InputError, match=r"3 NaN or infinite value\(s\) in 2 of 400 samples"):
        LinearSVM().fit(X, y)


@pytest.mark.parametrize("setting, message", [
    ({"C": 0.0}, r"C=0.0 must be a finite number > 0"),
    ({"C": float("nan")}, r"C=nan must be a finite number"),
    ({"loss": "log"}, r"loss='log' is not allowed; choose one of 'squared_hinge', 'hinge'"),
    ({"multiclass": "crammer"}, r"multiclass='crammer'"),
    ({"method": "lbfgs", "loss": "hinge"}, r"method='lbfgs' needs a differentiable loss"),
])
def test_bad_settings_are_input_errors(problem, setting, message):
    X, y = problem
    with pytest.raises(InputError, match=message):
        LinearSVM(**setting).fit(X, y)


def test_wrong_feature_count_at_predict(problem):
    X, y = problem
    model = LinearSVM().fit(X, y)
    with pytest.raises(InputError, match="X has 11 features, the SVM was trained on 12"):
        model.predict(X[:, :11])


@pytest.mark.parametrize("multiclass", ["ovr", "weston_watkins"])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_fused_curvature_product_equals_the_two_whole_matrix_products(multiclass, n_threads):
    rng = np.random.default_rng(3)
    n = 2 * _newton.BLOCK_ROWS + 37  # several blocks, the last one short
    X = rng.normal(size=(n, 9)).astype(np.float32)
    labels = rng.integers(0, 4, size=n)
    p = _newton.Problem(X=X, labels=labels, n_classes=4, C=0.5, multiclass=multiclass, bias_scale=1.5,
                        n_threads=n_threads)
    V = rng.normal(size=(10, 4))
    d2l = rng.random((n, 4)) * (rng.random((n, 4)) > 0.3)
    direct = p.back(p.to_scores(p.to_margins(p.scores(V)) * d2l))
    np.testing.assert_allclose(p.curvature_product(V, d2l), direct, rtol=1e-5, atol=1e-4)
