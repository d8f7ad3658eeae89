"""Properties of batch augmentation."""

import numpy as np
import pytest

from featpipe.nn.augment import augment_batch, flip_horizontal, random_crop, random_flip


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


def test_random_crop_keeps_shape_and_pads_with_zeros():
    x = _batch(n=200)
    pad = 2
    out = random_crop(x, pad, np.random.default_rng(2))
    assert out.shape == x.shape and out.dtype == x.dtype
    for o, i in zip(out, x):
        # Each output is the padded input shifted by (dy, dx) in [-pad, pad]; find it.
        padded = np.zeros((x.shape[1] + 2 * pad, x.shape[2] + 2 * pad, x.shape[3]), x.dtype)
        padded[pad:-pad, pad:-pad] = i
        matches = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if np.array_equal(o, padded[dy : dy + x.shape[1], dx : dx + x.shape[2]])
        ]
        assert len(matches) == 1
    zero_rows = np.all(out == 0, axis=(2, 3))
    assert zero_rows.any()  # some images were shifted vertically, filling with zero pixels
    assert not np.any((out > 0) & (out < 1.0))  # every value is a pad zero or an input value


def test_crop_zero_pad_and_combined_pipeline():
    x = _batch()
    np.testing.assert_array_equal(random_crop(x, 0, np.random.default_rng(0)), x)
    out = augment_batch(x, np.random.default_rng(3), flip=True, crop=1)
    assert out.shape == x.shape
    with pytest.raises(ValueError, match=r"shaped \(N, H, W, C\)"):
        random_flip(x[0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="pad=-1"):
        random_crop(x, -1, np.random.default_rng(0))


def test_crop_fill_value_per_channel():
    x = _batch(n=100)
    fill = np.array([-1.0, -2.0, -3.0], dtype=np.float32)
    out = random_crop(x, 1, np.random.default_rng(4), fill)
    border = out[np.all(out < 0, axis=3)]  # pixels that came from the padding
    assert len(border) > 0 and np.all(border == fill)
