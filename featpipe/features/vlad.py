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
from .mixture_stats import mixture_centre, mixture_moments, stack_powers, whole_image


def vlad_from_moments(mass: np.ndarray, first: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Unnormalized VLAD (N, R, K * D) float32, K-major, from the moments S0 (N, R, K) and S1 (N, R, D, K)."""
    residuals = first - mass[..., None, :] * np.asarray(means, dtype=np.float32).T
    return np.ascontiguousarray(residuals.swapaxes(-1, -2)).reshape(*mass.shape[:2], -1)


def vlad_vector(descriptors: np.ndarray, means: np.ndarray, *, improved: bool = True, power: float = 0.5) -> np.ndarray:
    """VLAD of each image of a batch of descriptor sets (N, T, D) (or one set (T, D)) over the whole image.

    Returns float32 (N, K * D) (or a vector), signed-square-rooted and L2-normalized if `improved`.
    """
    x = np.asarray(descriptors, dtype=np.float32)
    single = x.ndim == 2
    if single:
        x = x[np.newaxis]
    n_images, n_descriptors, dims = x.shape
    pyramid = whole_image(n_descriptors)
    centre = mixture_centre(np.full(len(means), 1 / len(means)), means)
    means = np.asarray(means, dtype=np.float64) - centre
    stacked = stack_powers(x.reshape(-1, dims), second=False, centre=centre)
    mass, first = mixture_moments(stacked, n_images, pyramid, None, means, None, soft=False)
    vlad = vlad_from_moments(mass, first, means)[:, 0]
    if improved:
        power_l2(vlad, power)
    return vlad[0] if single else vlad
