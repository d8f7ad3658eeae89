"""VLAD: vectors of locally aggregated descriptors (Jegou, Douze, Schmid & Perez, CVPR 2010).

Each descriptor is assigned to its nearest centroid c_k (here: the GMM means, Euclidean
distance) and the residuals are summed per centroid, v_k = sum_{x: NN(x) = k} (x - c_k), giving
K x D values; the signed square root and L2 normalization follow (Jegou et al., PAMI 2012). In
moment terms v_k = S1_k - S0_k c_k with one-hot assignments, so it reuses the Fisher vectors'
batched moment sums (`featpipe.features.mixture_stats`).
"""

from __future__ import annotations

import numpy as np

from .fisher import power_l2
from .mixture_stats import mixture_moments, pyramid_regions


def vlad_from_moments(mass: np.ndarray, first: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Unnormalized VLAD (N, R, K * D) float32 from the moments S0 (N, R, K) and S1 (N, R, K, D)."""
    residuals = first - mass[..., None] * np.asarray(means, dtype=np.float32)
    return residuals.reshape(*mass.shape[:2], -1)


def vlad_vector(descriptors: np.ndarray, means: np.ndarray, *, improved: bool = True, power: float = 0.5) -> np.ndarray:
    """VLAD of each image of a batch of descriptor sets (N, T, D) (or one set (T, D)) over the whole image.

    Returns float32 (N, K * D) (or a vector), signed-square-rooted and L2-normalized if `improved`.
    """
    x = np.asarray(descriptors, dtype=np.float32)
    single = x.ndim == 2
    if single:
        x = x[np.newaxis]
    n_images, n_descriptors, dims = x.shape
    pyramid = pyramid_regions(np.zeros((n_descriptors, 2)), (1, 1), [(1, 1)])
    x_t = np.ascontiguousarray(x.reshape(-1, dims).T)
    mass, first = mixture_moments(x_t, n_images, pyramid, None, means, None, soft=False)
    vlad = vlad_from_moments(mass, first, means)[:, 0]
    if improved:
        power_l2(vlad, power)
    return vlad[0] if single else vlad
