"""Fisher vectors of a diagonal GMM (Sanchez, Perronnin, Mensink & Verbeek, IJCV 2013).

For T descriptors x_t, posteriors g_tk and a GMM (w_k, mu_k, sigma_k^2), the gradients of the
average log-likelihood, whitened by the diagonal approximation of the Fisher information
(IJCV 2013, eqs. 16-18), are

    G_alpha_k = (1 / (T sqrt(w_k)))      sum_t (g_tk - w_k)
    G_mu_k    = (1 / (T sqrt(w_k)))      sum_t g_tk (x_t - mu_k) / sigma_k
    G_sigma_k = (1 / (T sqrt(2 w_k)))    sum_t g_tk ((x_t - mu_k)^2 / sigma_k^2 - 1)

computed here from the moments S0, S1, S2 of `featpipe.features.mixture_stats`. The layout and
the sign of the variance block are those of `skimage.feature.fisher_vector` ([alpha, mu, sigma],
each K-major; its variance block is -G_sigma), so the two agree value for value; the sign of a
block is irrelevant to a linear classifier.
The "improved" Fisher vector (Perronnin et al., ECCV 2010) then applies the signed square root and
L2 normalization.
"""

from __future__ import annotations

import numpy as np

from .mixture_stats import log_likelihood_matrix, mixture_centre, mixture_moments, stack_powers, whole_image

_NORM_FLOOR = 1e-12
CHUNK_IMAGES = 16  # images encoded per pass: their [x; x^2; 1] (1.2 MB at T=290, D=32) and posteriors stay near L2


def fisher_dims(n_components: int, dims: int, include_weights: bool) -> int:
    """Length of one Fisher vector: 2 K D, plus K with the weight gradients."""
    return 2 * n_components * dims + (n_components if include_weights else 0)


def fisher_from_moments(mass: np.ndarray, first: np.ndarray, second: np.ndarray, counts: np.ndarray,
                        weights: np.ndarray, means: np.ndarray, variances: np.ndarray,
                        include_weights: bool = True, coefficients: tuple | None = None) -> np.ndarray:
    """Fisher vectors (unnormalized) from region moments.

    Parameters
    ----------
    mass : (N, R, K), first, second : (N, R, D, K), region moments S0, S1, S2 as
        `mixture_moments` returns them (S1 and S2 dimension-major).
    counts : (R,) descriptors per region (the T of each region).
    weights : (K,), means, variances : (K, D), the GMM.
    include_weights : prepend the K weight gradients G_alpha.
    coefficients : `fisher_coefficients(counts, weights, means, variances)`, when the caller
        encodes many chunks with one mixture (it then costs nothing per chunk).

    Returns
    -------
    float32 ndarray (N, R, fisher_dims(K, D, include_weights)), skimage's layout: [alpha, mu,
    sigma], the mu and sigma blocks K-major.
    """
    n_images, n_regions, n_components = mass.shape
    dims = np.asarray(means).shape[1]
    size = n_components * dims
    offset = n_components if include_weights else 0
    out = np.empty((n_images, n_regions, offset + 2 * size), dtype=np.float32)
    if coefficients is None:
        coefficients = fisher_coefficients(counts, weights, means, variances)
    mu_s0, mu_s1, sigma_s0, sigma_s1, sigma_s2, alpha_s0, alpha_1 = coefficients
    mass_d = mass[..., None, :]  # (N, R, 1, K)
    # each block is a per-(d, k) linear map of (S0, S1, S2): in-place passes over contiguous (D, K)
    # blocks, then one transposing copy into the (K, D) layout
    block = np.multiply(first, mu_s1)
    term = np.multiply(mass_d, mu_s0)
    block += term
    out[..., offset:offset + size].reshape(n_images, n_regions, n_components, dims)[...] = block.swapaxes(-1, -2)
    np.multiply(second, sigma_s2, out=block)
    np.multiply(first, sigma_s1, out=term)
    block += term
    np.multiply(mass_d, sigma_s0, out=term)
    block += term
    out[..., offset + size:].reshape(n_images, n_regions, n_components, dims)[...] = block.swapaxes(-1, -2)
    if include_weights:
        # (S0 / T - w) / sqrt(w)
        np.multiply(mass, alpha_s0, out=out[..., :offset])
        out[..., :offset] += alpha_1
    return out


def fisher_coefficients(counts: np.ndarray, weights: np.ndarray, means: np.ndarray,
                        variances: np.ndarray) -> tuple[np.ndarray, ...]:
    """float32 factors c with d_mu = c_mu0 S0 + c_mu1 S1, d_sigma = c_s0 S0 + c_s1 S1 + c_s2 S2 and
    d_alpha = c_a0 S0 + c_a1, for region counts (R,) and a GMM: (R, D, K) arrays, then (R, K) and (K,).

    From G_mu = (S1 - S0 mu) / (T sqrt(w) sigma), skimage's variance block
    (S0 (var - mu^2) + 2 mu S1 - S2) / (T sqrt(2 w) var) and G_alpha = (S0 / T - w) / sqrt(w),
    computed in float64 with the per-region 1/T folded in; dimension-major like the moments.
    """
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64).T
    variances = np.asarray(variances, dtype=np.float64).T
    inv_count = 1.0 / np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    per_region = inv_count[:, None, None]
    mu_s1 = per_region / (np.sqrt(weights) * np.sqrt(variances))
    sigma_s2 = -per_region / (np.sqrt(2.0 * weights) * variances)
    factors = (-mu_s1 * means, mu_s1, -sigma_s2 * (variances - means * means), -2.0 * sigma_s2 * means, sigma_s2,
               inv_count[:, None] / np.sqrt(weights), -np.sqrt(weights))
    return tuple(factor.astype(np.float32) for factor in factors)


def power_l2(vectors: np.ndarray, power: float = 0.5, scale: float = 1.0) -> np.ndarray:
    """The "improved" normalization along the last axis, in place: sign(z) |z|^power, then L2 norm `scale`."""
    magnitude = np.abs(vectors)
    if power == 0.5:
        # |sign(z) sqrt|z||^2 = |z|: the squared norm is the sum of the magnitudes, no extra pass
        squared_norms = magnitude.sum(axis=-1)
        np.sqrt(magnitude, out=magnitude)
    else:
        np.power(magnitude, np.float32(power), out=magnitude)
        squared_norms = np.einsum("...k,...k->...", magnitude, magnitude)
    np.copysign(magnitude, vectors, out=vectors)
    norms = np.sqrt(squared_norms, out=squared_norms)
    np.maximum(norms, np.float32(_NORM_FLOOR), out=norms)
    vectors *= np.divide(np.float32(scale), norms, out=norms)[..., None]
    return vectors


def fisher_vector(descriptors: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray, *,
                  improved: bool = False, include_weights: bool = True, power: float = 0.5,
                  chunk_size: int = CHUNK_IMAGES) -> np.ndarray:
    """The Fisher vector of each image of a batch of descriptor sets, over the whole image.

    The batched counterpart of `skimage.feature.fisher_vector(d, gmm, improved=..., alpha=power)`
    (with `include_weights=True`) for the arrays of a fitted diagonal GaussianMixture
    (weights_, means_, covariances_).

    Parameters
    ----------
    descriptors : float ndarray (N, T, D) or (T, D)
    weights : (K,), means, variances : (K, D)
    chunk_size : images encoded per pass (their buffers should fit the L2 cache).

    Returns
    -------
    float32 ndarray (N, fisher_dims(K, D, include_weights)), or a vector for (T, D) input.
    """
    x = np.asarray(descriptors, dtype=np.float32)
    single = x.ndim == 2
    if single:
        x = x[np.newaxis]
    n_images, n_descriptors, dims = x.shape
    pyramid = whole_image(n_descriptors)
    out = np.empty((n_images, fisher_dims(len(weights), dims, include_weights)), dtype=np.float32)
    centre = mixture_centre(weights, means)
    means = np.asarray(means, dtype=np.float64) - centre
    coefficients = fisher_coefficients(pyramid.counts, weights, means, variances)
    matrix = log_likelihood_matrix(weights, means, variances)
    for start in range(0, n_images, chunk_size):
        chunk = x[start:start + chunk_size]
        stacked = stack_powers(chunk.reshape(-1, dims), centre=centre)
        moments = mixture_moments(stacked, len(chunk), pyramid, weights, means, variances, matrix=matrix)
        fv = fisher_from_moments(*moments, pyramid.counts, weights, means, variances, include_weights,
                                 coefficients)[:, 0]
        out[start:start + len(chunk)] = power_l2(fv, power) if improved else fv
    return out[0] if single else out
