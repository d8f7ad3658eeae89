"""RawPixels: pixel / 255 in (H, W, C) order; input checks shared by every extractor."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from featpipe.errors import InputError
from featpipe.features import RawPixels


def test_flattens_to_unit_range_in_hwc_order(random_images):
    features = RawPixels().fit(random_images).transform(random_images)
    assert features.dtype == np.float32 and features.shape == (6, 32 * 32 * 3)
    np.testing.assert_array_equal(features, (random_images.reshape(6, -1) / np.float32(255)).astype(np.float32))
    assert features[0, 5] == np.float32(random_images[0, 0, 1, 2] / np.float32(255))


def test_gray_batches_are_single_channel(random_images):
    gray = random_images[..., 0]
    extractor = RawPixels().fit(gray)
    assert extractor.image_shape_ == (32, 32, 1) and extractor.n_features_in_ == 1024
    assert extractor.transform(gray).shape == (6, 1024)


def test_errors(random_images):
    with pytest.raises(NotFittedError):
        RawPixels().transform(random_images)
    with pytest.raises(InputError, match=r"uint8.*float64"):
        RawPixels().fit(random_images / 255.0)
    with pytest.raises(InputError, match=r"empty batch"):
        RawPixels().fit(np.zeros((0, 4, 4), np.uint8))
    extractor = RawPixels().fit(random_images)
    with pytest.raises(InputError, match=r"\(32, 32, 3\) \(3072 values each\).*\(32, 32, 1\) \(1024 values each\)"):
        extractor.transform(random_images[..., :1])
