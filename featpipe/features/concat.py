"""Concatenate several feature extractors' outputs into one standardized feature vector.

Like scikit-learn's FeatureUnion (same (name, transformer) list, `get_params(deep=True)` and
`set_params(name__param=...)`), plus a learned normalization so that no block drowns the others:
a 512-bin colour histogram would otherwise outweigh a 324-value HOG descriptor by size alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted

from ..errors import InputError
from ..standardize import apply_standardization, fit_standardization
from ._images import check_choice

NORMALIZATIONS = ("block", "standard", "none")


class FeatureConcat(TransformerMixin, _BaseComposition):
    """Fit several extractors on the same images and concatenate their features.

    Parameters
    ----------
    extractors : list of (str, transformer)
        Named extractors, fitted in place in `fit` (as FeatureUnion does).
    normalize : {"block", "standard", "none"}
        "standard": standardize each feature with the training mean and std. "block": standardize,
        then scale each extractor's block by 1 / sqrt(its dimension), so every block has total
        variance 1 whatever its size. "none": concatenate as is. Constant features get std 1
        (see `featpipe.standardize`, which also explains why an MLP re-standardizes them).

    Learned attributes: `mean_` and `scale_` (float32 (D,), transform computes
    (features - mean_) / scale_), `block_slices_` (dict name -> (start, stop): the block's columns,
    e.g. ``features[:, slice(*concat.block_slices_["hog"])]``) and `n_features_out_`.
    """

    CODE_VERSION = 1

    def __init__(self, *, extractors: list[tuple[str, Any]], normalize: str = "block") -> None:
        self.extractors = extractors
        self.normalize = normalize

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters, including `name` and `name__param` of every extractor when `deep`."""
        return self._get_params("extractors", deep=deep)

    def set_params(self, **params: Any) -> "FeatureConcat":
        """Set parameters; `name=transformer` replaces an extractor, `name__param=v` reaches into it."""
        self._set_params("extractors", **params)
        return self

    def fit(self, X: Any, y: Any = None) -> "FeatureConcat":
        """Fit every extractor on `X` and learn the normalization of the concatenated features."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, and return the normalized features of `X`, transforming each extractor only once."""
        self._check_settings()
        blocks = [np.asarray(extractor.fit_transform(X, y), dtype=np.float32) for _, extractor in self.extractors]
        self._check_blocks(blocks)
        widths = [block.shape[1] for block in blocks]
        features = np.concatenate(blocks, axis=1)
        del blocks
        self.block_slices_ = {}
        start = 0
        for (name, _), width in zip(self.extractors, widths):
            self.block_slices_[name] = (start, start + width)
            start += width
        self.n_features_out_ = int(features.shape[1])
        self.mean_, self.scale_ = self._fit_normalization(features)
        return self._apply(features)

    @classmethod
    def of_fitted(cls, extractors: list[tuple[str, Any]], widths: list[int]) -> "FeatureConcat":
        """The concatenation, unnormalized, of extractors already fitted elsewhere (their outputs
        `widths` columns wide): how a fusion run's model puts its members' features side by side."""
        concat = cls(extractors=extractors, normalize="none")
        concat._check_settings()
        concat.block_slices_, start = {}, 0
        for (name, _), width in zip(extractors, widths):
            concat.block_slices_[name] = (start, start + int(width))
            start += int(width)
        concat.n_features_out_ = start
        concat.mean_, concat.scale_ = np.zeros(start, np.float32), np.ones(start, np.float32)
        return concat

    def transform(self, X: Any) -> np.ndarray:
        """Concatenated, normalized float32 features (N, D) of `X`."""
        check_is_fitted(self, "mean_")
        blocks = [np.asarray(extractor.transform(X), dtype=np.float32) for _, extractor in self.extractors]
        self._check_blocks(blocks)
        features = np.concatenate(blocks, axis=1)
        if features.shape[1] != self.n_features_out_:
            raise InputError(
                f"FeatureConcat: extractors now give {features.shape[1]} features, but "
                f"{self.n_features_out_} were seen in fit; refit after changing an extractor"
            )
        return self._apply(features)

    def _check_settings(self) -> None:
        check_choice("FeatureConcat", "normalize", self.normalize, NORMALIZATIONS)
        if not isinstance(self.extractors, (list, tuple)) or len(self.extractors) == 0:
            raise InputError(f"FeatureConcat: extractors={self.extractors!r} must be a non-empty list of (name, transformer) pairs")
        for item in self.extractors:
            if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
                raise InputError(f"FeatureConcat: each extractor must be a (name, transformer) pair; got {item!r}")
            name, extractor = item
            if not (hasattr(extractor, "fit_transform") and hasattr(extractor, "transform")):
                raise InputError(f"FeatureConcat: extractor {name!r} ({type(extractor).__name__}) has no fit_transform/transform")
        names = [name for name, _ in self.extractors]
        try:
            self._validate_names(names)
        except ValueError as exc:
            raise InputError(f"FeatureConcat: invalid extractor names {names}: {exc}") from None

    def _check_blocks(self, blocks: list[np.ndarray]) -> None:
        for (name, _), block in zip(self.extractors, blocks):
            if block.ndim != 2:
                raise InputError(f"FeatureConcat: extractor {name!r} returned shape {block.shape}, expected (n_samples, n_features)")
            if not np.isfinite(block).all():
                raise InputError(f"FeatureConcat: extractor {name!r} returned NaN or infinite features")
        if len({block.shape[0] for block in blocks}) != 1:
            raise InputError(f"FeatureConcat: extractors returned different numbers of rows: {[b.shape[0] for b in blocks]}")

    def _fit_normalization(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.normalize == "none":
            n_features = features.shape[1]
            return np.zeros(n_features, np.float32), np.ones(n_features, np.float32)
        blocks = self.block_slices_.values() if self.normalize == "block" else ()
        return fit_standardization(features, blocks=blocks)

    def _apply(self, features: np.ndarray) -> np.ndarray:
        return apply_standardization(features, self.mean_, self.scale_, out=features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
