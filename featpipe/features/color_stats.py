"""Local colour statistics: mean and standard deviation of each channel in the 4x4 cells of a patch.

The second descriptor of the ImageNet 2011 winner (Perronnin, Sanchez & Mensink, ECCV 2010;
Sanchez et al., IJCV 2013): patches on the same dense grid as SIFT, each split into 4 x 4
sub-regions, described by the mean and the standard deviation of every colour channel there
(96 values for three channels). Values are on the 0..1 scale; `space="opponent"` first maps RGB
to the opponent axes O1 = (R - G) / sqrt 2, O2 = (R + G - 2B) / sqrt 6, O3 = (R + G + B) / sqrt 3
(van de Sande et al., PAMI 2010), which separates intensity (O3) from colour.
"""

from __future__ import annotations

import numpy as np

from .dense_grid import CELLS, DenseGrid, cell_sums

SPACES = ("rgb", "opponent")
_OPPONENT = np.array(
    [[1 / np.sqrt(2), -1 / np.sqrt(2), 0.0],
     [1 / np.sqrt(6), 1 / np.sqrt(6), -2 / np.sqrt(6)],
     [1 / np.sqrt(3), 1 / np.sqrt(3), 1 / np.sqrt(3)]],
    dtype=np.float32,
)


def color_stats_dims(n_channels: int) -> int:
    """Length of one descriptor: 4 x 4 cells x (mean, std) x channels."""
    return CELLS * CELLS * 2 * n_channels


def local_color_stats(images: np.ndarray, cell_size: int, stride: int, space: str = "rgb",
                      planes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Colour statistics of every patch of a dense grid, for a validated uint8 batch.

    Parameters
    ----------
    images : uint8 ndarray (N, H, W, C); C = 3 for `space="opponent"`.
    cell_size, stride : the patch grid, as for `featpipe.features.sift.dense_sift`.
    space : {"rgb", "opponent"}; "rgb" uses the channels as they are (any C).
    planes : `color_planes(images, space)` if already computed (several scales share them).

    Returns
    -------
    descriptors : float32 ndarray (N, n_patches, 32 * C), per patch (cell row, cell col, then the
        C means followed by the C standard deviations).
    centres : float64 ndarray (n_patches, 2), patch centres (row, col) in pixels.
    """
    n_images = len(images)
    grid = DenseGrid(images.shape[1:3], cell_size, stride)
    if planes is None:
        planes = color_planes(images, space)
    n_channels = planes.shape[1] // 2
    box = np.full(grid.patch_size, 1.0 / cell_size, dtype=np.float32)  # row x col weights = 1 / cell area
    moments = cell_sums(planes, grid, box, box)
    mean, mean_square = moments[..., :n_channels], moments[..., n_channels:]
    std = np.sqrt(np.maximum(mean_square - mean * mean, 0.0))
    descriptors = np.concatenate([mean, std], axis=-1).reshape(n_images, grid.n_patches, color_stats_dims(n_channels))
    return descriptors, grid.centres()


def color_planes(images: np.ndarray, space: str = "rgb") -> np.ndarray:
    """The channels (0..1 scale, in `space`) and their squares of a uint8 batch: float32 (N, 2C, H, W)."""
    n_images, height, width, n_channels = images.shape
    planes = np.empty((n_images, 2 * n_channels, height, width), dtype=np.float32)
    values = planes[:, :n_channels]
    np.divide(images.transpose(0, 3, 1, 2), np.float32(255.0), out=values)
    if space == "opponent":
        values[...] = np.einsum("oc,nchw->nohw", _OPPONENT, values)
    np.multiply(values, values, out=planes[:, n_channels:])
    return planes
