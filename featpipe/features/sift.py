"""Dense SIFT-like descriptors (Lowe, IJCV 2004) on a regular grid, computed for a batch at once.

Every patch of 4 x 4 cells (cell side `cell_size` pixels, a new patch every `stride` pixels)
gets the 128 values of Lowe's descriptor: per cell, a histogram of 8 signed gradient
orientations, each pixel voting its gradient magnitude weighted by a Gaussian window centred on
the patch (sigma = half the patch side) and split linearly between the two nearest orientation
bins. The vector is then L2-normalized, clipped at 0.2 and normalized again, which makes it
invariant to brightness shifts and (up to clipping) to contrast changes. `root=True` adds the
Hellinger mapping of Arandjelovic & Zisserman (CVPR 2012): L1-normalize, then square root.

The gradients are HOG's (featpipe.features.hog): central differences with zero borders, the
channel with the strongest gradient per pixel, and orientation bins and magnitudes of every
integer gradient tabulated once, so no arctan2 runs per pixel. Unlike Lowe there is no keypoint
detection, no dominant orientation and no spatial interpolation between cells: dense patches
are compared by position, as in dense-SIFT image classification (e.g. VLFeat's dsift).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .dense_grid import CELLS, DenseGrid, cell_sums
from .hog import _bin_edges, _central_differences, _integer_gradient_tables, _strongest_channel

ORIENTATIONS = 8
SIFT_DIMS = CELLS * CELLS * ORIENTATIONS  # 128
CLIP = 0.2  # Lowe's clipping threshold for the normalized descriptor
_NORM_FLOOR = 1e-6  # a patch with no gradient at all stays a zero descriptor
_LUT_SIDE = 511  # HOG's gradient tables are indexed by (g_row + 255) * 511 + (g_col + 255)


def dense_sift(images: np.ndarray, cell_size: int, stride: int, root: bool = False,
               maps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SIFT descriptors of every patch of a dense grid, for a validated uint8 batch.

    Parameters
    ----------
    images : uint8 ndarray (N, H, W, C); H and W at least 4 * cell_size.
    cell_size : pixels per cell side (the patch side is 4 * cell_size).
    stride : pixels between neighbouring patches.
    root : apply the root-SIFT (Hellinger) mapping.
    maps : `orientation_maps(images)` if already computed (several scales share them).

    Returns
    -------
    descriptors : float32 ndarray (N, n_patches, 128), values (cell row, cell col, orientation).
    centres : float64 ndarray (n_patches, 2), patch centres (row, col) in pixels.
    """
    grid = DenseGrid(images.shape[1:3], cell_size, stride)
    if maps is None:
        maps = orientation_maps(images)
    window = gaussian_window(grid.patch_size)
    hist = cell_sums(maps, grid, window, window).reshape(len(images), grid.n_patches, SIFT_DIMS)
    return normalize_sift(hist, root), grid.centres()


def orientation_maps(images: np.ndarray) -> np.ndarray:
    """Per-pixel gradient magnitude split between two orientation bins: float32 (N, 8, H, W).

    Bin b stands for the gradient direction b * 45 degrees (angle = atan2(g_row, g_col)); a
    gradient between the directions of bins b and b + 1 gives each a share of its magnitude
    that falls linearly with the angular distance.
    """
    n_images, height, width, _ = images.shape
    planes = np.ascontiguousarray(images.transpose(3, 0, 1, 2)).astype(np.int32)  # (C, N, H, W)
    g_row, g_col = _central_differences(planes)
    squared = g_row * g_row
    squared += g_col * g_col
    index = g_row * _LUT_SIDE
    index += g_col
    index += 255 * _LUT_SIDE + 255
    (index,) = _strongest_channel(squared, index)  # (N, H, W)
    low_bin, low_weight, high_weight = _soft_bin_tables()
    index = index.reshape(n_images, 1, height * width)
    maps = np.zeros((n_images, ORIENTATIONS, height * width), dtype=np.float32)
    low = np.take(low_bin, index)
    np.put_along_axis(maps, low, np.take(low_weight, index), axis=1)
    # the two shares go to different bins, so the second assignment never overwrites the first
    np.put_along_axis(maps, (low + 1) % ORIENTATIONS, np.take(high_weight, index), axis=1)
    return maps.reshape(n_images, ORIENTATIONS, height, width)


@lru_cache(maxsize=1)
def _soft_bin_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower bin (int64) and the magnitude shares (float32) of the lower and upper bin of every
    integer gradient, indexed like HOG's tables by (g_row + 255) * 511 + (g_col + 255)."""
    bins, magnitude = _integer_gradient_tables(ORIENTATIONS, True)
    edges = _bin_edges(ORIENTATIONS, 360.0)
    values = np.arange(-255, 256, dtype=np.float64)
    g_row, g_col = np.meshgrid(values, values, indexing="ij")
    angle = (np.rad2deg(np.arctan2(g_row, g_col)) % 360.0).ravel()
    bins = bins.astype(np.int64)
    # an angle just below 360 may fall past the last float32-rounded edge (bin == ORIENTATIONS):
    # it is direction 0, all in bin 0
    past = bins >= ORIENTATIONS
    bins[past] = 0
    fraction = (angle - edges[bins]) / (edges[bins + 1] - edges[bins])
    fraction[past] = 0.0
    fraction = np.clip(fraction, 0.0, 1.0)
    tables = (bins, (magnitude * (1.0 - fraction)).astype(np.float32), (magnitude * fraction).astype(np.float32))
    for table in tables:
        table.flags.writeable = False
    return tables


def gaussian_window(patch_size: int) -> np.ndarray:
    """Lowe's spatial weighting along one axis: a Gaussian with sigma = patch_size / 2, float32."""
    offsets = np.arange(patch_size) - (patch_size - 1) / 2
    sigma = patch_size / 2
    return np.exp(-0.5 * (offsets / sigma) ** 2).astype(np.float32)


def normalize_sift(hist: np.ndarray, root: bool = False) -> np.ndarray:
    """Lowe's normalization of (..., 128) histograms in place: unit L2, clip at 0.2, unit L2 again.

    Histograms of patches without any gradient stay zero. `root` then L1-normalizes and takes the
    square root (root-SIFT), so that Euclidean distances compare descriptors like the Hellinger kernel.
    """
    for _ in range(2):
        norms = np.sqrt(np.einsum("...k,...k->...", hist, hist))
        hist /= np.maximum(norms, np.float32(_NORM_FLOOR))[..., None]
        if _ == 0:
            np.minimum(hist, np.float32(CLIP), out=hist)
    if root:
        hist /= np.maximum(hist.sum(axis=-1, keepdims=True), np.float32(_NORM_FLOOR))
        np.sqrt(hist, out=hist)
    return hist


def sift_glyph(descriptor: np.ndarray, cell_pixels: int = 15) -> np.ndarray:
    """Picture of one 128-value descriptor: per cell, 8 rays from its centre, one per orientation.

    The ray of bin b points along gradient direction b * 45 degrees (image rows grow downwards)
    and its length is proportional to the bin's value relative to the largest value of the
    descriptor (negative values, e.g. of a PCA reconstruction, are drawn as zero).

    Returns
    -------
    float32 ndarray (4 * cell_pixels, 4 * cell_pixels), 1 on the rays and 0 elsewhere.
    """
    values = np.maximum(np.asarray(descriptor, dtype=np.float64).reshape(CELLS, CELLS, ORIENTATIONS), 0.0)
    largest = values.max()
    lengths = values / largest if largest > 0 else values
    side = CELLS * cell_pixels
    canvas = np.zeros((side, side), dtype=np.float32)
    radius = (cell_pixels - 1) / 2
    steps = np.linspace(0.0, 1.0, 2 * cell_pixels)
    angles = np.deg2rad(np.arange(ORIENTATIONS) * 360.0 / ORIENTATIONS)
    for i in range(CELLS):
        for j in range(CELLS):
            centre_row, centre_col = i * cell_pixels + radius, j * cell_pixels + radius
            for b, angle in enumerate(angles):
                reach = steps * radius * lengths[i, j, b]
                rows = np.rint(centre_row + reach * np.sin(angle)).astype(int)
                cols = np.rint(centre_col + reach * np.cos(angle)).astype(int)
                if lengths[i, j, b] > 0:
                    canvas[rows, cols] = 1.0
    return canvas
