"""Colour histograms: what colours an image holds, optionally per cell of a coarse grid.

A joint histogram over a colour space ignores where colours are (invariant to moving pixels
around) but tells sky from grass; `grid` > 1 keeps a little layout by histogramming each cell of a
g x g grid. HSV values equal `skimage.color.rgb2hsv` exactly (same float64 operations, vectorized
over the batch), and bins are assigned exactly as `np.histogram` / `np.histogramdd` assign them
with edges `np.linspace(0, 1, bins + 1)` (the last bin includes 1.0).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from pydantic import Field

from ..errors import InputError
from ..settings import Int, Section, choice
from ._base import ImageFeatureExtractor
from ._images import check_int, check_min_size, chunk_starts

SPACES = ("rgb", "hsv", "hue", "hue_saturation", "gray")
NORMALIZATIONS = ("l1", "l1-sqrt", "l2", "none")
_CHANNELS_PER_SPACE = {"rgb": 3, "hsv": 3, "hue": 1, "hue_saturation": 2, "gray": 1}
_GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721], dtype=np.float64)  # skimage.color.rgb2gray


class ColorSettings(Section):
    """Color histogram: throws away where colors are, keeps which colors there are."""

    space: choice(SPACES) = "hsv"
    bins: Int = Field(8, ge=1, le=256, description="bins per channel")
    grid: Int = Field(1, ge=1, le=64, description="histogram each cell of a grid x grid layout")
    normalize: choice(NORMALIZATIONS) = "l1"


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
    normalize : {"l1", "l1-sqrt", "l2", "none"}
        Per-cell normalization: "l1" makes each cell histogram sum to 1 (fractions of pixels),
        "l1-sqrt" takes the square root of those fractions (the Hellinger map: a linear
        classifier on it compares histograms by the Bhattacharyya coefficient, and rare colours
        are not drowned by the dominant one; +1.1 points validation in hog_color_svm), "l2" gives
        unit Euclidean norm, "none" keeps pixel counts.
    chunk_size : int
        Images processed at once; bounds memory.

    Output: float32 (N, grid * grid * bins ** n_channels_of_space), cell-major (row-major cells),
    joint bins in C order (first channel slowest).
    """

    CODE_VERSION = 1
    Settings = ColorSettings

    def __init__(self, *, space: str = "hsv", bins: int = 8, grid: int = 1, normalize: str = "l1",
                 chunk_size: int = 256) -> None:
        self.space = space
        self.bins = bins
        self.grid = grid
        self.normalize = normalize
        self.chunk_size = chunk_size

    def _check_settings(self, images: np.ndarray) -> None:
        owner = self._owner()
        bins = self.bins
        if bins ** _CHANNELS_PER_SPACE[self.space] > 2**24:
            raise InputError(f"{owner}: bins={bins} with space={self.space!r} gives more than 2**24 histogram bins; use fewer bins")
        grid = self.grid
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
    joint_bin = _joint_bins(images, space, bins)  # (N, H, W) integers
    n_bins = bins ** _CHANNELS_PER_SPACE[space]
    n_cells = grid * grid
    slots = np.add(_slot_base(n_images, height, width, grid, n_bins), joint_bin)
    counts = np.bincount(slots.ravel(), minlength=n_images * n_cells * n_bins)
    hist = counts.reshape(n_images, n_cells, n_bins).astype(np.float32)
    if normalize in ("l1", "l1-sqrt"):
        hist /= hist.sum(axis=2, keepdims=True)  # every cell holds at least one pixel
        if normalize == "l1-sqrt":
            np.sqrt(hist, out=hist)
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
    images = np.asarray(images)
    maximum = np.maximum(np.maximum(images[..., 0], images[..., 1]), images[..., 2])
    minimum = np.minimum(np.minimum(images[..., 0], images[..., 1]), images[..., 2])
    scaled = _scaled_levels()
    saturation = _saturation_table()[maximum.astype(np.intp) * 256 + minimum]
    return np.stack([_hue(images, maximum, minimum), saturation, scaled[maximum]], axis=-1)


@lru_cache(maxsize=1)
def _scaled_levels() -> np.ndarray:
    """uint8 level v -> v * (1 / 255) in float64, exactly as skimage's img_as_float computes it."""
    return np.multiply(np.arange(256, dtype=np.uint8), 1.0 / 255, dtype=np.float64)


@lru_cache(maxsize=1)
def _saturation_table() -> np.ndarray:
    """Saturation for every (max, min) uint8 pair, indexed max * 256 + min, computed as skimage does."""
    scaled = _scaled_levels()
    value = np.repeat(scaled, 256)
    delta = value - np.tile(scaled, 256)
    with np.errstate(invalid="ignore", divide="ignore"):
        saturation = delta / value
    saturation[delta == 0.0] = 0.0
    saturation[(delta < 0.0) | ~np.isfinite(saturation)] = 0.0  # min > max never occurs in images
    return saturation


def _hue(images: np.ndarray, maximum: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    """Hue in [0, 1) of uint8 RGB pixels, bit-identical to skimage.color.rgb2hsv.

    skimage evaluates (g - b) / delta, 2 + (b - r) / delta or 4 + (r - g) / delta on float64
    values v * (1/255), later cases winning when several channels equal the maximum, then
    (h / 6) % 1 and 0 for grey pixels. The same operations in the same order give the same bits.
    """
    scaled = _scaled_levels()
    red, green, blue = (np.take(scaled, images[..., k]) for k in range(3))
    delta = np.take(scaled, maximum) - np.take(scaled, minimum)
    grey = delta == 0.0
    blue_max = images[..., 2] == maximum
    green_max = ~blue_max & (images[..., 1] == maximum)
    numerator = np.where(blue_max, red - green, np.where(green_max, blue - red, green - blue))
    numerator /= np.where(grey, 1.0, delta)
    numerator += np.where(blue_max, 4.0, np.where(green_max, 2.0, 0.0))
    numerator /= 6.0
    # x % 1.0 for x in [-1/6, 1): numpy returns x + 1.0 for negative x and +0.0 for a zero.
    hue = np.where(numerator < 0.0, numerator + 1.0, numerator)
    hue[grey | (hue == 0.0)] = 0.0
    return hue


def _unit_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin of float values in [0, 1] with edges linspace(0, 1, bins + 1), exactly as np.histogram."""
    index = np.minimum((values * bins).astype(np.intp), bins - 1)
    if bins & (bins - 1):  # not a power of two: values * bins can round across an edge
        edges = np.linspace(0.0, 1.0, bins + 1)
        index -= values < np.take(edges, index)
        index += (values >= np.take(edges, index + 1)) & (index < bins - 1)
    return index


@lru_cache(maxsize=8)
def _level_bins(bins: int) -> np.ndarray:
    """Bin of every uint8 level scaled to [0, 1] (value channel, gray images)."""
    return _unit_bins(_scaled_levels(), bins).astype(np.intp)


@lru_cache(maxsize=8)
def _saturation_bins(bins: int) -> np.ndarray:
    """Bin of the saturation of every (max, min) pair, indexed max * 256 + min."""
    return _unit_bins(_saturation_table(), bins).astype(np.intp)


@lru_cache(maxsize=4)
def _slot_base(n_images: int, height: int, width: int, grid: int, n_bins: int) -> np.ndarray:
    """First histogram slot (N, H, W) of every pixel: (image * cells + cell) * n_bins; cached per shape."""
    cell_of_pixel = (np.arange(height) * grid // height)[:, None] * grid + (np.arange(width) * grid // width)[None, :]
    base = (np.arange(n_images, dtype=np.intp)[:, None, None] * (grid * grid) + cell_of_pixel) * n_bins
    base.flags.writeable = False
    return base


def _joint_bins(images: np.ndarray, space: str, bins: int) -> np.ndarray:
    """Joint bin index (N, H, W) of every pixel for the colour space."""
    if space == "rgb":
        level_bin = (np.arange(256) * bins) >> 8  # floor(v * bins / 256)
        red, green, blue = (np.take(level_bin, images[..., k]) for k in range(3))
        return (red * bins + green) * bins + blue
    if space == "gray":
        if images.shape[3] == 1:
            return np.take(_level_bins(bins), images[..., 0])
        gray = np.multiply(images, 1.0 / 255, dtype=np.float64) @ _GRAY_WEIGHTS
        return _unit_bins(gray, bins)
    maximum = np.maximum(np.maximum(images[..., 0], images[..., 1]), images[..., 2])
    minimum = np.minimum(np.minimum(images[..., 0], images[..., 1]), images[..., 2])
    hue_bin = _unit_bins(_hue(images, maximum, minimum), bins)
    if space == "hue":
        return hue_bin
    pair = maximum.astype(np.intp) * 256 + minimum
    joint = hue_bin * bins + np.take(_saturation_bins(bins), pair)
    if space == "hue_saturation":
        return joint
    joint *= bins
    joint += np.take(_level_bins(bins), maximum)
    return joint
