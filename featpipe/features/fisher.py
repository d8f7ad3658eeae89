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

from .mixture_stats import mixture_moments, pyramid_regions, stack_powers

_NORM_FLOOR = 1e-12


def fisher_dims(n_components: int, dims: int, include_weights: bool) -> int:
    """Length of one Fisher vector: 2 K D, plus K with the weight gradients."""
    return 2 * n_components * dims + (n_components if include_weights else 0)


def fisher_from_moments(mass: np.ndarray, first: np.ndarray, second: np.ndarray, counts: np.ndarray,
                        weights: np.ndarray, means: np.ndarray, variances: np.ndarray,
                        include_weights: bool = True) -> np.ndarray:
    """Fisher vectors (unnormalized) from region moments.

    Parameters
    ----------
    mass : (N, R, K), first, second : (N, R, K, D), region moments S0, S1, S2.
    counts : (R,) descriptors per region (the T of each region).
    weights : (K,), means, variances : (K, D), the GMM.
    include_weights : prepend the K weight gradients G_alpha.

    Returns
    -------
    float32 ndarray (N, R, fisher_dims(K, D, include_weights)).
    """
    weights = np.asarray(weights, dtype=np.float64)
    means64 = np.asarray(means, dtype=np.float64)
    variances64 = np.asarray(variances, dtype=np.float64)
    n_images, n_regions, n_components = mass.shape
    dims = means64.shape[1]
    size = n_components * dims
    offset = n_components if include_weights else 0
    out = np.empty((n_images, n_regions, offset + 2 * size), dtype=np.float32)
    # per-region 1/T folded into the per-component factors: (R, K, D) float32 scales
    inv_count = 1.0 / np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    scale_mu = (inv_count[:, None, None] / (np.sqrt(weights)[:, None] * np.sqrt(variances64))).astype(np.float32)
    scale_sigma = (inv_count[:, None, None] / (np.sqrt(2.0 * weights)[:, None] * variances64)).astype(np.float32)
    mu = means64.astype(np.float32)
    mass_k = mass[..., None]  # (N, R, K, 1)
    d_mu = out[..., offset:offset + size].reshape(n_images, n_regions, n_components, dims)
    np.multiply(mass_k, mu, out=d_mu)
    np.subtract(first, d_mu, out=d_mu)  # S1 - S0 mu
    d_mu *= scale_mu
    # skimage's sign: T p0 var - sum_t g (x - mu)^2 = S0 (var - mu^2) + 2 mu S1 - S2
    d_sigma = out[..., offset + size:].reshape(n_images, n_regions, n_components, dims)
    np.multiply(mass_k, (variances64 - means64 * means64).astype(np.float32), out=d_sigma)
    d_sigma += first * (2 * mu)
    d_sigma -= second
    d_sigma *= scale_sigma
    if include_weights:
        # (S0 / T - w) / sqrt(w)
        out[..., :offset] = ((mass * inv_count[:, None].astype(np.float32) - weights.astype(np.float32))
                             / np.sqrt(weights).astype(np.float32))
    return out


def power_l2(vectors: np.ndarray, power: float = 0.5) -> np.ndarray:
    """The "improved" normalization along the last axis, in place: sign(z) |z|^power, then unit L2."""
    magnitude = np.abs(vectors)
    if power == 0.5:
        np.sqrt(magnitude, out=magnitude)
    else:
        np.power(magnitude, np.float32(power), out=magnitude)
    np.copysign(magnitude, vectors, out=vectors)
    norms = np.sqrt(np.einsum("...k,...k->...", vectors, vectors))
    vectors /= np.maximum(norms, np.float32(_NORM_FLOOR))[..., None]
    return vectors


def fisher_vector(descriptors: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray, *,
                  improved: bool = False, include_weights: bool = True, power: float = 0.5) -> np.ndarray:
    """The Fisher vector of each image of a batch of descriptor sets, over the whole image.

    The batched counterpart of `skimage.feature.fisher_vector(d, gmm, improved=..., alpha=power)`
    (with `include_weights=True`) for the arrays of a fitted diagonal GaussianMixture
    (weights_, means_, covariances_).

    Parameters
    ----------
    descriptors : float ndarray (N, T, D) or (T, D)
    weights : (K,), means, variances : (K, D)

    Returns
    -------
    float32 ndarray (N, fisher_dims(K, D, include_weights)), or a vector for (T, D) input.
    """
    x = np.asarray(descriptors, dtype=np.float32)
    single = x.ndim == 2
    if single:
        x = x[np.newaxis]
    n_images, n_descriptors, dims = x.shape
    pyramid = pyramid_regions(np.zeros((n_descriptors, 2)), (1, 1), [(1, 1)])  # one region: order is the identity
    moments = mixture_moments(stack_powers(x.reshape(-1, dims), dims), n_images, pyramid, weights, means, variances)
    fv = fisher_from_moments(*moments, pyramid.counts, weights, means, variances, include_weights)[:, 0]
    if improved:
        power_l2(fv, power)
    return fv[0] if single else fv
