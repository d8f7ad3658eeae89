"""Histograms of oriented gradients (Dalal & Triggs, CVPR 2005), vectorized over image batches.

For unsigned orientations the features equal `skimage.feature.hog` (same parameters,
`channel_axis=-1` for colour, `feature_vector=True`) to float32 precision, so results can be
compared with the many reports that use it, but a whole batch is computed at once instead of one
image at a time. How the agreement is kept exact:

* Gradients are central differences with zero borders, as in skimage. On uint8 images without
  `transform_sqrt` they are integers in -255..255, so the orientation bin and the magnitude of
  every possible (row, col) gradient are tabulated once with skimage's own float64 formula
  (orientation = degrees(arctan2(g_row, g_col)) mod 180, bin edges rounded to float32 as its
  Cython code does) and looked up; the expensive arctan2 never runs per pixel.
* For colour images the channel with the largest gradient magnitude wins, the first channel on
  ties (skimage's argmax); integer squared magnitudes give the same order as float64 hypot.
* With `transform_sqrt` the gradients are real numbers: the same formula is evaluated in float64
  per pixel (slower, still batched).
* Cell histograms sum magnitudes per (image, cell, bin) with one `np.bincount` and divide by the
  cell area; blocks are normalized with whole-batch array operations.

`extra_cell_sizes` adds further scales: the HOG of each further cell size (the other settings
alike) is appended after the first. Every scale is skimage's HOG for its cell size; the
gradients are computed once and only pooled per scale. On CIFAR-10, 4x4 and 8x8 cells together
beat 4x4 cells alone by about a point of validation accuracy (configs/cifar10/hog_color_svm.yaml).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from pydantic import Field, StrictBool

from ..errors import InputError
from ..settings import Int, IntPair, Section, choice
from ._base import ImageFeatureExtractor
from ._images import as_image_batch, check_int, check_min_size, check_pair, chunk_starts

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_EPS = 1e-5  # skimage's block-normalization epsilon
_LUT_SIDE = 511  # integer gradients lie in -255..255
_NORMALIZE_GROUP = 1024  # images whose block normalization runs as one batch (~7 MB of 4x4-cell blocks)


class HogSettings(Section):
    """Histogram of oriented gradients (Dalal and Triggs 2005), skimage's parameters."""

    orientations: Int = Field(9, ge=1, le=360, description="orientation bins over 0..180 degrees (0..360 if signed)")
    pixels_per_cell: IntPair = Field((8, 8), description="cell size in pixels, (rows, cols) or one number")
    cells_per_block: IntPair = Field((2, 2), description="block size in cells; blocks slide by one cell")
    block_norm: choice(BLOCK_NORMS) = "L2-Hys"
    transform_sqrt: StrictBool = Field(False, description="square root of pixel values before the gradients")
    signed: StrictBool = Field(False, description="signed orientations over 0..360 degrees")
    extra_cell_sizes: list[IntPair] = Field(
        [], description="further cell sizes, one HOG each (same other settings), appended after pixels_per_cell's")


class HOG(ImageFeatureExtractor):
    """Histogram-of-oriented-gradients features for batches of uint8 images.

    Parameters
    ----------
    orientations : int
        Number of orientation bins over 0..180 degrees (0..360 if `signed`).
    pixels_per_cell : int or (int, int)
        Cell size in pixels (rows, cols).
    cells_per_block : int or (int, int)
        Block size in cells (rows, cols); blocks slide by one cell.
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}
        Block normalization, as in skimage.feature.hog.
    transform_sqrt : bool
        Take the square root of pixel values (0..255 scale) before the gradients.
    signed : bool
        Use signed orientations over 0..360 degrees (no skimage equivalent).
    extra_cell_sizes : list of int or (int, int)
        Further cell sizes (multi-scale HOG): each adds the HOG of that cell size, with the same
        other settings, after the features of `pixels_per_cell`.
    chunk_size : int
        Images processed at once; bounds memory. Small chunks keep the working set in the CPU
        cache (64 was fastest on 32x32 colour images here).

    Output: float32 (N, n_blocks_row * n_blocks_col * cells_per_block[0] * cells_per_block[1] *
    orientations), in skimage's order (block row, block col, cell row, cell col, orientation);
    with `extra_cell_sizes`, one such block per cell size, in the order given.
    """

    CODE_VERSION = 1
    Settings = HogSettings

    def __init__(
        self,
        *,
        orientations: int = 9,
        pixels_per_cell: Any = (8, 8),
        cells_per_block: Any = (2, 2),
        block_norm: str = "L2-Hys",
        transform_sqrt: bool = False,
        signed: bool = False,
        extra_cell_sizes: Any = (),
        chunk_size: int = 64,
    ) -> None:
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.signed = signed
        self.extra_cell_sizes = extra_cell_sizes
        self.chunk_size = chunk_size

    def _check_settings(self, images: np.ndarray) -> None:
        params = self._hog_params()
        _check_hog_size(self._owner(), images, "pixels_per_cell", params["pixels_per_cell"], params["cells_per_block"])
        for i, size in enumerate(self.settings().extra_cell_sizes):
            _check_hog_size(self._owner(), images, f"extra_cell_sizes[{i}]", size, params["cells_per_block"])
        check_int(self._owner(), "chunk_size", self.chunk_size, 1)

    def _hog_params(self) -> dict[str, Any]:
        return dict(
            orientations=self.orientations,
            pixels_per_cell=self.pixels_per_cell,
            cells_per_block=self.cells_per_block,
            block_norm=self.block_norm,
            transform_sqrt=self.transform_sqrt,
            signed=self.signed,
            extra_cell_sizes=self.extra_cell_sizes,
        )

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        params = _normalized_params(**self._hog_params())
        cells = [params["pixels_per_cell"], *params["extra_cell_sizes"]]
        widths = [_n_features(images.shape[1:3], params["orientations"], cell, params["cells_per_block"])
                  for cell in cells]
        out = np.empty((len(images), sum(widths)), dtype=np.float32)
        pending: list[list[np.ndarray]] = []  # cell histograms per chunk, per scale
        group_start = 0
        for start, stop in chunk_starts(len(images), self.chunk_size, "HOG"):
            bins, magnitude = _pixel_gradients(images[start:stop], params["orientations"],
                                               params["transform_sqrt"], params["signed"])
            pending.append([_pool_cells(bins, magnitude, params["orientations"], cell) for cell in cells])
            # Histograms are small: normalizing many chunks' blocks at once saves the per-call
            # overhead that dominated normalizing 64 images (~2 us per image).
            if stop - group_start >= _NORMALIZE_GROUP or stop == len(images):
                column = 0
                for scale, width in enumerate(widths):
                    hist = np.concatenate([chunk[scale] for chunk in pending])
                    out[group_start:stop, column:column + width] = _normalize_blocks(
                        hist, params["cells_per_block"], params["block_norm"])
                    column += width
                pending, group_start = [], stop
        return out


def hog_features(images: Any, **params: Any) -> np.ndarray:
    """HOG features of a uint8 image batch in one call (no fitting; same keywords as `HOG`).

    Parameters
    ----------
    images : uint8 ndarray, (N, H, W, C) or (N, H, W)
    **params : the keyword settings of `HOG`.

    Returns
    -------
    float32 ndarray (N, D)
    """
    extractor = HOG(**params)
    return extractor.fit(images).transform(images)


def hog_glyph(image: Any, **params: Any) -> np.ndarray:
    """Picture of the cell histograms of one image, like skimage's `hog(..., visualize=True)`.

    Each cell gets, for every orientation bin, a line through its centre perpendicular to the
    bin's middle gradient direction (so along the edge), as bright as the bin's histogram value.
    For `signed=True` each bin is a half line from the centre, so opposite gradients point
    opposite ways. Blocks play no part: the histograms are the unnormalized cell histograms.

    Parameters
    ----------
    image : uint8 ndarray, (H, W, C) or (H, W)
    **params : the keyword settings of `HOG` (chunk_size and block_norm are ignored).

    Returns
    -------
    float64 ndarray (H, W), zero outside the drawn lines.
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3):
        raise InputError(f"hog_glyph: image must be shaped (H, W) or (H, W, C), got shape {array.shape}")
    extractor = HOG(**params)
    batch = as_image_batch(array[np.newaxis], "hog_glyph")
    extractor.settings()
    extractor._check_settings(batch)
    p = _normalized_params(**extractor._hog_params())
    hist = _cell_histograms(batch, p["orientations"], p["pixels_per_cell"], p["transform_sqrt"], p["signed"])[0]
    return _draw_glyphs(hist, batch.shape[1:3], p["pixels_per_cell"], p["signed"])


# ----------------------------------------------------------------------------- validation


def _check_hog_size(owner: str, images: np.ndarray, name: str, cell_size: Any, cells_per_block: Any) -> None:
    """The images must hold one HOG block of `cell_size` (setting `name`; the settings' own ranges are HogSettings')."""
    cell = check_pair(owner, name, cell_size)
    block = check_pair(owner, "cells_per_block", cells_per_block)
    why = (
        f"{name}={_show_pair(cell_size)} with "
        f"cells_per_block={_show_pair(cells_per_block)} (one HOG block)"
    )
    check_min_size(images, cell[0] * block[0], cell[1] * block[1], owner, why)


def _show_pair(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(str(v) for v in value) + ")"
    return str(value)


def _normalized_params(**params: Any) -> dict[str, Any]:
    def pair(value: Any) -> tuple[int, int]:
        return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))

    return dict(
        orientations=int(params["orientations"]),
        pixels_per_cell=pair(params["pixels_per_cell"]),
        cells_per_block=pair(params["cells_per_block"]),
        block_norm=params["block_norm"],
        transform_sqrt=bool(params["transform_sqrt"]),
        signed=bool(params["signed"]),
        extra_cell_sizes=[pair(size) for size in params.get("extra_cell_sizes") or ()],
    )


def _n_features(image_hw: tuple[int, int], orientations: int, pixels_per_cell: tuple[int, int],
                cells_per_block: tuple[int, int], extra_cell_sizes: list[tuple[int, int]] = (), **_: Any) -> int:
    total = 0
    for cell in [pixels_per_cell, *extra_cell_sizes]:
        cells = [image_hw[k] // cell[k] for k in (0, 1)]
        blocks = [cells[k] - cells_per_block[k] + 1 for k in (0, 1)]
        total += blocks[0] * blocks[1] * cells_per_block[0] * cells_per_block[1] * orientations
    return total


# ----------------------------------------------------------------------------- numerics


def _bin_edges(orientations: int, period: float) -> np.ndarray:
    """Bin edges in degrees as skimage's Cython computes them: float32 step times float32 index."""
    step = np.float32(period / orientations)
    return np.array([np.float32(step * np.float32(i)) for i in range(orientations + 1)], dtype=np.float64)


def _orientation_bins(g_row: np.ndarray, g_col: np.ndarray, orientations: int, signed: bool) -> np.ndarray:
    """Orientation bin of float64 gradients; `orientations` marks an angle that falls in no bin.

    skimage keeps a pixel in bin i when edge[i] <= angle < edge[i+1]; with float32-rounded edges
    an angle can exceed the last edge, and skimage then drops it, so we do too.
    """
    period = 360.0 if signed else 180.0
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % period
    edges = _bin_edges(orientations, period)
    return (np.searchsorted(edges, angle, side="right") - 1).astype(np.int16)


@lru_cache(maxsize=8)
def _integer_gradient_tables(orientations: int, signed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bin (int16) and magnitude (float64) of every integer gradient (g_row, g_col) in -255..255.

    Indexed by (g_row + 255) * 511 + (g_col + 255).
    """
    values = np.arange(-255, 256, dtype=np.float64)
    g_row, g_col = np.meshgrid(values, values, indexing="ij")
    bins = _orientation_bins(g_row, g_col, orientations, signed).ravel()
    magnitude = np.hypot(g_row, g_col).ravel()
    bins.flags.writeable = False
    magnitude.flags.writeable = False
    return bins, magnitude


@lru_cache(maxsize=8)
def _compact_bin_table(orientations: int, signed: bool) -> np.ndarray:
    """`_integer_gradient_tables`' bins as uint8 when they fit: half the table, so its lookups hit the cache more."""
    bins, _ = _integer_gradient_tables(orientations, signed)
    if orientations + 1 > np.iinfo(np.uint8).max:
        return bins
    compact = bins.astype(np.uint8)
    compact.flags.writeable = False
    return compact


def _central_differences(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column central differences of (C, N, H, W) planes, zero on the borders (as skimage)."""
    height, width = planes.shape[2:]
    flat = planes.reshape(-1)
    g_row = np.empty_like(planes)
    g_col = np.empty_like(planes)
    # Differencing the flat buffer keeps every operation contiguous; the values that straddle
    # image rows or borders are exactly the border pixels, which are zeroed afterwards.
    if height > 2:
        np.subtract(flat[2 * width:], flat[: -2 * width], out=g_row.reshape(-1)[width:-width])
    g_row[:, :, 0, :] = 0
    g_row[:, :, -1, :] = 0
    if width > 2:
        np.subtract(flat[2:], flat[:-2], out=g_col.reshape(-1)[1:-1])
    g_col[..., 0] = 0
    g_col[..., -1] = 0
    if height <= 2:
        g_row[...] = 0
    if width <= 2:
        g_col[...] = 0
    return g_row, g_col


def _strongest_channel(magnitude: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
    """For each pixel, pick `values` from the channel with the largest `magnitude` (first on ties).

    magnitude and values are (C, N, H, W); returns arrays (N, H, W).
    """
    n_channels = magnitude.shape[0]
    if n_channels == 1:
        return [v[0] for v in values]
    best = np.maximum.reduce(magnitude, axis=0)
    picked = [v[n_channels - 1] for v in values]
    # Walk the channels backwards so that the first channel reaching the maximum wins.
    for channel in range(n_channels - 2, -1, -1):
        is_best = magnitude[channel] == best
        picked = [np.where(is_best, v[channel], p) for v, p in zip(values, picked)]
    return picked


def _channel_planes(images: np.ndarray, dtype: type) -> np.ndarray:
    """The images as contiguous (C, N, H, W) planes of `dtype`, transposed and converted in one pass."""
    n_images, height, width, n_channels = images.shape
    planes = np.empty((n_channels, n_images, height, width), dtype=dtype)
    np.copyto(planes, images.transpose(3, 0, 1, 2))
    return planes


def _strongest_integer_gradient(squared: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_strongest_channel` for integer squared magnitudes: (squared, table index) of the winning channel.

    The channel rides in the low bits of the squared magnitude (first channel highest, so it wins
    ties as skimage's argmax does) and one maximum over the channels picks both; that beats a
    comparison and a `np.where` per channel by ~2x. The winner's index is gathered at int32
    positions from a cached base (int64 positions and a fresh arange cost ~0.1 ms per 64 images).
    squared and index are int32 (C, N, H, W), modified in place; squared magnitudes of uint8
    gradients stay below 2**17, and C * N * H * W below 2**31 for any chunk `HOG` makes.
    """
    n_channels = squared.shape[0]
    if n_channels == 1:
        return squared[0], index[0]
    bits = (n_channels - 1).bit_length()
    squared <<= bits
    for channel in range(n_channels - 1):
        squared[channel] += n_channels - 1 - channel
    best = np.maximum.reduce(squared, axis=0)
    # position of the winner = pixel + channel * plane = pixel + (C - 1 - low bits) * plane
    position = np.bitwise_and(best, (1 << bits) - 1)
    position *= -best.size
    position += _last_channel_positions(n_channels, best.shape)
    best >>= bits
    return best, np.take(index.reshape(-1), position.reshape(-1)).reshape(best.shape)


@lru_cache(maxsize=4)
def _last_channel_positions(n_channels: int, shape: tuple[int, ...]) -> np.ndarray:
    """Flat int32 position of every pixel of (n_channels, *shape) planes in the last channel."""
    size = int(np.prod(shape))
    if n_channels * size >= 2**31:
        raise ValueError(f"HOG chunk of {n_channels} x {shape} values is too large for int32 positions")
    positions = np.arange((n_channels - 1) * size, n_channels * size, dtype=np.int32).reshape(shape)
    positions.flags.writeable = False
    return positions


def _cell_histograms(images: np.ndarray, orientations: int, pixels_per_cell: tuple[int, int],
                     transform_sqrt: bool, signed: bool) -> np.ndarray:
    """Cell histograms (N, n_cells_row, n_cells_col, orientations) float32, as skimage computes them.

    Each value is the sum of the gradient magnitudes of the cell's pixels in that orientation bin
    divided by the number of pixels in a cell.
    """
    bins, magnitude = _pixel_gradients(images, orientations, transform_sqrt, signed)
    return _pool_cells(bins, magnitude, orientations, pixels_per_cell)


def _pixel_gradients(images: np.ndarray, orientations: int, transform_sqrt: bool,
                     signed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Orientation bin (N, H, W) and magnitude (N, H, W) of each pixel's strongest-channel gradient.

    The bin is `orientations` for an angle that falls in no bin (see `_orientation_bins`).
    """
    if transform_sqrt:
        g_row, g_col = _central_differences(np.sqrt(_channel_planes(images, np.float64)))
        magnitude = np.hypot(g_row, g_col)
        g_row, g_col, magnitude = _strongest_channel(magnitude, g_row, g_col, magnitude)
        bins = _orientation_bins(g_row, g_col, orientations, signed)
    else:
        g_row, g_col = _central_differences(_channel_planes(images, np.int32))
        squared = g_row * g_row
        squared += g_col * g_col
        index = g_row * _LUT_SIDE
        index += g_col
        index += 255 * _LUT_SIDE + 255
        squared, index = _strongest_integer_gradient(squared, index)
        bins = np.take(_compact_bin_table(orientations, signed), index)  # np.take beats fancy indexing
        # sqrt of the exact integer square, correctly rounded to float32 (hypot's float64 value to
        # float32 precision, the output's); half the bytes of float64, ~3x faster here
        magnitude = np.sqrt(squared, dtype=np.float32)
    return bins, magnitude


def _pool_cells(bins: np.ndarray, magnitude: np.ndarray, orientations: int,
                pixels_per_cell: tuple[int, int]) -> np.ndarray:
    """Sum the magnitudes (N, H, W) per cell and bin: float32 (N, n_cells_row, n_cells_col, orientations)."""
    n_images, height, width = bins.shape
    cell_rows, cell_cols = pixels_per_cell
    n_cells_row, n_cells_col = height // cell_rows, width // cell_cols
    n_cells = n_cells_row * n_cells_col
    slots_per_cell = orientations + 1
    slots = np.add(_slot_base(n_images, height, width, cell_rows, cell_cols, orientations), bins)
    sums = np.bincount(slots.ravel(), weights=magnitude.ravel(), minlength=n_images * (n_cells + 1) * slots_per_cell)
    sums = sums.reshape(n_images, n_cells + 1, slots_per_cell)[:, :n_cells, :orientations]
    hist = sums.astype(np.float32)
    hist /= np.float32(cell_rows * cell_cols)
    return hist.reshape(n_images, n_cells_row, n_cells_col, orientations)


@lru_cache(maxsize=4)
def _slot_base(n_images: int, height: int, width: int, cell_rows: int, cell_cols: int, orientations: int) -> np.ndarray:
    """First histogram slot of every pixel (N, H, W) int64; adding the pixel's bin gives its slot.

    Slot layout per image: n_cells + 1 cells (the last collects pixels outside the cell grid)
    times orientations + 1 bins (the last collects angles that fall in no bin). Cached because
    every chunk of a batch has the same shape.
    """
    n_cells_row, n_cells_col = height // cell_rows, width // cell_cols
    n_cells = n_cells_row * n_cells_col
    cell_of_row = np.arange(height) // cell_rows
    cell_of_col = np.arange(width) // cell_cols
    cell_index = cell_of_row[:, None] * n_cells_col + cell_of_col[None, :]
    cell_index[(cell_of_row >= n_cells_row)[:, None] | (cell_of_col >= n_cells_col)[None, :]] = n_cells
    base = (np.arange(n_images, dtype=np.int64)[:, None, None] * (n_cells + 1) + cell_index) * (orientations + 1)
    base.flags.writeable = False
    return base


def _normalize_blocks(hist: np.ndarray, cells_per_block: tuple[int, int], method: str) -> np.ndarray:
    """Normalize every block of cells; (N, R, C, B) float32 -> (N, D) float32 in skimage's order."""
    n_images, n_rows, n_cols, n_bins = hist.shape
    block_rows, block_cols = cells_per_block
    n_block_rows, n_block_cols = n_rows - block_rows + 1, n_cols - block_cols + 1
    blocks = np.empty((n_images, n_block_rows, n_block_cols, block_rows, block_cols, n_bins), dtype=np.float32)
    for i in range(block_rows):
        for j in range(block_cols):
            blocks[:, :, :, i, j, :] = hist[:, i:i + n_block_rows, j:j + n_block_cols, :]
    flat = blocks.reshape(n_images, n_block_rows, n_block_cols, -1)
    eps = np.float32(_EPS)
    if method in ("L1", "L1-sqrt"):
        flat /= (np.abs(flat).sum(axis=-1, keepdims=True) + eps)
        if method == "L1-sqrt":
            np.sqrt(flat, out=flat)
    else:
        flat /= np.sqrt(np.einsum("nrck,nrck->nrc", flat, flat) + eps * eps)[..., None]
        if method == "L2-Hys":
            np.minimum(flat, np.float32(0.2), out=flat)
            flat /= np.sqrt(np.einsum("nrck,nrck->nrc", flat, flat) + eps * eps)[..., None]
    return flat.reshape(n_images, -1)


def _draw_glyphs(hist: np.ndarray, image_hw: tuple[int, int], pixels_per_cell: tuple[int, int],
                 signed: bool) -> np.ndarray:
    """Render cell histograms (R, C, B) as line glyphs on a float64 (H, W) canvas."""
    n_rows, n_cols, n_bins = hist.shape
    cell_rows, cell_cols = pixels_per_cell
    radius = max(min(cell_rows, cell_cols) // 2 - 1, 1)
    period = 360.0 if signed else 180.0
    canvas = np.zeros(image_hw, dtype=np.float64)
    centres_r = (np.arange(n_rows) * cell_rows + cell_rows // 2)[:, None]
    centres_c = (np.arange(n_cols) * cell_cols + cell_cols // 2)[None, :]
    steps = np.linspace(0.0 if signed else -1.0, 1.0, 4 * radius + 1)
    for b in range(n_bins):
        # Gradient direction at the bin's middle; the edge (drawn) runs perpendicular to it.
        theta = np.deg2rad(period * (b + 0.5) / n_bins)
        d_row, d_col = radius * np.cos(theta), -radius * np.sin(theta)
        offsets = np.unique(np.stack([np.rint(steps * d_row), np.rint(steps * d_col)], axis=1).astype(int), axis=0)
        rows = centres_r[..., None] + offsets[:, 0]
        cols = centres_c[..., None] + offsets[:, 1]
        rows, cols = np.broadcast_arrays(rows, cols)
        weights = np.broadcast_to(hist[:, :, b, None], rows.shape)
        inside = (rows >= 0) & (rows < image_hw[0]) & (cols >= 0) & (cols < image_hw[1])
        np.add.at(canvas, (rows[inside], cols[inside]), weights[inside])
    return canvas
