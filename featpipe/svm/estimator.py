"""`LinearSVM`: a multiclass linear SVM for dense features, every class trained at once with BLAS."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field
from scipy import optimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ..errors import InputError
from ..nn.parallel import usable_cores
from ..settings import Float, Int, Section, choice, validate_settings
from . import _gram, _newton
from .checks import check_features, check_labels


LOSSES = ("squared_hinge", "hinge")
MULTICLASS = ("ovr", "weston_watkins")
METHODS = ("newton", "lbfgs")
PRECONDITIONERS = ("auto", "gram", "none")

#: precondition="auto" uses the Gram preconditioner when there are at least this many rows per
#: feature (it pays for its n d^2 product when the CG would otherwise pass over X many times) ...
GRAM_MIN_ROWS_PER_FEATURE = 2
#: ... and at most this many features: its two float64 (d + 1)^2 matrices are 6.4 GB at 20,000.
GRAM_MAX_FEATURES = 20_000

#: Below this many feature values, fit with one BLAS thread: on the shared 2-core machine a
#: (1797, 64) x (64, 10) product pair took 40 ms with two threads and 1.7 ms with one (thread
#: hand-offs dominate tiny products), while on (45000, 2276) the two were level.
ONE_THREAD_BELOW = 1_000_000


class LinearSVMSettings(Section):
    """LinearSVM's settings: one declaration of each default, range and choice."""

    C: Float = Field(1.0, gt=0, description="weight of the summed loss against 1/2 |W|^2 (liblinear's C)")
    loss: choice(LOSSES) = "squared_hinge"  # type: ignore[valid-type]
    multiclass: choice(MULTICLASS) = "ovr"  # type: ignore[valid-type]
    method: choice(METHODS) = "newton"  # type: ignore[valid-type]
    tol: Float = Field(1e-4, gt=0, description="stop when |gradient| <= tol * |gradient at W = 0|, per class")
    max_iter: Int = Field(200, ge=1, description="Newton (or L-BFGS) iterations at most")
    precondition: choice(PRECONDITIONERS) = Field(  # type: ignore[valid-type]
        "auto", description="newton's CG: gram (Cholesky of I + C s X^T X, see featpipe.svm._gram), none, or "
        f"auto (gram when n >= {GRAM_MIN_ROWS_PER_FEATURE} d and d <= {GRAM_MAX_FEATURES:,})")
    smoothing: Float = Field(1e-3, gt=0, lt=1, description="hinge: final Huber width of the smoothed hinge")
    intercept_scaling: Float = Field(1.0, ge=0, description="value of the constant feature that carries the bias (0: no bias)")


class LinearSVM(ClassifierMixin, BaseEstimator):
    """Linear SVM: minimizes ``1/2 |W|^2 + C * sum_i loss_i``, the objective LinearSVC minimizes.

    W holds one weight vector per class plus the bias; as in liblinear (LinearSVC's default
    `intercept_scaling=1`), the bias is the weight of a constant feature of value
    `intercept_scaling`, so it is regularized with the weights and the objective values of the
    two are directly comparable.

    Parameters
    ----------
    C : float > 0
    loss : {"squared_hinge", "hinge"}
        squared_hinge (the L2-SVM of Coates et al.): ``max(0, 1 - m)^2``. hinge: ``max(0, 1 - m)``,
        minimized through Huber-smoothed hinges of decreasing width down to `smoothing`; the
        hinge objective of the result exceeds the optimum by at most ``C * smoothing / 2`` per
        sample whose margin ends inside the smoothing band.
    multiclass : {"ovr", "weston_watkins"}
        ovr: one binary problem per class (as LinearSVC), ``m = y_k z_k``. weston_watkins: one
        coupled problem, a loss term for every rival class j of sample i, ``m = z_y - z_j``.
    method : {"newton", "lbfgs"}
        newton: truncated Newton (CG on the generalized Hessian, exact line search);
        lbfgs: scipy's L-BFGS-B on the same objective (squared hinge only; kept for comparison).
    tol, max_iter : stopping rule (see LinearSVMSettings).
    precondition : {"auto", "gram", "none"}
        The Newton CG's preconditioner; gram cuts the passes over X about sevenfold on
        standardized Coates features (see `featpipe.svm._gram`). It changes the path, not the optimum.
    intercept_scaling : float >= 0

    Learned attributes: `classes_`, `coef_` (K, d) float64 (K = 1 for two classes with ovr),
    `intercept_` (K,), `n_iter_`, `converged_`, `objective_` (the objective at the solution).
    """

    Settings = LinearSVMSettings

    def __init__(self, *, C: float = 1.0, loss: str = "squared_hinge", multiclass: str = "ovr",
                 method: str = "newton", tol: float = 1e-4, max_iter: int = 200, smoothing: float = 1e-3,
                 intercept_scaling: float = 1.0, precondition: str = "auto") -> None:
        self.C = C
        self.loss = loss
        self.multiclass = multiclass
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.smoothing = smoothing
        self.intercept_scaling = intercept_scaling
        self.precondition = precondition

    def uses_gram(self, X: np.ndarray) -> bool:
        """Whether fitting on `X` (n, d) builds the Gram preconditioner (so a C search can share it)."""
        if self.method != "newton" or self.precondition == "none":
            return False
        n, d = X.shape
        return self.precondition == "gram" or (n >= GRAM_MIN_ROWS_PER_FEATURE * d and d <= GRAM_MAX_FEATURES)

    def gram(self, X: Any) -> np.ndarray:
        """The (d + 1, d + 1) Gram matrix `fit` would build for `X`: pass it to every fit on the same X."""
        X = check_features(X)
        with _blas_threads(X):
            return _gram.gram_matrix(X, self.intercept_scaling)

    def fit(self, X: Any, y: Any, coef_init: np.ndarray | None = None,
            intercept_init: np.ndarray | None = None, gram: np.ndarray | None = None) -> "LinearSVM":
        """Train on features `X` (n, d) and labels `y`; start from `coef_init`/`intercept_init` if given.

        `gram`: `self.gram(X)` computed once and shared by the fits of a C search (else built here
        when the preconditioner is used).
        """
        settings = validate_settings(LinearSVMSettings, self.get_params(), "LinearSVM")
        if settings.method == "lbfgs" and settings.loss != "squared_hinge":
            raise InputError("LinearSVM: method='lbfgs' needs a differentiable loss; use loss='squared_hinge'")
        X = check_features(X)
        classes, labels = check_labels(y, len(X))
        K = 1 if len(classes) == 2 and settings.multiclass == "ovr" else len(classes)
        W = np.zeros((X.shape[1] + 1, K))
        if coef_init is not None:
            W[:-1] = np.asarray(coef_init, dtype=np.float64).reshape(K, X.shape[1]).T
            if intercept_init is not None and settings.intercept_scaling:
                W[-1] = np.asarray(intercept_init, dtype=np.float64).reshape(K) / settings.intercept_scaling
        small = X.size < ONE_THREAD_BELOW
        problem = _newton.Problem(X=X, labels=labels, n_classes=K, C=settings.C, multiclass=settings.multiclass,
                                  bias_scale=settings.intercept_scaling, n_threads=1 if small else usable_cores())
        with _blas_threads(X):
            preconditioner = None
            if self.uses_gram(X):
                if gram is None:
                    gram = _gram.gram_matrix(X, settings.intercept_scaling)
                elif gram.shape != (X.shape[1] + 1,) * 2:
                    raise InputError(f"LinearSVM: the Gram matrix given is {gram.shape}, "
                                     f"X with {X.shape[1]} features needs {(X.shape[1] + 1,) * 2}")
                preconditioner = _gram.GramPreconditioner(gram, settings.C)
            if settings.method == "lbfgs":
                W, iterations, converged = _lbfgs(problem, W, settings.tol, settings.max_iter)
            elif settings.loss == "squared_hinge":
                W, iterations, converged = _newton.newton(problem, W, settings.tol, settings.max_iter,
                                                          preconditioner=preconditioner)
            else:
                W, iterations, converged = _smoothed_hinge(problem, W, settings, preconditioner)
            self.classes_ = classes
            self.coef_ = np.ascontiguousarray(W[:-1].T)
            self.intercept_ = W[-1] * settings.intercept_scaling
            self.n_iter_ = int(iterations)
            self.converged_ = bool(converged)
            # inside the thread limit too: a product's rounding depends on the thread count, and
            # the same run must save the same model whichever process runs it
            self.objective_ = float(self.objective(X, y))
        return self

    def objective(self, X: Any, y: Any) -> float:
        """The objective this SVM minimizes (for its own loss), at its current weights, on (X, y)."""
        check_is_fitted(self, "coef_")
        X = check_features(X)
        _, labels = check_labels(y, len(X), classes=self.classes_)
        W = np.vstack([self.coef_.T, self.intercept_ / self.intercept_scaling if self.intercept_scaling
                       else np.zeros(len(self.coef_))])
        problem = _newton.Problem(X=X, labels=labels, n_classes=len(self.coef_), C=self.C,
                                  multiclass=self.multiclass, bias_scale=self.intercept_scaling)
        if self.loss == "hinge":
            return float(_hinge_objective(problem, W))
        return float(problem.objective(W).sum())

    def decision_function(self, X: Any) -> np.ndarray:
        """Class scores (n, K); (n,) for two classes, positive for `classes_[1]`."""
        check_is_fitted(self, "coef_")
        X = check_features(X)
        if X.shape[1] != self.coef_.shape[1]:
            raise InputError(f"LinearSVM: X has {X.shape[1]} features, the SVM was trained on {self.coef_.shape[1]}")
        scores = (X @ self.coef_.T.astype(X.dtype)).astype(np.float64) + self.intercept_
        if len(self.classes_) == 2:
            return scores[:, 0] if scores.shape[1] == 1 else scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X: Any) -> np.ndarray:
        """The class of highest score for each row of `X`."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]


def _blas_threads(X: np.ndarray):
    """The BLAS thread limit for products with `X`: one thread below ONE_THREAD_BELOW values."""
    return threadpool_limits(1 if X.size < ONE_THREAD_BELOW else None, user_api="blas")


def _hinge_objective(problem: _newton.Problem, W: np.ndarray) -> np.ndarray:
    U = _newton._masked(problem.margins(problem.scores(W)))
    return (0.5 * problem.reduce(W * W) + problem.C * problem.reduce(np.maximum(U, 0.0))).sum()


def _smoothed_hinge(problem: _newton.Problem, W: np.ndarray, settings: LinearSVMSettings, preconditioner=None):
    """Continuation on the Huber width: each smoothed problem warm-starts the next, narrower one."""
    widths = [1.0]
    while widths[-1] > settings.smoothing * 1.0001:
        widths.append(max(widths[-1] * 0.1, settings.smoothing))
    total = 0
    converged = False
    for width in widths:
        problem.smoothing = width
        if preconditioner is not None:
            preconditioner.reset()  # a narrower Huber band has another curvature
        W, iterations, converged = _newton.newton(problem, W, settings.tol, settings.max_iter,
                                                  preconditioner=preconditioner)
        total += iterations
    return W, total, converged


def _lbfgs(problem: _newton.Problem, W: np.ndarray, tol: float, max_iter: int):
    """scipy's L-BFGS-B on the squared-hinge objective (all classes as one flat vector)."""
    shape = W.shape
    g0 = np.linalg.norm(_newton._gradient_at_zero(problem))

    def value_and_gradient(flat):
        W = flat.reshape(shape)
        U = _newton._masked(problem.margins(problem.scores(W)))
        value, dl, _ = problem.loss(U)
        G = W + problem.C * problem.back(problem.to_scores(dl))
        return 0.5 * float((W * W).sum()) + problem.C * float(value.sum()), G.ravel()

    result = optimize.minimize(value_and_gradient, W.ravel(), jac=True, method="L-BFGS-B",
                               options={"maxiter": max_iter, "gtol": tol * g0, "ftol": 0.0,
                                        "maxfun": 2 * max_iter})
    W = result.x.reshape(shape)
    _, G = value_and_gradient(result.x)
    return W, result.nit, bool(np.linalg.norm(G) <= tol * g0)
