"""featpipe.standardize: statistics against direct numpy computations, the constant-column guard."""

import numpy as np
import pytest

from featpipe.standardize import apply_standardization, fit_standardization


def _data(n=5000, d=12, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * np.arange(1, d + 1) + 100).astype(np.float32)


def test_per_feature_statistics_match_numpy_float64():
    X = _data()  # more rows than one block, so the blockwise sums are exercised
    mean, scale = fit_standardization(X)
    assert mean.dtype == scale.dtype == np.float32
    np.testing.assert_allclose(mean, X.astype(np.float64).mean(axis=0), rtol=1e-7)
    np.testing.assert_allclose(scale, X.astype(np.float64).std(axis=0), rtol=1e-6)


def test_per_channel_statistics_pool_every_pixel_of_a_channel():
    X = _data(d=4 * 3)  # rows of 2x2 pixels with 3 channels, in (H, W, C) order
    mean, scale = fit_standardization(X, channels=3)
    pixels = X.astype(np.float64).reshape(-1, 3)
    np.testing.assert_allclose(mean, np.tile(pixels.mean(axis=0), 4), rtol=1e-7)
    np.testing.assert_allclose(scale, np.tile(pixels.std(axis=0), 4), rtol=1e-6)


def test_blocks_are_weighed_by_one_over_the_square_root_of_their_width():
    X = _data(d=10)
    _, plain = fit_standardization(X)
    _, weighed = fit_standardization(X, blocks=[(0, 4), (4, 10)])
    np.testing.assert_allclose(weighed, plain * np.repeat([2.0, np.sqrt(6.0)], [4, 6]), rtol=1e-6)
    standardized = apply_standardization(X, *fit_standardization(X, blocks=[(0, 4), (4, 10)]))
    for start, stop in [(0, 4), (4, 10)]:
        assert standardized[:, start:stop].var(axis=0).sum() == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("value", [0.0, 0.1, 250.0, -3e4])
def test_constant_columns_are_centred_not_blown_up(value):
    X = _data(n=300, d=3)
    X[:, 1] = value
    mean, scale = fit_standardization(X)
    assert scale[1] == 1.0 and mean[1] == np.float32(value)
    out = apply_standardization(X, mean, scale)
    assert np.all(out[:, 1] == 0) and np.isfinite(out).all()


def test_apply_in_place_and_into_a_new_array_agree_with_the_formula():
    X = _data(n=5000, d=6)
    mean, scale = fit_standardization(X)
    fresh = apply_standardization(X, mean, scale)
    np.testing.assert_allclose(fresh, (X - mean) / scale, rtol=1e-6, atol=1e-6)
    copy = X.copy()
    assert apply_standardization(copy, mean, scale, out=copy) is copy
    np.testing.assert_array_equal(copy, fresh)
