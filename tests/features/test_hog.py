"""HOG: equality with skimage.feature.hog, signed-orientation properties, glyphs and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.feature import hog as skimage_hog
from sklearn.exceptions import NotFittedError

from featpipe.errors import InputError
from featpipe.features import HOG, hog_features, hog_glyph


def reference(images: np.ndarray, **params) -> np.ndarray:
    color = images.ndim == 4
    settings = dict(orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys", transform_sqrt=False)
    settings.update(params)
    for key in ("pixels_per_cell", "cells_per_block"):
        if np.isscalar(settings[key]):
            settings[key] = (settings[key], settings[key])
    return np.stack([
        skimage_hog(image, feature_vector=True, channel_axis=-1 if color else None, **settings) for image in images
    ])


@pytest.mark.parametrize("block_norm", ["L1", "L1-sqrt", "L2", "L2-Hys"])
@pytest.mark.parametrize("transform_sqrt", [False, True])
@pytest.mark.parametrize("kind", ["random", "smooth", "photo"])
@pytest.mark.parametrize("color", [True, False])
def test_equals_skimage_for_every_block_norm(block_norm, transform_sqrt, kind, color, random_images, smooth, photo_tiles):
    images = {"random": random_images, "smooth": smooth, "photo": photo_tiles[:6]}[kind]
    if not color:
        images = images[..., 1]
    ours = hog_features(images, block_norm=block_norm, transform_sqrt=transform_sqrt)
    expected = reference(images, block_norm=block_norm, transform_sqrt=transform_sqrt)
    assert ours.dtype == np.float32
    assert ours.shape == expected.shape == (len(images), 9 * 9 * 4)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-6)


@pytest.mark.parametrize(
    "orientations, pixels_per_cell, cells_per_block, shape",
    [
        (9, 4, 3, (30, 27)),
        (7, (6, 5), (3, 2), (37, 29)),
        (12, (8, 8), (1, 1), (32, 32)),
        (8, (5, 7), 2, (20, 21)),
        (4, 3, (2, 3), (17, 16)),
    ],
)
def test_equals_skimage_for_other_geometries(orientations, pixels_per_cell, cells_per_block, shape, rng, make_smooth):
    images = np.concatenate([
        rng.integers(0, 256, size=(3, *shape, 3), dtype=np.uint8),
        make_smooth(rng, 3, *shape),
    ])
    params = dict(orientations=orientations, pixels_per_cell=pixels_per_cell, cells_per_block=cells_per_block)
    np.testing.assert_allclose(hog_features(images, **params), reference(images, **params), rtol=0, atol=2e-6)


def test_gray_batch_without_channel_axis_equals_single_channel(smooth):
    gray = smooth[..., 0]
    np.testing.assert_array_equal(hog_features(gray), hog_features(gray[..., None]))


def test_chunking_does_not_change_features(smooth, random_images):
    images = np.concatenate([smooth, random_images])
    whole = HOG(chunk_size=1000).fit(images).transform(images)
    for chunk_size in (1, 5):
        np.testing.assert_array_equal(HOG(chunk_size=chunk_size).fit(images).transform(images), whole)


def test_normalization_groups_do_not_change_features(smooth, random_images, monkeypatch):
    import featpipe.features.hog as hog_module

    images = np.concatenate([smooth, random_images])
    whole = HOG(extra_cell_sizes=[4]).fit(images).transform(images)
    monkeypatch.setattr(hog_module, "_NORMALIZE_GROUP", 3)  # groups of 4 images: two chunks of 2 each
    np.testing.assert_array_equal(HOG(extra_cell_sizes=[4], chunk_size=2).fit(images).transform(images), whole)


@pytest.mark.parametrize("block_norm", ["L1", "L1-sqrt", "L2", "L2-Hys"])
def test_constant_images_give_zero_features_not_nan(block_norm):
    images = np.stack([np.zeros((16, 16, 3), np.uint8), np.full((16, 16, 3), 200, np.uint8)])
    features = hog_features(images, block_norm=block_norm)
    assert np.all(features == 0)


def test_l2hys_blocks_are_unit_norm_and_clipped_before_renormalizing(smooth):
    features = hog_features(smooth, block_norm="L2-Hys").reshape(len(smooth), 9, 36)
    np.testing.assert_allclose(np.linalg.norm(features, axis=2), 1.0, atol=1e-5)


def test_signed_orientations_fold_into_unsigned(smooth, random_images):
    # 18 signed bins of 20 degrees over 0..360 fold (bin i and i + 9) into the 9 unsigned bins.
    images = np.concatenate([smooth, random_images])
    from featpipe.features.hog import _cell_histograms

    signed = _cell_histograms(images, 18, (8, 8), False, True)
    unsigned = _cell_histograms(images, 9, (8, 8), False, False)
    np.testing.assert_allclose(signed[..., :9] + signed[..., 9:], unsigned, rtol=1e-6, atol=1e-4)
    assert hog_features(images, orientations=18, signed=True).shape == (12, 9 * 4 * 18)


def test_signed_orientation_tells_opposite_gradients_apart():
    ramp = np.tile(np.arange(0, 32 * 6, 6, dtype=np.uint8), (32, 1))  # brightness grows to the right
    images = np.stack([ramp, ramp[:, ::-1]])  # ... and to the left
    signed = hog_features(images, orientations=4, signed=True, block_norm="L1").reshape(2, -1, 4)
    unsigned = hog_features(images, orientations=2, block_norm="L1")
    np.testing.assert_allclose(unsigned[0], unsigned[1], atol=1e-7)
    # gradient angle 0 degrees -> signed bin 0; 180 degrees -> signed bin 2
    assert signed[0, :, 0].sum() > 0 and signed[0, :, 2].sum() == 0
    assert signed[1, :, 2].sum() > 0 and signed[1, :, 0].sum() == 0


@pytest.mark.parametrize("transform_sqrt", [False, True])
def test_extra_cell_sizes_append_skimages_hog_of_each_size(transform_sqrt, photo_tiles):
    images = photo_tiles[:6]
    params = dict(pixels_per_cell=4, transform_sqrt=transform_sqrt, block_norm="L2-Hys")
    ours = hog_features(images, extra_cell_sizes=[8, (6, 5)], **params)
    expected = np.concatenate([reference(images, **params),
                               reference(images, **{**params, "pixels_per_cell": 8}),
                               reference(images, **{**params, "pixels_per_cell": (6, 5)})], axis=1)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-6)
    extractor = HOG(extra_cell_sizes=[8], **params).fit(images)
    names = extractor.get_feature_names_out()
    assert len(names) == extractor.transform(images[:1]).shape[1] == 1764 + 324 and len(set(names)) == len(names)
    assert names[1764] == "hog8x8_block0_0_cell0_0_bin0"


def test_pair_and_int_settings_are_the_same(smooth):
    np.testing.assert_array_equal(
        hog_features(smooth, pixels_per_cell=8, cells_per_block=2),
        hog_features(smooth, pixels_per_cell=(8, 8), cells_per_block=[2, 2]),
    )


def test_glyph_draws_lines_where_the_gradients_are():
    image = np.zeros((32, 32), np.uint8)
    image[:, 16:] = 255  # one vertical edge in the middle
    glyph = hog_glyph(image)
    assert glyph.shape == (32, 32) and np.isfinite(glyph).all()
    assert glyph[:, 8:24].sum() > 0
    assert glyph[:, :4].sum() == 0 and glyph[:, 28:].sum() == 0
    assert hog_glyph(np.stack([image] * 3, axis=-1), signed=True).shape == (32, 32)


@pytest.mark.parametrize(
    "params, images, match",
    [
        ({}, np.zeros((2, 32, 32, 3), np.float32), r"uint8.*float32"),
        ({}, np.zeros((32, 32), np.uint8), r"rank 2"),
        ({}, np.zeros((2, 1, 32, 32, 3), np.uint8), r"rank 5"),
        ({}, np.zeros((2, 15, 40), np.uint8), r"at least 16x16 pixels.*these are 15x40"),
        ({"pixels_per_cell": 16, "cells_per_block": 3}, np.zeros((2, 32, 32), np.uint8), r"pixels_per_cell=16 with cells_per_block=3.*at least 48x48"),
        ({"block_norm": "L3"}, np.zeros((2, 32, 32), np.uint8), r"block_norm='L3'.*'L1', 'L1-sqrt', 'L2', 'L2-Hys'"),
        ({"orientations": 0}, np.zeros((2, 32, 32), np.uint8), r"orientations=0"),
        ({"pixels_per_cell": (8, 8, 8)}, np.zeros((2, 32, 32), np.uint8), r"pixels_per_cell=\(8, 8, 8\) must be an integer or a pair"),
        ({"chunk_size": 0}, np.zeros((2, 32, 32), np.uint8), r"chunk_size=0"),
        ({"extra_cell_sizes": [8, 20]}, np.zeros((2, 32, 32), np.uint8),
         r"extra_cell_sizes\[1\]=\(20,20\) with cells_per_block=\(2,2\).*at least 40x40"),
        ({"extra_cell_sizes": [0]}, np.zeros((2, 32, 32), np.uint8), r"extra_cell_sizes"),
        ({"transform_sqrt": "yes"}, np.zeros((2, 32, 32), np.uint8), r"transform_sqrt='yes' must be true or false"),
    ],
)
def test_bad_input_is_rejected_clearly(params, images, match):
    with pytest.raises(InputError, match=match):
        HOG(**params).fit(images)


def test_transform_checks_fit_and_image_shape(smooth):
    with pytest.raises(NotFittedError):
        HOG().transform(smooth)
    hog = HOG().fit(smooth)
    with pytest.raises(InputError, match=r"fitted on images of shape.*\(32, 32, 3\).*\(40, 40, 3\)"):
        hog.transform(np.zeros((1, 40, 40, 3), np.uint8))


def test_glyph_resembles_skimage_visualization(photo_tiles):
    # Not pixel-identical (lines are rasterized differently) but the same picture.
    for image in photo_tiles[:4]:
        _, expected = skimage_hog(image, 9, (8, 8), (2, 2), channel_axis=-1, visualize=True)
        ours = hog_glyph(image)
        assert np.corrcoef(ours.ravel(), expected.ravel())[0, 1] > 0.5
