"""Colour histograms: HSV equal to skimage, bins equal to np.histogramdd, normalization, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import rgb2gray, rgb2hsv

from featpipe.errors import InputError
from featpipe.features import ColorHistogram
from featpipe.features.color import rgb_to_hsv


def reference_histograms(images: np.ndarray, space: str, bins: int) -> np.ndarray:
    out = []
    for image in images:
        if space == "rgb":
            data, edges = image.reshape(-1, 3).astype(float), [np.linspace(0, 256, bins + 1)] * 3
        elif space == "gray":
            data = (rgb2gray(image) if image.shape[-1] == 3 else image[..., 0] / 255).reshape(-1, 1)
            edges = [np.linspace(0, 1, bins + 1)]
        else:
            hsv = rgb2hsv(image).reshape(-1, 3)
            data = {"hsv": hsv, "hue": hsv[:, :1], "hue_saturation": hsv[:, :2]}[space]
            edges = [np.linspace(0, 1, bins + 1)] * data.shape[1]
        counts, _ = np.histogramdd(data, bins=edges)
        out.append(counts.ravel())
    return np.array(out)


def test_hsv_equals_skimage(random_images, photo_tiles):
    # every grey level and many saturated colours, plus noise and photographs
    levels = np.arange(256, dtype=np.uint8)
    special = np.stack(np.meshgrid(levels[::15], levels[::15], levels[::15], indexing="ij"), axis=-1).reshape(1, -1, 3)
    for images in (random_images, photo_tiles, special):
        expected = np.stack([rgb2hsv(image) for image in images])
        np.testing.assert_array_equal(rgb_to_hsv(images), expected)


@pytest.mark.parametrize("space", ["rgb", "hsv", "hue", "hue_saturation", "gray"])
@pytest.mark.parametrize("bins", [8, 10, 3])
def test_counts_equal_numpy_histogramdd(space, bins, random_images, photo_tiles):
    images = np.concatenate([random_images, photo_tiles])
    counts = ColorHistogram(space=space, bins=bins, normalize="none").fit(images).transform(images)
    np.testing.assert_array_equal(counts, reference_histograms(images, space, bins))


def test_gray_space_on_single_channel_images(photo_tiles):
    gray = photo_tiles[..., 0]
    counts = ColorHistogram(space="gray", bins=16, normalize="none").fit(gray).transform(gray)
    np.testing.assert_array_equal(counts, reference_histograms(gray[..., None], "gray", 16))


@pytest.mark.parametrize("grid", [1, 2, 3])
def test_l1_cells_sum_to_one_and_l2_cells_have_unit_norm(grid, photo_tiles):
    n_bins = 4**3
    l1 = ColorHistogram(space="rgb", bins=4, grid=grid).fit(photo_tiles).transform(photo_tiles)
    l2 = ColorHistogram(space="rgb", bins=4, grid=grid, normalize="l2").fit(photo_tiles).transform(photo_tiles)
    assert l1.shape == (len(photo_tiles), grid * grid * n_bins) and l1.dtype == np.float32
    np.testing.assert_allclose(l1.reshape(len(photo_tiles), grid * grid, n_bins).sum(axis=2), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(l2.reshape(len(photo_tiles), grid * grid, n_bins), axis=2), 1.0, rtol=1e-6)


@pytest.mark.parametrize("grid", [1, 2])
def test_l1_sqrt_is_the_square_root_of_pixel_fractions(grid, photo_tiles):
    n_bins = 4**3
    counts = ColorHistogram(space="rgb", bins=4, grid=grid, normalize="none").fit(photo_tiles).transform(photo_tiles)
    hellinger = ColorHistogram(space="rgb", bins=4, grid=grid, normalize="l1-sqrt").fit(photo_tiles).transform(photo_tiles)
    cells = counts.reshape(len(photo_tiles), grid * grid, n_bins)
    expected = np.sqrt(cells / cells.sum(axis=2, keepdims=True)).reshape(len(photo_tiles), -1)
    np.testing.assert_allclose(hellinger, expected, rtol=1e-6)
    # the square roots of fractions summing to 1 have unit Euclidean norm per cell
    np.testing.assert_allclose(np.linalg.norm(hellinger.reshape(cells.shape), axis=2), 1.0, rtol=1e-6)


def test_grid_cells_are_histograms_of_the_image_quarters(photo_tiles):
    grid2 = ColorHistogram(space="hsv", bins=4, grid=2, normalize="none").fit(photo_tiles).transform(photo_tiles)
    quarters = [photo_tiles[:, :16, :16], photo_tiles[:, :16, 16:], photo_tiles[:, 16:, :16], photo_tiles[:, 16:, 16:]]
    expected = np.concatenate([reference_histograms(q, "hsv", 4) for q in quarters], axis=1)
    np.testing.assert_array_equal(grid2, expected)


@pytest.mark.parametrize("space", ["rgb", "hsv", "hue", "hue_saturation", "gray"])
def test_invariant_to_pixel_permutation(space, rng, photo_tiles):
    flat = photo_tiles.reshape(len(photo_tiles), -1, 3)
    shuffled = flat[:, rng.permutation(flat.shape[1])].reshape(photo_tiles.shape)
    extractor = ColorHistogram(space=space).fit(photo_tiles)
    np.testing.assert_array_equal(extractor.transform(shuffled), extractor.transform(photo_tiles))


def test_constant_images_have_no_nan():
    images = np.stack([np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)])
    for space in ("rgb", "hsv", "hue", "hue_saturation", "gray"):
        for normalize in ("l1", "l1-sqrt", "l2", "none"):
            features = ColorHistogram(space=space, normalize=normalize, grid=2).fit(images).transform(images)
            assert np.isfinite(features).all()


def test_chunking_does_not_change_features(photo_tiles):
    whole = ColorHistogram(chunk_size=100).fit(photo_tiles).transform(photo_tiles)
    np.testing.assert_array_equal(ColorHistogram(chunk_size=5).fit(photo_tiles).transform(photo_tiles), whole)


@pytest.mark.parametrize(
    "params, images, match",
    [
        ({"space": "lab"}, np.zeros((2, 8, 8, 3), np.uint8), r"space='lab'.*'rgb', 'hsv', 'hue', 'hue_saturation', 'gray'"),
        ({"normalize": "max"}, np.zeros((2, 8, 8, 3), np.uint8), r"normalize='max'.*'l1', 'l1-sqrt', 'l2', 'none'"),
        ({"bins": 0}, np.zeros((2, 8, 8, 3), np.uint8), r"bins=0"),
        ({"space": "hsv"}, np.zeros((2, 8, 8), np.uint8), r"space='hsv' needs RGB images.*1 channel.*space='gray'"),
        ({"space": "hue"}, np.zeros((2, 8, 8, 4), np.uint8), r"needs RGB images.*4 channel"),
        ({"grid": 9}, np.zeros((2, 8, 8, 3), np.uint8), r"grid=9.*at least 9x9 pixels.*these are 8x8"),
        ({}, np.zeros((2, 8, 8, 3), np.int16), r"uint8.*int16"),
    ],
)
def test_bad_input_is_rejected_clearly(params, images, match):
    with pytest.raises(InputError, match=match):
        ColorHistogram(**params).fit(images)
