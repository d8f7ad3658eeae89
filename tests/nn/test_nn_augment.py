"""Batch augmentation against per-image references, and its invariants."""

import numpy as np
import pytest
from scipy import ndimage

from featpipe.nn.augment import (affine_warp, augment_batch, cutout, flip_horizontal, mix, mixup, random_affine,
                                 random_crop, random_flip)
from featpipe.nn.losses import softmax_cross_entropy
from featpipe.nn.settings import AugmentSettings
from featpipe.nn.training import _mixed_loss


def _batch(n=6, h=5, w=7, c=3, dtype=np.float32):
    return np.random.default_rng(0).random((n, h, w, c)).astype(dtype) + 1.0  # no zeros inside


def test_flip_twice_is_identity_and_mirrors():
    x = _batch()
    np.testing.assert_array_equal(flip_horizontal(flip_horizontal(x)), x)
    np.testing.assert_array_equal(flip_horizontal(x)[:, :, 0], x[:, :, -1])


def test_random_flip_flips_some_images_exactly():
    x = _batch(n=64)
    out = random_flip(x, np.random.default_rng(1))
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    same = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or s for f, s in zip(flipped, same))
    assert 10 < sum(flipped) < 54
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(out, random_flip(x, np.random.default_rng(1)))


@pytest.mark.parametrize("mode", ["zero", "reflect"])
def test_random_crop_is_a_window_of_the_padded_image(mode):
    x = _batch(n=200)
    pad = 2
    out = random_crop(x, pad, np.random.default_rng(2), mode=mode)
    assert out.shape == x.shape and out.dtype == x.dtype
    offsets = set()
    for o, i in zip(out, x):
        # the per-image reference: numpy's own padding of this one image, every window tried
        padded = np.pad(i, ((pad, pad), (pad, pad), (0, 0)), mode="constant" if mode == "zero" else "reflect")
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if np.array_equal(o, padded[dy : dy + x.shape[1], dx : dx + x.shape[2]])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) == (2 * pad + 1) ** 2  # every shift is drawn
    if mode == "reflect":
        assert out.min() >= 1.0  # only image values come in
    else:
        assert not np.any((out > 0) & (out < 1.0))  # every value is a pad zero or an input value


def test_crop_of_zero_is_the_identity_and_bad_arguments_are_refused():
    x = _batch()
    for mode in ("zero", "reflect"):
        np.testing.assert_array_equal(random_crop(x, 0, np.random.default_rng(0), mode=mode), x)
    with pytest.raises(ValueError, match=r"shaped \(N, H, W, C\)"):
        random_flip(x[0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="pad=-1"):
        random_crop(x, -1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="mode='wrap' is not one of zero, reflect"):
        random_crop(x, 1, np.random.default_rng(0), mode="wrap")


def test_crop_fill_value_per_channel():
    x = _batch(n=100)
    fill = np.array([-1.0, -2.0, -3.0], dtype=np.float32)
    out = random_crop(x, 1, np.random.default_rng(4), fill)
    border = out[np.all(out < 0, axis=3)]  # pixels that came from the padding
    assert len(border) > 0 and np.all(border == fill)


def _scipy_affine(image, angle, zoom, shift, fill):
    """Per-image reference: scipy.ndimage's bilinear affine_transform of each channel."""
    h, w, _ = image.shape
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    inverse = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / zoom
    offset = centre - inverse @ (centre + shift)
    return np.stack([ndimage.affine_transform(image[..., k].astype(np.float64), inverse, offset, order=1,
                                              mode="grid-constant", cval=fill) for k in range(image.shape[2])],
                    axis=-1)


def test_affine_warp_matches_scipy_per_image():
    x = _batch(n=8, h=9, w=11)
    rng = np.random.default_rng(5)
    angle = rng.uniform(-0.6, 0.6, 8)
    zoom = rng.uniform(0.7, 1.4, 8)
    shift = rng.uniform(-3, 3, (8, 2))
    out = affine_warp(x, angle, zoom, shift, fill=0.25)
    assert out.shape == x.shape and out.dtype == np.float32
    for i in range(8):
        np.testing.assert_allclose(out[i], _scipy_affine(x[i], angle[i], zoom[i], shift[i], 0.25), atol=2e-5)


def test_affine_with_rotation_0_scale_1_shift_0_is_the_identity():
    x = _batch(n=4, dtype=np.float64)
    out = random_affine(x, np.random.default_rng(0), rotation=0.0, scale=(1.0, 1.0), translate=0.0)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == np.float64


def test_affine_integer_shift_moves_pixels_and_fills_the_border():
    x = _batch(n=2)
    out = affine_warp(x, np.zeros(2), np.ones(2), np.array([[2.0, 0.0], [0.0, -1.0]]), fill=-5.0)
    np.testing.assert_allclose(out[0, 2:], x[0, :-2], atol=1e-6)  # down by 2 rows
    assert np.all(out[0, :2] == -5.0)
    np.testing.assert_allclose(out[1, :, :-1], x[1, :, 1:], atol=1e-6)  # left by 1 column
    assert np.all(out[1, :, -1] == -5.0)


def test_random_affine_draws_within_its_ranges():
    x = np.zeros((300, 15, 15, 1), np.float32)
    x[:, 7, 7] = 1.0  # one bright centre pixel: a shift moves it by at most `translate`
    out = random_affine(x, np.random.default_rng(1), rotation=30, scale=(0.9, 1.1), translate=2)
    peaks = np.array([np.unravel_index(np.argmax(o[..., 0]), o.shape[:2]) for o in out])
    assert np.abs(peaks - 7).max() <= 2 and np.abs(peaks - 7).max() >= 1
    assert not np.array_equal(out[0], out[1])


def test_cutout_blanks_one_square_per_image_clipped_at_the_border():
    x = _batch(n=300, h=8, w=8)
    size = 4
    out = cutout(x, size, np.random.default_rng(6), fill=0.0)
    assert out.dtype == x.dtype and out.shape == x.shape
    interior = 0
    for o, i in zip(out, x):
        blank = np.all(o == 0.0, axis=-1)
        np.testing.assert_array_equal(o[~blank], i[~blank])  # everything else untouched
        rows, cols = np.flatnonzero(blank.any(axis=1)), np.flatnonzero(blank.any(axis=0))
        assert rows.size and cols.size
        assert blank[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()  # one rectangle
        assert rows.size <= size and cols.size <= size
        touches = rows[0] == 0 or cols[0] == 0 or rows[-1] == 7 or cols[-1] == 7
        if not touches:
            interior += 1
            assert rows.size == size and cols.size == size
    assert interior > 0
    np.testing.assert_array_equal(cutout(x, 0, np.random.default_rng(0)), x)
    with pytest.raises(ValueError, match=r"cutout size=9 must be in \[0, 8\] for 8 x 8 images"):
        cutout(x, 9, np.random.default_rng(0))


def test_mixup_with_lambda_1_is_the_identity_and_mixes_linearly():
    x = _batch(n=10).reshape(10, -1)
    partner = np.random.default_rng(0).permutation(10)
    np.testing.assert_array_equal(mix(x, partner, 1.0), x)
    mixed, partner, lam = mixup(x, 0.4, np.random.default_rng(7))
    assert 0.5 <= lam <= 1.0 and mixed.dtype == np.float32
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[partner], rtol=1e-6)
    with pytest.raises(ValueError, match="alpha=0 must be > 0"):
        mixup(x, 0, np.random.default_rng(0))


def test_mixup_loss_is_cross_entropy_against_the_mixed_labels():
    rng = np.random.default_rng(8)
    scores = rng.standard_normal((12, 5))
    y, y_partner, lam = rng.integers(0, 5, 12), rng.integers(0, 5, 12), 0.7
    loss, dscores = _mixed_loss(softmax_cross_entropy, y_partner, lam)(scores, y)
    target = lam * np.eye(5)[y] + (1 - lam) * np.eye(5)[y_partner]
    log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss, -(target * log_p).sum(axis=1).mean(), rtol=1e-12)
    np.testing.assert_allclose(dscores, (np.exp(log_p) - target) / 12, atol=1e-12)


def test_augment_batch_applies_what_the_settings_switch_on():
    x = _batch(n=16, h=8, w=8)
    assert augment_batch(x, np.random.default_rng(0), AugmentSettings()) is x
    settings = AugmentSettings(flip=True, crop=2, crop_mode="reflect", cutout=3,
                               affine={"rotation": 10, "scale": [0.9, 1.1], "translate": 1})
    out = augment_batch(x, np.random.default_rng(3), settings, fill=0.0)
    assert out.shape == x.shape and out.dtype == x.dtype and not np.array_equal(out, x)
    np.testing.assert_array_equal(out, augment_batch(x, np.random.default_rng(3), settings, fill=0.0))


def test_affine_warp_of_a_large_batch_equals_warping_each_image_alone():
    x = np.random.default_rng(9).random((130, 6, 6, 3), dtype=np.float32)  # more than one chunk
    rng = np.random.default_rng(10)
    angle, zoom, shift = rng.uniform(-0.3, 0.3, 130), rng.uniform(0.9, 1.1, 130), rng.uniform(-1, 1, (130, 2))
    out = affine_warp(x, angle, zoom, shift)
    for i in (0, 63, 64, 129):
        np.testing.assert_array_equal(out[i], affine_warp(x[i : i + 1], angle[i : i + 1], zoom[i : i + 1],
                                                          shift[i : i + 1])[0])
