"""Test-time mirroring: score an image and its mirror image, and average.

A CIFAR-10 class does not change when the picture is mirrored, so scoring both and averaging
removes some of the noise of where exactly a pattern fell (test-time augmentation). For a linear
classifier, the score of the averaged features is the average of the two images' scores (the
feature normalization is affine, so averaging before or after it is the same): `MirrorAveraged`
averages the features. A non-linear classifier (the MLP) sees averaged features unlike any it
trained on, so for it `MirrorPaired` passes both feature vectors side by side and `MirrorVote`
averages the classifier's probabilities (else its scores) over the pair.
Training rows are the images and (with features.train_flips) their mirrors as separate rows:
the runner computes those with the wrapped extractor directly, never through these classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.metaestimators import available_if

from ..errors import InputError
from ..imageops import flip_horizontal


def mirror_mean(features: np.ndarray, mirror_features: np.ndarray) -> np.ndarray:
    """The mean of an image's features and its mirror's, computed in place in `features`."""
    features += mirror_features
    features *= np.float32(0.5)
    return features


class _Mirrored(TransformerMixin, BaseEstimator):
    """Features of `features` (a fitted-on-originals extractor) for each image and its mirror."""

    def __init__(self, features: Any) -> None:
        self.features = features

    def fit(self, X: Any, y: Any = None):
        """Fit the wrapped extractor on `X`, the images as given."""
        self.features.fit(X, y)
        return self

    def _both(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        images = np.asarray(X)
        if images.ndim != 4:
            raise InputError(f"{type(self).__name__}: expected images shaped (N, H, W, C), got shape {images.shape}")
        own = np.asarray(self.features.transform(images), dtype=np.float32)
        mirror = self.features.transform(np.ascontiguousarray(flip_horizontal(images)))
        return own, np.asarray(mirror, dtype=np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags


class MirrorAveraged(_Mirrored):
    """Features averaged over each image and its mirror, (N, D): for a linear classifier."""

    def transform(self, X: Any) -> np.ndarray:
        """float32 ``mirror_mean(features(X), features(mirrored X))``."""
        return mirror_mean(*self._both(X))


class MirrorPaired(_Mirrored):
    """Features of each image and its mirror side by side, (N, 2 D), own first: for `MirrorVote`."""

    def transform(self, X: Any) -> np.ndarray:
        """float32 ``[features(X) | features(mirrored X)]``."""
        return np.concatenate(self._both(X), axis=1)


class MirrorVote(ClassifierMixin, BaseEstimator):
    """A fitted `classifier` scoring `MirrorPaired` rows: the mean of its output over the pair.

    `fit` trains the wrapped classifier on plain (unpaired) feature rows.
    """

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier

    @property
    def classes_(self) -> np.ndarray:
        return self.classifier.classes_

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self.classifier, "classes_")

    def fit(self, X: Any, y: Any) -> "MirrorVote":
        """Fit the wrapped classifier on plain feature rows `X` (not pairs)."""
        self.classifier.fit(X, y)
        return self

    def _halves(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] % 2:
            raise InputError(f"MirrorVote: expected paired features (N, 2 D) from MirrorPaired, got shape {X.shape}")
        half = X.shape[1] // 2
        return X[:, :half], X[:, half:]

    def _has_probabilities(self) -> bool:
        return hasattr(self.classifier, "predict_proba")

    def _pair_mean(self, score, X: Any) -> np.ndarray:
        """float32 mean of `score` (a method of the classifier) over each image and its mirror."""
        own, mirror = self._halves(X)
        return mirror_mean(np.asarray(score(own), dtype=np.float32), np.asarray(score(mirror), dtype=np.float32))

    @available_if(_has_probabilities)
    def predict_proba(self, X: Any) -> np.ndarray:
        """The mean of the classifier's class probabilities over each image and its mirror."""
        return self._pair_mean(self.classifier.predict_proba, X)

    def decision_function(self, X: Any) -> np.ndarray:
        """The mean of the classifier's decision values over each image and its mirror."""
        return self._pair_mean(self.classifier.decision_function, X)

    def predict(self, X: Any) -> np.ndarray:
        """The class of highest mean probability (mean decision value without probabilities)."""
        scores = self.predict_proba(X) if self._has_probabilities() else self.decision_function(X)
        if scores.ndim == 1:  # binary decision values: positive means classes_[1]
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]


def unmirrored(step: Any) -> Any:
    """The extractor or classifier inside a test-time mirroring wrapper, else `step` itself."""
    if isinstance(step, _Mirrored):
        return step.features
    return step.classifier if isinstance(step, MirrorVote) else step
