"""Test-time mirroring: an image's features as the mean of its own and its mirror image's.

A CIFAR-10 class does not change when the picture is mirrored, so scoring both and averaging
removes some of the noise of where exactly a pattern fell (test-time augmentation). For a linear
classifier, the score of the averaged features is the average of the two images' scores; the
feature normalization is affine, so averaging before or after it is the same.
Training rows are the images and (with features.train_flips) their mirrors as separate rows:
the runner computes those with the wrapped extractor directly, never through this class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import InputError
from ..imageops import flip_horizontal


def mirror_mean(features: np.ndarray, mirror_features: np.ndarray) -> np.ndarray:
    """The mean of an image's features and its mirror's, computed in place in `features`."""
    features += mirror_features
    features *= np.float32(0.5)
    return features


class MirrorAveraged(TransformerMixin, BaseEstimator):
    """Features of `features` (a feature extractor) averaged over each image and its mirror.

    `fit` fits the wrapped extractor on the images as given; `transform` returns
    ``mirror_mean(features.transform(X), features.transform(mirrored X))``.
    """

    def __init__(self, features: Any) -> None:
        self.features = features

    def fit(self, X: Any, y: Any = None) -> "MirrorAveraged":
        """Fit the wrapped extractor on `X`."""
        self.features.fit(X, y)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """float32 features (N, D): the mean of each image's and its mirror's."""
        images = np.asarray(X)
        if images.ndim != 4:
            raise InputError(f"MirrorAveraged: expected images shaped (N, H, W, C), got shape {images.shape}")
        own = np.asarray(self.features.transform(images), dtype=np.float32)
        mirror = self.features.transform(np.ascontiguousarray(flip_horizontal(images)))
        return mirror_mean(own, np.asarray(mirror, dtype=np.float32))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
