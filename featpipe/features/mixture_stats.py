"""Soft and hard assignments of descriptors to mixture components, and their moments per region.

Fisher vectors and VLAD are both functions of three sums over the descriptors x_t of an image
region: the assignment mass S0_k = sum_t g_tk, the first moment S1_k = sum_t g_tk x_t and (for
Fisher vectors) the second moment S2_k = sum_t g_tk x_t^2, with g the GMM posteriors (Fisher)
or a one-hot nearest-mean assignment (VLAD). Everything here works on a chunk of images at once
and spends its time in two matrix products on one feature-major buffer Y = [x; x^2; 1]
(2D+1 rows, or [x; 1] for VLAD, one column per descriptor):

* assignments: W @ Y with W = [mu / sigma^2, -1/(2 sigma^2), log-weight terms] gives every
  log-likelihood, offsets included (the row of ones); a softmax over components follows;
* moments: descriptors are sorted by pyramid cell (the common refinement of all pyramid
  levels), and each cell's moments for all images are one batched product Y_i @ g_i^T, whose
  last row (the ones) is S0; a region's moments are then the sum of its cells' moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# exp of anything below this is < 1.2e-38: np.exp is 2-3x slower where its result is a float32
# denormal (inputs in [-103, -87]; 5-10% of the scores of real SIFT and colour descriptors,
# relative to their best component, are below -87), so scores are clipped here; a posterior
# that small is 0 to float32 precision
_LOG_TINY = np.float32(-87.0)


def posteriors(x: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """Posterior probabilities of the components of a diagonal GMM, component-major.

    Parameters
    ----------
    x : float ndarray (M, D)
    weights : (K,) mixture weights; means, variances : (K, D).

    Returns
    -------
    float32 ndarray (K, M): column m holds the posteriors of descriptor m (the transpose of
    GaussianMixture.predict_proba).
    """
    x = np.asarray(x, dtype=np.float32)
    return _soft_assign(stack_powers(x), log_likelihood_matrix(weights, means, variances))


def stacked_buffer(dims: int, n_columns: int, second: bool = True) -> np.ndarray:
    """An empty float32 Y = [x; x^2; 1] ((2D+1, M), or [x; 1] ((D+1, M)) without `second`), ones filled in.

    Feature-major, because every operation on it then runs on long contiguous rows: the
    projection that fills x, the squares, the log-likelihood product W @ Y (K, M) whose softmax
    reduces over K long rows, and each image's moments Y_i (P, T) @ g_i^T, strided views that
    BLAS reads directly.
    """
    stacked = np.empty(((2 if second else 1) * dims + 1, n_columns), dtype=np.float32)
    stacked[-1] = 1.0
    return stacked


def fill_squares(stacked: np.ndarray, dims: int) -> np.ndarray:
    """Write x^2 into rows D:2D of a `stacked_buffer` whose first D rows hold x; returns it."""
    np.multiply(stacked[:dims], stacked[:dims], out=stacked[dims:2 * dims])
    return stacked


def stack_powers(x: np.ndarray, second: bool = True, centre: np.ndarray | None = None) -> np.ndarray:
    """Y = [x; x^2; 1] (2D+1, M) float32 (or [x; 1] without `second`) for M descriptors x given row-major (M, D).

    With `centre` (D,), x - centre is stacked instead (see `mixture_centre`).
    """
    n_columns, dims = x.shape
    stacked = stacked_buffer(dims, n_columns, second)
    # the transpose as plain copies of blocks that stay in L1 (a fused subtract-transpose is 3x slower)
    for start in range(0, n_columns, 256):
        stacked[:dims, start:start + 256] = x[start:start + 256].T
    if centre is not None:
        stacked[:dims] -= np.asarray(centre, np.float32)[:, None]
    return fill_squares(stacked, dims) if second else stacked


def mixture_centre(weights: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The mixture's mean sum_k w_k mu_k, float64 (D,), the origin to encode in.

    Every statistic here depends only on x - mu_k, so descriptors and means may both be shifted
    by one vector. Shifted to the mixture's mean, x^2 and mu^2 stay of the order of the
    variances, and the float32 differences of raw moments (S2 - 2 mu S1 + mu^2 S0) and of the
    log-likelihood terms lose no digits to data that sit far from the origin.
    """
    return np.asarray(weights, dtype=np.float64) @ np.asarray(means, dtype=np.float64)


def log_likelihood_matrix(weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """(K, 2D+1) float32 W with log(w_k N(x; mu_k, var_k)) = (W @ [x; x^2; 1])_k."""
    precision = 1.0 / np.asarray(variances, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    offsets = (np.log(np.asarray(weights, dtype=np.float64))
               - 0.5 * (np.sum(means * means * precision, axis=1) + np.sum(np.log(2 * np.pi / precision), axis=1)))
    return np.concatenate([means * precision, -0.5 * precision, offsets[:, None]], axis=1).astype(np.float32)


def nearest_mean_matrix(means: np.ndarray) -> np.ndarray:
    """(K, D+1) float32 V with argmin_k |x - mu_k|^2 = argmax_k (V @ [x; 1])_k (V = [mu, -|mu|^2 / 2])."""
    means = np.asarray(means, dtype=np.float64)
    return np.concatenate([means, -0.5 * np.sum(means * means, axis=1)[:, None]], axis=1).astype(np.float32)


def _soft_assign(stacked: np.ndarray, log_likelihood: np.ndarray) -> np.ndarray:
    """GMM posteriors (K, M) float32 from Y = [x; x^2; 1] and `log_likelihood_matrix`: one product, a softmax in place.

    Relative to each descriptor's best component, not to a constant: real descriptors sit far
    below the mixture's highest peak (40% of colour descriptors more than 60 nats below it), so
    a constant shift would leave their likelihoods in exp's underflow range.
    """
    scores = log_likelihood @ stacked
    scores -= scores.max(axis=0)
    np.maximum(scores, _LOG_TINY, out=scores)
    np.exp(scores, out=scores)
    total = scores.sum(axis=0)
    scores *= np.reciprocal(total, out=total)
    return scores


def nearest_means(x: np.ndarray, means: np.ndarray) -> np.ndarray:
    """One-hot float32 (K, M) assignment of each descriptor of x (M, D) to its nearest mean (first on ties)."""
    return _hard_assign(stack_powers(np.asarray(x, dtype=np.float32), second=False), nearest_mean_matrix(means))


def _hard_assign(stacked: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """One-hot (K, M) float32 nearest-mean assignment from Y = [x; 1] and `nearest_mean_matrix`."""
    scores = nearest @ stacked
    winner = scores.argmax(axis=0)
    scores.fill(0.0)
    scores[winner, np.arange(scores.shape[1])] = 1.0
    return scores


def mixture_moments(stacked: np.ndarray, n_images: int, pyramid: "Pyramid", weights: np.ndarray | None,
                    means: np.ndarray, variances: np.ndarray | None, soft: bool = True,
                    matrix: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Assign a chunk's descriptors to the mixture and sum their moments per pyramid region.

    Parameters
    ----------
    stacked : float32 ndarray, feature-major descriptors of n_images images (each image's T
        descriptors in `pyramid.order`): Y = [x; x^2; 1] (2D+1, n_images * T) when `soft`, else
        [x; 1] (D+1, n_images * T) (`stack_powers`, or `stacked_buffer` filled in place).
    soft : GMM posteriors (Fisher vectors; needs weights and variances) or one-hot nearest
        means (VLAD).
    matrix : `log_likelihood_matrix` (soft) or `nearest_mean_matrix` of the mixture, when the
        caller encodes many chunks with it.

    Returns
    -------
    S0 (N, R, K), S1 (N, R, D, K) and, if `soft`, S2 (N, R, D, K), float32 (contiguous blocks of
    one array; S1 and S2 dimension-major, the transpose of skimage's (K, D) layout).
    """
    if matrix is None:
        matrix = log_likelihood_matrix(weights, means, variances) if soft else nearest_mean_matrix(means)
    assign = _soft_assign(stacked, matrix) if soft else _hard_assign(stacked, matrix)
    sums = region_moments(assign, stacked, n_images, pyramid)
    dims = np.asarray(means).shape[1]
    if soft:
        return sums[..., -1, :], sums[..., :dims, :], sums[..., dims:2 * dims, :]
    return sums[..., -1, :], sums[..., :dims, :]


@dataclass(frozen=True)
class Pyramid:
    """Which descriptors fall in which region of a spatial pyramid.

    `order` sorts descriptors so that each cell of the common refinement of all levels is a
    contiguous run `cell_bounds[c]:cell_bounds[c+1]`; `regions` (R, n_cells) 0/1 says which cells
    make up each region (levels in the given order, regions row-major within a level); `counts`
    (R,) is the number of descriptors per region.
    """

    order: np.ndarray
    cell_bounds: np.ndarray
    regions: np.ndarray
    counts: np.ndarray

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def n_cells(self) -> int:
        return len(self.cell_bounds) - 1


def whole_image(n_descriptors: int) -> Pyramid:
    """The one-region pyramid (the whole image) over `n_descriptors` descriptors in any order."""
    return Pyramid(np.arange(n_descriptors), np.array([0, n_descriptors]), np.ones((1, 1), np.float32),
                   np.array([n_descriptors], np.float32))


def pyramid_regions(centres: np.ndarray, image_hw: tuple[int, int], levels: list[tuple[int, int]]) -> Pyramid:
    """The pyramid of `levels` (rows, cols) over descriptors centred at `centres` (T, 2) in pixels.

    A descriptor belongs to region (floor(row * rows / H), floor(col * cols / W)) of each level.
    """
    per_level = []
    for rows, cols in levels:
        region_row = np.floor(centres[:, 0] * rows / image_hw[0]).astype(np.int64)
        region_col = np.floor(centres[:, 1] * cols / image_hw[1]).astype(np.int64)
        per_level.append(region_row * cols + region_col)
    labels = np.stack(per_level, axis=1)  # (T, n_levels)
    cells, cell_of = np.unique(labels, axis=0, return_inverse=True)
    cell_of = cell_of.ravel()
    order = np.argsort(cell_of, kind="stable")
    cell_bounds = np.concatenate([[0], np.cumsum(np.bincount(cell_of, minlength=len(cells)))])
    regions = []
    for level, (rows, cols) in enumerate(levels):
        for region in range(rows * cols):
            regions.append(cells[:, level] == region)
    regions = np.array(regions, dtype=np.float32)
    counts = regions @ np.diff(cell_bounds).astype(np.float32)
    return Pyramid(order, cell_bounds, regions, counts)


def region_moments(assign: np.ndarray, stacked: np.ndarray, n_images: int, pyramid: Pyramid) -> np.ndarray:
    """Moments of each pyramid region of each image: sum_t y_t g_tk for every row y of Y.

    Parameters
    ----------
    assign : float32 ndarray (K, n_images * T), posteriors or one-hot assignments.
    stacked : float32 ndarray (P, n_images * T), Y (e.g. [x; x^2; 1]).
    Both with each image's T descriptors sorted by `pyramid.order`.
    pyramid : from `pyramid_regions` for these T descriptor positions.

    Returns
    -------
    float32 ndarray (N, R, P, K), row-major like Y: for Y = [x; x^2; 1], [..., :D, :] is S1
    (transposed, D x K), [..., D:2D, :] S2 and [..., -1, :] S0, each a contiguous block, so the
    Fisher-vector arithmetic on them runs on long rows.
    """
    n_components, n_rows = len(assign), len(stacked)
    per_image = assign.shape[1] // n_images
    # image i's block of columns: Y_i (P, T) and g_i^T (T, K), both strided views BLAS reads directly
    values = stacked.reshape(n_rows, n_images, per_image).transpose(1, 0, 2)
    assign = assign.reshape(n_components, n_images, per_image).transpose(1, 2, 0)
    if pyramid.n_cells == 1 and pyramid.n_regions == 1:
        return np.matmul(values, assign)[:, None]
    cell_sums = np.empty((n_images, pyramid.n_cells, n_rows, n_components), dtype=np.float32)
    for cell in range(pyramid.n_cells):
        start, stop = pyramid.cell_bounds[cell], pyramid.cell_bounds[cell + 1]
        np.matmul(values[:, :, start:stop], assign[:, start:stop], out=cell_sums[:, cell])
    # regions are sums of their cells: one more product over the cell axis
    sums = np.matmul(pyramid.regions, cell_sums.reshape(n_images, pyramid.n_cells, -1))
    return sums.reshape(n_images, pyramid.n_regions, n_rows, n_components)
