"""The scikit-learn plumbing every image feature extractor shares.

Subclasses store their keyword settings unchanged in `__init__`, declare the ones a config can set
as a `Settings` schema (featpipe.settings.Section: defaults, ranges and choices in one place, checked
in `fit` and by the config reader alike) and implement three hooks:
`_check_settings(images)` (checks that need the fit images or runtime-only settings such as
`chunk_size`; raise InputError),
`_fit_images(images)` (learn state into attributes ending in `_`: arrays, numbers, strings and
tuples/lists of those only, so `featpipe.model_io` can save them without pickle) and
`_transform_images(images) -> float32 (N, D)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..settings import Section, settings_of, validate_settings
from ._images import as_image_batch, check_same_shape


class ImageFeatureExtractor(TransformerMixin, BaseEstimator):
    """Base class: uint8 images (N, H, W[, C]) in, float32 features (N, D) out."""

    #: Bump in a subclass whenever its output for the same settings and data changes
    #: (featpipe.features.cache keys on it, so stale cached features are not reused).
    CODE_VERSION = 1

    #: The settings a config may give this extractor (a subclass declares its own schema).
    Settings: type[Section] = Section

    def fit(self, X: Any, y: Any = None) -> "ImageFeatureExtractor":
        """Validate the settings against the images `X` and learn what the extractor needs."""
        images = as_image_batch(X, self._owner())
        self.settings()
        self._check_settings(images)
        self._fit_images(images)
        self.image_shape_ = tuple(int(s) for s in images.shape[1:])
        self.n_features_in_ = int(np.prod(self.image_shape_))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return the features of the images `X` as a float32 array (N, D)."""
        check_is_fitted(self, "image_shape_")
        images = as_image_batch(X, self._owner())
        check_same_shape(images, self.image_shape_, self._owner())
        features = self._transform_images(images)
        return np.asarray(features, dtype=np.float32)

    def settings(self) -> Section:
        """This extractor's declared settings, validated (InputError naming the setting if not)."""
        return validate_settings(self.Settings, settings_of(self), self._owner())

    def _owner(self) -> str:
        return type(self).__name__

    def _check_settings(self, images: np.ndarray) -> None:
        """Raise InputError if a setting is invalid (or invalid for these images)."""

    def _fit_images(self, images: np.ndarray) -> None:
        """Learn state from the validated fit images (nothing for stateless extractors)."""

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # uint8 images in, float32 features out
        tags.requires_fit = True
        return tags
