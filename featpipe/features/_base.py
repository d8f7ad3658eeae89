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

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (scikit-learn's API, so Pipeline / FeatureUnion can name them).

        Where the layout is known the names say what a column is (``hog_block0_1_cell1_0_bin3``,
        ``color_cell2_bin17``, ``raw_y4_x7_c2``); otherwise ``<kind>0 .. <kind>{D-1}``, D the
        output width. `input_features` is accepted for the API and ignored: the input is pixels.
        """
        check_is_fitted(self, "image_shape_")
        kind = self._kind()
        namer = _NAMERS.get(kind)
        names = namer(self) if namer is not None else None
        if names is None:
            probe = np.zeros((1, *self.image_shape_), dtype=np.uint8)
            width = int(np.asarray(self._transform_images(probe)).shape[1])
            names = [f"{kind}{i}" for i in range(width)]
        return np.asarray(names, dtype=object)

    def _kind(self) -> str:
        """The extractor's name in the registry (``hog``), else its class name in lower case."""
        from . import EXTRACTORS

        return next((kind for kind, cls in EXTRACTORS.items() if type(self) is cls), type(self).__name__.lower())

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


def _hog_names(hog) -> list[str]:
    """``hog_block{r}_{c}_cell{i}_{j}_bin{k}``, in the output's (skimage's) order; each of
    `extra_cell_sizes` follows as ``hog{rows}x{cols}_block...``."""
    settings = hog.settings()
    pair = lambda v: (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))  # noqa: E731
    cpb = pair(settings.cells_per_block)
    names = []
    for scale, cell in enumerate([settings.pixels_per_cell, *settings.extra_cell_sizes]):
        ppc = pair(cell)
        prefix = "hog" if scale == 0 else f"hog{ppc[0]}x{ppc[1]}"
        blocks = [hog.image_shape_[k] // ppc[k] - cpb[k] + 1 for k in (0, 1)]
        names += [f"{prefix}_block{r}_{c}_cell{i}_{j}_bin{k}"
                  for r in range(blocks[0]) for c in range(blocks[1])
                  for i in range(cpb[0]) for j in range(cpb[1]) for k in range(int(settings.orientations))]
    return names


def _color_names(color) -> list[str]:
    """``color_cell{g}_bin{k}`` (``color_bin{k}`` for a single cell), cells row by row."""
    from .color import _CHANNELS_PER_SPACE

    settings = color.settings()
    n_bins = int(settings.bins) ** _CHANNELS_PER_SPACE[settings.space]
    cells = int(settings.grid) ** 2
    return [f"color_bin{k}" if cells == 1 else f"color_cell{g}_bin{k}" for g in range(cells) for k in range(n_bins)]


def _raw_names(raw) -> list[str]:
    """``raw_y{row}_x{col}_c{channel}``, pixels row by row (the images' memory order)."""
    height, width, *rest = raw.image_shape_
    channels = rest[0] if rest else 1
    return [f"raw_y{y}_x{x}_c{c}" for y in range(height) for x in range(width) for c in range(channels)]


#: Extractors whose column layout is known cheaply; the others get numbered names.
_NAMERS = {"hog": _hog_names, "color": _color_names, "raw": _raw_names}
