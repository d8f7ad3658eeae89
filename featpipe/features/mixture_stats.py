"""Soft and hard assignments of descriptors to mixture components, and their moments per region.

Fisher vectors and VLAD are both functions of three sums over the descriptors x_t of an image
region: the assignment mass S0_k = sum_t g_tk, the first moment S1_k = sum_t g_tk x_t and (for
Fisher vectors) the second moment S2_k = sum_t g_tk x_t^2, with g the GMM posteriors (Fisher)
or a one-hot nearest-mean assignment (VLAD). Everything here works on a chunk of images at once
and spends its time in matrix products:

* posteriors: one product [mu / sigma^2, -1/(2 sigma^2)] @ [x; x^2] gives every log-likelihood;
* moments: descriptors are sorted by pyramid cell (the common refinement of all pyramid
  levels), and each cell's sums for all images are one batched product g @ [x; x^2]^T;
  a region's moments are then the sum of its cells' moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    return _soft_assign(stack_powers(x, x.shape[1]), weights, means, variances)


def stack_powers(x: np.ndarray, dims: int) -> np.ndarray:
    """[x; x^2] (2D, M) float32 for M descriptors given row-major (M, D), filled in one buffer.

    Feature-major, because both products then run on contiguous operands: the log-likelihoods
    C @ [x; x^2] (K, M), whose softmax reduces over K long rows, and each image's moments
    g_i (K, T) @ [x; x^2]_i^T, a strided view BLAS reads directly.
    """
    stacked = np.empty((2 * dims, len(x)), dtype=np.float32)
    stacked[:dims] = x.T
    np.multiply(stacked[:dims], stacked[:dims], out=stacked[dims:])
    return stacked


def _soft_assign(stacked: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """GMM posteriors (K, M) float32 from [x; x^2] (2D, M)."""
    coefficients, offsets = _log_likelihood_terms(weights, means, variances)
    log_like = coefficients @ stacked
    log_like += offsets[:, None]
    log_like -= log_like.max(axis=0)
    np.exp(log_like, out=log_like)
    log_like /= log_like.sum(axis=0)
    return log_like


def _log_likelihood_terms(weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2D) float32 coefficients C and (K,) offsets o with log(w_k N(x; mu_k, var_k)) = C @ [x; x^2] + o."""
    precision = 1.0 / np.asarray(variances, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    coefficients = np.concatenate([means * precision, -0.5 * precision], axis=1)
    offsets = (np.log(np.asarray(weights, dtype=np.float64))
               - 0.5 * (np.sum(means * means * precision, axis=1) + np.sum(np.log(2 * np.pi / precision), axis=1)))
    return coefficients.astype(np.float32), offsets.astype(np.float32)


def nearest_means(x: np.ndarray, means: np.ndarray) -> np.ndarray:
    """One-hot float32 (K, M) assignment of each descriptor of x (M, D) to its nearest mean (first on ties)."""
    return _hard_assign(np.ascontiguousarray(np.asarray(x, dtype=np.float32).T), means)


def _hard_assign(x_t: np.ndarray, means: np.ndarray) -> np.ndarray:
    means = np.asarray(means, dtype=np.float32)
    # argmin |x - mu|^2 = argmax (mu . x - |mu|^2 / 2)
    scores = means @ x_t
    scores -= 0.5 * np.einsum("kd,kd->k", means, means)[:, None]
    nearest = scores.argmax(axis=0)
    onehot = np.zeros(scores.shape, dtype=np.float32)
    onehot[nearest, np.arange(scores.shape[1])] = 1.0
    return onehot


def mixture_moments(stacked: np.ndarray, n_images: int, pyramid: "Pyramid", weights: np.ndarray | None,
                    means: np.ndarray, variances: np.ndarray | None, soft: bool = True) -> tuple[np.ndarray, ...]:
    """Assign a chunk's descriptors to the mixture and sum their moments per pyramid region.

    Parameters
    ----------
    stacked : float32 ndarray, feature-major descriptors of n_images images (each image's T
        descriptors in `pyramid.order`): [x; x^2] (2D, n_images * T) from `stack_powers` when
        `soft`, else x (D, n_images * T).
    soft : GMM posteriors (Fisher vectors; needs weights and variances) or one-hot nearest
        means (VLAD).

    Returns
    -------
    S0 (N, R, K), S1 (N, R, K, D) and, if `soft`, S2 (N, R, K, D), float32.
    """
    if soft:
        assign = _soft_assign(stacked, weights, means, variances)
    else:
        assign = _hard_assign(stacked, means)
    n_components, n_columns = assign.shape
    per_image = n_columns // n_images
    assign = assign.reshape(n_components, n_images, per_image).transpose(1, 0, 2)
    values = stacked.reshape(len(stacked), n_images, per_image).transpose(1, 2, 0)
    return region_moments(assign, values, pyramid, second=soft)


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


def region_moments(assign: np.ndarray, values: np.ndarray, pyramid: Pyramid, second: bool = True) -> tuple[np.ndarray, ...]:
    """Moments of each pyramid region of each image.

    Parameters
    ----------
    assign : float32 ndarray (N, K, T), posteriors or one-hot assignments.
    values : float32 ndarray (N, T, D) descriptors, or (N, T, 2D) [x, x^2] when `second`
        (any strides, e.g. views of `stack_powers` output).
    Both with the descriptors already sorted by `pyramid.order`.
    pyramid : from `pyramid_regions` for these T descriptor positions.
    second : values hold [x, x^2]: also return the second moments.

    Returns
    -------
    S0 (N, R, K), S1 (N, R, K, D) and, if `second`, S2 (N, R, K, D), float32.
    """
    n_images, n_components, _ = assign.shape
    n_cells = len(pyramid.cell_bounds) - 1
    mass = np.empty((n_images, n_cells, n_components), dtype=np.float32)
    sums = np.empty((n_images, n_cells, n_components, values.shape[2]), dtype=np.float32)
    for cell in range(n_cells):
        start, stop = pyramid.cell_bounds[cell], pyramid.cell_bounds[cell + 1]
        part = assign[:, :, start:stop]
        mass[:, cell] = part.sum(axis=2)
        np.matmul(part, values[:, start:stop], out=sums[:, cell])
    # regions are sums of their cells: one more product over the cell axis
    mass = np.matmul(pyramid.regions, mass)
    sums = np.matmul(pyramid.regions, sums.reshape(n_images, n_cells, -1)).reshape(n_images, -1, *sums.shape[2:])
    if second:
        dims = values.shape[2] // 2
        return mass, sums[..., :dims], sums[..., dims:]
    return mass, sums
