"""The numerics of featpipe's linear SVM: losses on margins, and a truncated Newton method.

Every class is trained at once: the weights are a (d + 1, K) matrix (the last row is the bias,
regularized like a weight, as liblinear does with its constant feature), and each step costs a
few products of the (n, d) feature matrix with a (d, K) block, so the work is BLAS GEMMs on all
cores instead of K separate single-threaded solves.

The method is the finite Newton method for the squared hinge (Keerthi and DeCoste, JMLR 2005;
liblinear's TRON uses the same generalized Hessian): conjugate gradients on
``(I + C X^T D X) p = -g`` with D the curvature of the loss at the current margins, then an exact
line search along p, which needs no new product with X because ``X (w + t p) = z + t X p``.
With one-vs-rest the K problems are independent: CG and the line search run per class.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..nn.parallel import single_threaded_blas, worker_pool

#: Rows per block of the fused Hessian product: 256 rows of 6,400 float32 features are 6.5 MB,
#: read once and reused from cache (on 20,000 Coates rows 256 beat 64 and 1,024).
BLOCK_ROWS = 256


@dataclass
class Problem:
    """A training set and the objective ``1/2 |W|^2 + C sum_i loss_i`` over it."""

    X: np.ndarray            # (n, d), float32 or float64: the products run in this dtype
    labels: np.ndarray       # (n,) class indices 0..K-1
    n_classes: int           # columns of W (1 for a binary one-vs-rest problem)
    C: float
    multiclass: str          # "ovr" or "weston_watkins"
    smoothing: float = 0.0   # 0: squared hinge; > 0: the hinge, Huber-smoothed over this width
    bias_scale: float = 1.0  # the constant feature's value (liblinear's intercept_scaling); 0: no bias
    n_threads: int = 1       # threads of the fused Hessian product (see `curvature_product`)

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.multiclass == "ovr":
            if self.n_classes == 1:
                self.signs = np.where(self.labels == 1, 1.0, -1.0)[:, None]
            else:
                self.signs = -np.ones((n, self.n_classes))
                self.signs[np.arange(n), self.labels] = 1.0
        else:
            self.own = np.zeros((n, self.n_classes), dtype=bool)
            self.own[np.arange(n), self.labels] = True

    # --- products with the feature matrix extended by the bias column ------------------------

    def scores(self, W: np.ndarray) -> np.ndarray:
        """X_ext W as float64 (n, K)."""
        Z = (self.X @ W[:-1].astype(self.X.dtype)).astype(np.float64)
        if self.bias_scale:
            Z += self.bias_scale * W[-1]
        return Z

    def back(self, R: np.ndarray) -> np.ndarray:
        """X_ext^T R as float64 (d + 1, K)."""
        out = np.empty((self.X.shape[1] + 1, R.shape[1]))
        out[:-1] = self.X.T @ R.astype(self.X.dtype)
        out[-1] = self.bias_scale * R.sum(axis=0)
        return out

    # --- margins u (loss is a function of u >= 0 violations) and their derivatives ----------

    def margins(self, Z: np.ndarray) -> np.ndarray:
        """u = 1 - (signed score); the loss is sum of l(u) over the entries that count."""
        if self.multiclass == "ovr":
            return 1.0 - self.signs * Z
        own = Z[np.arange(len(Z)), self.labels][:, None]
        U = 1.0 - own + Z
        U[self.own] = -np.inf  # a class is not its own rival
        return U

    def to_scores(self, dU: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """Pull a gradient with respect to u back to one with respect to the scores Z (of `rows`)."""
        if self.multiclass == "ovr":
            return -self.signs[rows] * dU
        dZ = dU.copy()
        dZ[self.own[rows]] = 0.0
        dZ[np.arange(len(dZ)), self.labels[rows]] = -dZ.sum(axis=1)
        return dZ

    def to_margins(self, Q: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """The change of u caused by a change Q of the scores (of `rows`; linear part of `margins`)."""
        if self.multiclass == "ovr":
            return -self.signs[rows] * Q
        own = Q[np.arange(len(Q)), self.labels[rows]][:, None]
        dU = Q - own
        dU[self.own[rows]] = 0.0
        return dU

    def curvature_product(self, V: np.ndarray, d2l: np.ndarray) -> np.ndarray:
        """``X_ext^T J^T D J X_ext V`` (d + 1, K), a block of rows at a time.

        Each block of X serves both of its products while it is in cache, so X is read from
        memory once per product instead of twice; on 20,000 x 6,400 float32 Coates rows, one
        thread, the pair took 0.17 s fused against 0.35 s as two whole-matrix products. The
        blocks are shared out in `n_threads` contiguous bands, each on a one-thread BLAS.
        """
        n = len(self.labels)
        if n == 0:  # no row has curvature: the loss is flat here
            return np.zeros(V.shape)
        step = -(-n // (max(self.n_threads, 1) * BLOCK_ROWS)) * BLOCK_ROWS
        bands = [(start, min(start + step, n)) for start in range(0, n, step)]
        if len(bands) == 1:
            return self._curvature_band(V, d2l, *bands[0])
        pool = worker_pool(len(bands) - 1)
        with single_threaded_blas():
            futures = [pool.submit(self._curvature_band, V, d2l, *band) for band in bands[1:]]
            total = self._curvature_band(V, d2l, *bands[0])
            for future in futures:
                total += future.result()
        return total

    def _curvature_band(self, V: np.ndarray, d2l: np.ndarray, start: int, stop: int) -> np.ndarray:
        weights = V[:-1].astype(self.X.dtype)
        total = np.zeros((V.shape[0], V.shape[1]))
        for first in range(start, stop, BLOCK_ROWS):
            rows = slice(first, min(first + BLOCK_ROWS, stop))
            block = self.X[rows]
            Z = (block @ weights).astype(np.float64)
            if self.bias_scale:
                Z += self.bias_scale * V[-1]
            R = self.to_scores(self.to_margins(Z, rows) * d2l[rows], rows)
            total[:-1] += block.T @ R.astype(self.X.dtype)
            total[-1] += self.bias_scale * R.sum(axis=0)
        return total

    def loss(self, U: np.ndarray):
        """Elementwise loss l(u), l'(u) and l''(u) (the generalized second derivative)."""
        mu = self.smoothing
        if mu == 0.0:
            active = np.maximum(U, 0.0)
            return active * active, 2.0 * active, 2.0 * (U > 0)
        slope = np.clip(U / mu, 0.0, 1.0)
        value = np.where(U >= mu, U - 0.5 * mu, 0.5 * mu * slope * slope)
        return value, slope, ((U > 0) & (U < mu)) / mu

    # --- objective and its pieces -----------------------------------------------------------

    def reduce(self, A: np.ndarray) -> np.ndarray:
        """Sum over samples per independent problem: (K,) for one-vs-rest, (1,) when coupled."""
        sums = A.sum(axis=0)
        return sums if self.multiclass == "ovr" else np.array([sums.sum()])

    def objective(self, W: np.ndarray, Z: np.ndarray | None = None) -> np.ndarray:
        """``1/2 |w|^2 + C sum loss`` per independent problem."""
        U = _masked(self.margins(self.scores(W) if Z is None else Z))
        value = self.loss(U)[0]
        return 0.5 * self.reduce(W * W) + self.C * self.reduce(value)


def _masked(U: np.ndarray):
    """Margins with the never-counting entries (-inf) replaced by a harmless -1."""
    return np.where(np.isneginf(U), -1.0, U)


def newton(problem: Problem, W: np.ndarray, tol: float, max_iter: int, max_cg: int = 200,
           preconditioner=None):
    """Minimize the problem's objective from `W` (d + 1, K); returns (W, iterations, converged).

    Stops when every problem's gradient norm is at most `tol` times its norm at W = 0.
    `preconditioner` (optional, see `featpipe.svm._gram`) has ``update(curvature)`` and maps a
    (d + 1, K) residual to its preconditioned direction.
    """
    W = np.array(W, dtype=np.float64)
    g0 = np.sqrt(problem.reduce(_gradient_at_zero(problem) ** 2))
    Z = problem.scores(W)
    for iteration in range(1, max_iter + 1):
        U = _masked(problem.margins(Z))
        _, dl, d2l = problem.loss(U)
        G = W + problem.C * problem.back(problem.to_scores(dl))
        gnorm = np.sqrt(problem.reduce(G * G))
        todo = gnorm > tol * np.maximum(g0, 1e-300)
        if not todo.any():
            return W, iteration - 1, True
        if preconditioner is not None:
            preconditioner.update(d2l)
        curved, curvature = _curved_rows(problem, d2l)
        P = _conjugate_gradient(curved, G, curvature, todo, max_cg, preconditioner)
        Q = problem.scores(P)  # scores are linear in W: X_ext (W + t P) = Z + t Q
        t = _line_search(problem, W, Z, P, Q)
        W += P * _expand(problem, t)
        Z += Q * _expand(problem, t)
        if iteration % 10 == 0:
            Z = problem.scores(W)  # refresh: the running update accumulates rounding
    return W, max_iter, False


def _curved_rows(problem: Problem, d2l: np.ndarray, most: float = 0.7):
    """The problem restricted to the samples with curvature in some class, when they are few.

    Rows whose loss is flat in every class (all margins satisfied) add nothing to the Hessian;
    copying the others once per Newton step makes every CG product cheaper when they are
    under `most` of the rows (the squared hinge near its optimum; the narrow band of the
    smoothed hinge).
    """
    rows = np.flatnonzero(d2l.any(axis=1))
    if len(rows) > most * len(d2l):
        return problem, d2l
    return replace(problem, X=problem.X[rows], labels=problem.labels[rows]), d2l[rows]


def _expand(problem: Problem, values: np.ndarray) -> np.ndarray:
    """Per-problem scalars as a row that multiplies the K columns."""
    return values if problem.multiclass == "ovr" else np.full(problem.n_classes, values[0])


def _gradient_at_zero(problem: Problem) -> np.ndarray:
    n = len(problem.labels)
    U = _masked(problem.margins(np.zeros((n, problem.n_classes))))
    return problem.C * problem.back(problem.to_scores(problem.loss(U)[1]))


def _hessian_product(problem: Problem, V: np.ndarray, d2l: np.ndarray) -> np.ndarray:
    """(I + C X_ext^T J^T D J X_ext) V, J the map from scores to margins."""
    return V + problem.C * problem.curvature_product(V, d2l)


def _conjugate_gradient(problem: Problem, G: np.ndarray, d2l: np.ndarray, todo: np.ndarray, max_cg: int,
                        preconditioner=None, eta: float = 0.1) -> np.ndarray:
    """An approximate Newton step: (preconditioned) CG on H p = -g until |r| <= eta |g|, per problem.

    (A diagonal preconditioner, as in liblinear >= 2.1, was tried on the HOG + colour features:
    it did not reduce the number of Hessian products, and costs a pass over X squared.)
    """
    cols = _expand(problem, todo.astype(float)) > 0
    P = np.zeros_like(G)
    R = np.where(cols, -G, 0.0)
    Z = R if preconditioner is None else preconditioner(R)
    D = Z.copy()
    rz = problem.reduce(R * Z)
    goal = eta * eta * problem.reduce(G * G)
    rr = problem.reduce(R * R)
    for _ in range(max_cg):
        going = (rr > goal) & todo
        if not going.any():
            break
        HD = _hessian_product(problem, D, d2l)
        curvature = problem.reduce(D * HD)
        alpha = np.where(going, rz / np.where(going, curvature, 1.0), 0.0)
        P += D * _expand(problem, alpha)
        R -= HD * _expand(problem, alpha)
        Z = R if preconditioner is None else preconditioner(R)
        rz_new = problem.reduce(R * Z)
        beta = np.where(going, rz_new / np.where(rz > 0, rz, 1.0), 0.0)
        D = np.where(_expand(problem, going.astype(float)) > 0, Z + D * _expand(problem, beta), 0.0)
        rz = np.where(going, rz_new, rz)
        rr = np.where(going, problem.reduce(R * R), rr)
    return P


def _line_search(problem: Problem, W, Z, P, Q, max_steps: int = 30) -> np.ndarray:
    """The exact minimizer t >= 0 of the objective along P, per problem (1-D safeguarded Newton)."""
    U0 = _masked(problem.margins(Z))
    dU = problem.to_margins(Q)
    wp, pp = problem.reduce(W * P), problem.reduce(P * P)
    t = np.ones_like(pp)
    lo, hi = np.zeros_like(pp), np.full_like(pp, np.inf)
    for _ in range(max_steps):
        _, dl, d2l = problem.loss(U0 + dU * _expand(problem, t))
        slope = wp + t * pp + problem.C * problem.reduce(dl * dU)
        curve = pp + problem.C * problem.reduce(d2l * dU * dU)
        lo = np.where(slope < 0, t, lo)
        hi = np.where(slope > 0, t, hi)
        step = t - slope / np.maximum(curve, 1e-300)
        inside = (step > lo) & (step < hi)
        new = np.where(inside, step, np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * t))
        if np.all(np.abs(new - t) <= 1e-10 * np.maximum(t, 1e-10)):
            t = new
            break
        t = new
    return np.maximum(t, 0.0)
