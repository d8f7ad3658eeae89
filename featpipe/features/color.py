"""Colour histograms: what colours an image holds, optionally per cell of a coarse grid.

A joint histogram over a colour space ignores where colours are (invariant to moving pixels
around) but tells sky from grass; `grid` > 1 keeps a little layout by histogramming each cell of a
g x g grid. HSV values equal `skimage.color.rgb2hsv` exactly (same float64 operations, vectorized
over the batch), and bins are assigned exactly as `np.histogram` / `np.histogramdd` assign them
with edges `np.linspace(0, 1, bins + 1)` (the last bin includes 1.0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ._base import ImageFeatureExtractor
from ._images import check_choice, check_int, check_min_size, chunk_starts

SPACES = ("rgb", "hsv", "hue", "hue_saturation", "gray")
NORMALIZATIONS = ("l1", "l2", "none")
_CHANNELS_PER_SPACE = {"rgb": 3, "hsv": 3, "hue": 1, "hue_saturation": 2, "gray": 1}
_GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721], dtype=np.float64)  # skimage.color.rgb2gray


class ColorHistogram(ImageFeatureExtractor):
    """Joint colour histogram per cell of a g x g grid, concatenated over cells.

    Parameters
    ----------
    space : {"rgb", "hsv", "hue", "hue_saturation", "gray"}
        "rgb": joint R x G x B histogram on pixel values (bin k holds values v with
        floor(v * bins / 256) = k). "hsv": joint H x S x V (skimage.color.rgb2hsv). "hue": hue only
        (as in the CS231n features exercise). "hue_saturation": joint H x S. "gray": intensity
        (skimage.color.rgb2gray weights for RGB); the only space for single-channel images.
    bins : int
        Bins per channel: "rgb" and "hsv" give bins**3 values per cell.
    grid : int
        g: histogram each cell of a g x g grid (cell of pixel (y, x) is (y * g // H, x * g // W)).
    normalize : {"l1", "l2", "none"}
        Per-cell normalization: "l1" makes each cell histogram sum to 1 (fractions of pixels),
        "l2" gives unit Euclidean norm, "none" keeps pixel counts.
    chunk_size : int
        Images processed at once; bounds memory.

    Output: float32 (N, grid * grid * bins ** n_channels_of_space), cell-major (row-major cells),
    joint bins in C order (first channel slowest).
    """

    CODE_VERSION = 1

    def __init__(self, *, space: str = "hsv", bins: int = 8, grid: int = 1, normalize: str = "l1",
                 chunk_size: int = 2000) -> None:
        self.space = space
        self.bins = bins
        self.grid = grid
        self.normalize = normalize
        self.chunk_size = chunk_size

    def _check_settings(self, images: np.ndarray) -> None:
        owner = self._owner()
        check_choice(owner, "space", self.space, SPACES)
        check_choice(owner, "normalize", self.normalize, NORMALIZATIONS)
        bins = check_int(owner, "bins", self.bins, 1)
        if bins ** _CHANNELS_PER_SPACE[self.space] > 2**24:
            raise InputError(f"{owner}: bins={bins} with space={self.space!r} gives more than 2**24 histogram bins; use fewer bins")
        grid = check_int(owner, "grid", self.grid, 1)
        check_int(owner, "chunk_size", self.chunk_size, 1)
        check_min_size(images, grid, grid, owner, f"grid={grid} (one pixel per grid cell at least)")
        n_channels = images.shape[3]
        if self.space == "gray":
            if n_channels not in (1, 3):
                raise InputError(f"{owner}: space='gray' needs images with 1 or 3 (RGB) channels; these have {n_channels}")
        elif n_channels != 3:
            raise InputError(
                f"{owner}: space={self.space!r} needs RGB images (3 channels); these images have "
                f"{n_channels} channel(s); use space='gray' for single-channel images"
            )

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        n_cells = self.grid * self.grid
        n_bins = self.bins ** _CHANNELS_PER_SPACE[self.space]
        out = np.empty((len(images), n_cells * n_bins), dtype=np.float32)
        for start, stop in chunk_starts(len(images), self.chunk_size, "ColorHistogram"):
            out[start:stop] = color_histograms(
                images[start:stop], space=self.space, bins=self.bins, grid=self.grid, normalize=self.normalize
            )
        return out


def color_histograms(images: np.ndarray, *, space: str, bins: int, grid: int, normalize: str) -> np.ndarray:
    """Colour histograms of a validated uint8 batch (N, H, W, C) -> float32 (N, grid**2 * n_bins)."""
    n_images, height, width, _ = images.shape
    joint_bin = _joint_bins(images, space, bins)  # (N, H, W) int64
    n_bins = bins ** _CHANNELS_PER_SPACE[space]
    n_cells = grid * grid
    cell_of_pixel = (np.arange(height) * grid // height)[:, None] * grid + (np.arange(width) * grid // width)[None, :]
    slots = (np.arange(n_images)[:, None, None] * n_cells + cell_of_pixel) * n_bins
    slots += joint_bin
    counts = np.bincount(slots.ravel(), minlength=n_images * n_cells * n_bins)
    hist = counts.reshape(n_images, n_cells, n_bins).astype(np.float32)
    if normalize == "l1":
        hist /= hist.sum(axis=2, keepdims=True)  # every cell holds at least one pixel
    elif normalize == "l2":
        hist /= np.sqrt(np.einsum("ncb,ncb->nc", hist, hist))[..., None]
    return hist.reshape(n_images, -1)


def rgb_to_hsv(images: np.ndarray) -> np.ndarray:
    """HSV of uint8 RGB images, equal to skimage.color.rgb2hsv, over a whole batch.

    Parameters
    ----------
    images : uint8 ndarray (..., 3)

    Returns
    -------
    float64 ndarray (..., 3), hue, saturation and value in [0, 1].
    """
    h, s, v = _hsv_planes(np.asarray(images))
    return np.stack([h, s, v], axis=-1)


def _hsv_planes(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # skimage converts uint8 with image * (1 / 255) in float64, then follows the textbook formula;
    # the same operations in the same order give bit-identical values.
    red, green, blue = (np.multiply(images[..., k], 1.0 / 255, dtype=np.float64) for k in range(3))
    value = np.maximum(np.maximum(red, green), blue)
    delta = value - np.minimum(np.minimum(red, green), blue)
    grey = delta == 0.0
    safe_delta = np.where(grey, 1.0, delta)
    with np.errstate(invalid="ignore", divide="ignore"):
        saturation = np.where(grey, 0.0, delta / np.where(value == 0.0, 1.0, value))
    # Later cases win in skimage (blue over green over red when several channels equal the max).
    hue = (green - blue) / safe_delta
    hue = np.where(green == value, 2.0 + (blue - red) / safe_delta, hue)
    hue = np.where(blue == value, 4.0 + (red - green) / safe_delta, hue)
    hue = (hue / 6.0) % 1.0
    hue[grey] = 0.0
    return hue, saturation, value


def _unit_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin of float values in [0, 1] with edges linspace(0, 1, bins + 1), exactly as np.histogram."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.minimum((values * bins).astype(np.int64), bins - 1)
    # values * bins can round across an edge; compare with the edges themselves to settle it.
    index -= values < edges[index]
    index += (values >= edges[index + 1]) & (index < bins - 1)
    return index


def _joint_bins(images: np.ndarray, space: str, bins: int) -> np.ndarray:
    """Joint bin index (N, H, W) int64 of every pixel for the colour space."""
    if space == "rgb":
        per_channel = (images.astype(np.int64) * bins) >> 8  # floor(v * bins / 256)
        return (per_channel[..., 0] * bins + per_channel[..., 1]) * bins + per_channel[..., 2]
    if space == "gray":
        if images.shape[3] == 1:
            gray = np.multiply(images[..., 0], 1.0 / 255, dtype=np.float64)
        else:
            gray = np.multiply(images, 1.0 / 255, dtype=np.float64) @ _GRAY_WEIGHTS
        return _unit_bins(gray, bins)
    hue, saturation, value = _hsv_planes(images)
    if space == "hue":
        return _unit_bins(hue, bins)
    if space == "hue_saturation":
        return _unit_bins(hue, bins) * bins + _unit_bins(saturation, bins)
    return (_unit_bins(hue, bins) * bins + _unit_bins(saturation, bins)) * bins + _unit_bins(value, bins)
