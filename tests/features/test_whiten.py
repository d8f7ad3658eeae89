"""ZcaWhitening: a direct eigendecomposition reference, whitened statistics, flips, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from featpipe.errors import InputError
from featpipe.features import ZcaWhitening, make_extractor
from featpipe.features.whiten import zca_matrix


def _reference(images: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ZCA map from np.cov over the images and their mirrors, by an independent route (SVD)."""
    both = np.concatenate([images, images[:, :, ::-1]]).reshape(2 * len(images), -1) / 255.0
    mean = both.mean(axis=0)
    covariance = np.cov(both, rowvar=False, bias=True)
    u, s, _ = np.linalg.svd(covariance)
    return mean, u @ np.diag(1.0 / np.sqrt(s + eps * s.mean())) @ u.T


def test_matches_a_direct_computation(make_smooth, rng):
    images = make_smooth(rng, 40, 6, 5)
    zca = ZcaWhitening(eps=0.05).fit(images)
    mean, whitening = _reference(images, 0.05)
    np.testing.assert_allclose(zca.mean_, mean, atol=1e-6)
    np.testing.assert_allclose(zca.whitening_, whitening, rtol=1e-4, atol=1e-4 * np.abs(whitening).max())
    features = zca.transform(images)
    assert features.dtype == np.float32 and features.shape == (40, 6 * 5 * 3)
    expected = (images.reshape(40, -1) / 255.0 - mean) @ whitening
    np.testing.assert_allclose(features, expected, atol=1e-4 * np.abs(expected).max())


def test_whitened_training_pixels_are_decorrelated_with_unit_variance(rng):
    images = rng.integers(0, 256, (300, 4, 4, 3), dtype=np.uint8)
    zca = ZcaWhitening(eps=1e-7).fit(images)
    both = np.concatenate([zca.transform(images), zca.transform(images[:, :, ::-1])]).astype(np.float64)
    np.testing.assert_allclose(both.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.cov(both, rowvar=False, bias=True), np.eye(48), atol=1e-4)


def test_whitening_commutes_with_a_left_right_flip(make_smooth, rng):
    images = make_smooth(rng, 30, 5, 7)
    zca = ZcaWhitening().fit(images)
    flipped_then_whitened = zca.transform(images[:, :, ::-1]).reshape(images.shape)
    whitened_then_flipped = zca.transform(images).reshape(images.shape)[:, :, ::-1]
    np.testing.assert_allclose(flipped_then_whitened, whitened_then_flipped, atol=1e-5)
    np.testing.assert_allclose(zca.whitening_, zca.whitening_.T, atol=1e-6)


def test_eps_keeps_low_variance_directions_from_being_amplified():
    covariance = np.diag([4.0, 1.0, 1e-8])
    hard, soft = zca_matrix(covariance, 1e-12), zca_matrix(covariance, 0.1)
    assert hard[2, 2] > 1e3 and soft[2, 2] == pytest.approx(1 / np.sqrt(1e-8 + 0.1 * (5.0 + 1e-8) / 3))
    assert soft[0, 0] == pytest.approx(1 / np.sqrt(4.0 + 0.1 * (5.0 + 1e-8) / 3))


def test_errors(rng):
    images = rng.integers(0, 256, (8, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(NotFittedError):
        ZcaWhitening().transform(images)
    with pytest.raises(InputError, match=r"eps"):
        ZcaWhitening(eps=0).fit(images)
    zca = make_extractor("zca", eps=0.2).fit(images)
    with pytest.raises(InputError, match=r"\(4, 4, 3\)"):
        zca.transform(images[:, :3])
