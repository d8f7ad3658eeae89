"""A dense grid of square patches split into 4x4 cells, and weighted sums over those cells.

SIFT and the local colour statistics describe the same patches: every `stride` pixels, a square
of 4 x 4 cells of `cell_size` pixels each. Both need, for many planes (orientation maps, colour
channels), the weighted sum of each cell of each patch. With weights that factor into a row
profile times a column profile (a box, or SIFT's Gaussian window), that sum is two matrix
products per plane batch, ``A @ plane @ B.T``, so a whole chunk of images is pooled by BLAS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELLS = 4  # cells per patch side, as in Lowe's SIFT


@dataclass(frozen=True)
class DenseGrid:
    """Patches of CELLS x CELLS cells of `cell_size` pixels, every `stride` pixels of an image."""

    image_hw: tuple[int, int]
    cell_size: int
    stride: int

    @property
    def patch_size(self) -> int:
        return CELLS * self.cell_size

    @property
    def shape(self) -> tuple[int, int]:
        """Number of patch positions (rows, cols); 0 when the image is smaller than a patch."""
        return tuple(max((side - self.patch_size) // self.stride + 1, 0) for side in self.image_hw)

    @property
    def n_patches(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def tops(self, axis: int) -> np.ndarray:
        """First pixel of every patch along `axis` (0: rows, 1: cols)."""
        return np.arange(self.shape[axis]) * self.stride

    def centres(self) -> np.ndarray:
        """Patch centres in pixels, float64 (n_patches, 2) as (row, col), in row-major patch order."""
        half = (self.patch_size - 1) / 2
        rows, cols = np.meshgrid(self.tops(0) + half, self.tops(1) + half, indexing="ij")
        return np.stack([rows.ravel(), cols.ravel()], axis=1)

    def pooling_matrix(self, axis: int, profile: np.ndarray) -> np.ndarray:
        """(CELLS * n_positions, side) float32: row (cell i, position p) holds `profile` over cell i of patch p.

        `profile` (patch_size,) weighs the pixels of a patch along `axis`.
        """
        n_positions, side = self.shape[axis], self.image_hw[axis]
        matrix = np.zeros((CELLS, n_positions, side), dtype=np.float32)
        offsets = np.arange(self.patch_size)
        for p, top in enumerate(self.tops(axis)):
            matrix[offsets // self.cell_size, p, top + offsets] = profile
        return matrix.reshape(CELLS * n_positions, side)


def cell_sums(planes: np.ndarray, grid: DenseGrid, row_profile: np.ndarray, col_profile: np.ndarray) -> np.ndarray:
    """Weighted sums over every cell of every patch of `planes`.

    Parameters
    ----------
    planes : float32 ndarray (N, M, H, W)
        M planes per image (orientation maps, colour channels).
    grid : the patch grid on (H, W) images.
    row_profile, col_profile : (patch_size,) pixel weights along rows and columns; the weight of
        pixel (y, x) of a patch is row_profile[y] * col_profile[x].

    Returns
    -------
    float32 ndarray (N, n_patches, CELLS, CELLS, M): patches in row-major order, then cell row,
    cell col, plane.
    """
    n_images, n_planes, height, width = planes.shape
    rows, cols = grid.shape
    pool_rows = grid.pooling_matrix(0, row_profile)  # (CELLS * rows, H)
    pool_cols = grid.pooling_matrix(1, col_profile)  # (CELLS * cols, W)
    across = planes.reshape(-1, width) @ pool_cols.T  # (N * M * H, CELLS * cols)
    sums = np.matmul(pool_rows, across.reshape(n_images * n_planes, height, CELLS * cols))
    sums = sums.reshape(n_images, n_planes, CELLS, rows, CELLS, cols)
    # -> (N, rows, cols, cell row, cell col, plane)
    return np.ascontiguousarray(sums.transpose(0, 3, 5, 2, 4, 1)).reshape(n_images, rows * cols, CELLS, CELLS, n_planes)
