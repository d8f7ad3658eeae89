"""Compute features once per (data, extractor settings, code version) and reuse them.

Experiments sweep classifier settings far more often than feature settings; computing HOG or a
bag of visual words again for every classifier would dominate the run time. A `FeatureCache`
stores fitted extractors (pickle-free, through `featpipe.model_io`) and feature arrays under keys
that hash everything their value depends on, so a changed setting or a new code version simply
misses. Every write is atomic (temporary file + rename), so concurrent writers of one key never
leave a torn file, and an unreadable entry counts as a miss and is overwritten.

Layout under `root`: ``features/<key>.npy`` and ``estimators/<key>.json`` + ``<key>.npz``
(the JSON holds the model_io tree and the SHA-256 of the .npz it belongs with).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from sklearn.base import clone

import featpipe

from .. import atomic, model_io

logger = logging.getLogger(__name__)

_KEY_FORMAT = 1


class FeatureCache:
    """Feature arrays and fitted extractors on disk, keyed by `key(*parts)`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ keys

    @staticmethod
    def key(*parts: Any) -> str:
        """Stable SHA-256 hex key over JSON-able parts (tuples count as lists, dict keys are sorted)."""
        try:
            text = json.dumps([_KEY_FORMAT, *parts], sort_keys=True, separators=(",", ":"), default=_jsonable)
        except TypeError as exc:
            raise TypeError(f"FeatureCache.key: parts must be JSON-able ({exc})") from None
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # ------------------------------------------------------------------ features

    def _features_path(self, key: str) -> Path:
        return self.root / "features" / f"{_checked(key)}.npy"

    def has_features(self, key: str) -> bool:
        """Whether an entry exists for `key` (it may still turn out unreadable when loaded)."""
        return self._features_path(key).is_file()

    def load_features(self, key: str) -> np.ndarray | None:
        """The cached array for `key`, or None if absent or unreadable."""
        path = self._features_path(key)
        if not path.is_file():
            return None
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            logger.warning("feature cache: ignoring unreadable %s (%s); it will be recomputed", path, exc)
            return None
        return array

    def save_features(self, key: str, array: np.ndarray) -> None:
        """Store `array` under `key` atomically (replacing any previous or corrupt entry)."""
        atomic.save_npy(self._features_path(key), np.asarray(array))

    # ------------------------------------------------------------------ estimators

    def _estimator_paths(self, key: str) -> tuple[Path, Path]:
        base = self.root / "estimators" / _checked(key)
        return base.with_suffix(".json"), base.with_suffix(".npz")

    def load_estimator(self, key: str) -> Any | None:
        """The fitted estimator cached under `key`, or None if absent, torn or unreadable."""
        json_path, npz_path = self._estimator_paths(key)
        if not (json_path.is_file() and npz_path.is_file()):
            return None
        try:
            document = json.loads(json_path.read_text(encoding="utf-8"))
            payload = npz_path.read_bytes()
            if document.get("npz_sha256") != hashlib.sha256(payload).hexdigest():
                raise ValueError("the .npz does not belong with this .json (written concurrently or damaged)")
            with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            return model_io.from_state(document["tree"], arrays)
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is a miss, never a crash
            logger.warning("feature cache: ignoring unreadable estimator %s (%s); it will be refitted", json_path, exc)
            return None

    def save_estimator(self, key: str, estimator: Any) -> None:
        """Store a fitted estimator under `key`: its arrays as .npz, its structure as JSON, each atomically."""
        tree, arrays = model_io.to_state(estimator)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        payload = buffer.getvalue()
        json_path, npz_path = self._estimator_paths(key)
        atomic.write_bytes(npz_path, payload)
        atomic.write_json(json_path, {"npz_sha256": hashlib.sha256(payload).hexdigest(), "tree": tree})


def extractor_description(extractor: Any) -> dict[str, Any]:
    """What an extractor's output depends on: class path, code version and settings, recursively."""
    cls = type(extractor)
    params = extractor.get_params(deep=False)
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "code_version": getattr(extractor, "CODE_VERSION", 0),
        "params": {name: _describe_value(value) for name, value in sorted(params.items())},
    }


def fit_transform_cached(
    extractor: Any,
    fit_images: np.ndarray,
    fit_fingerprint: str,
    splits: Mapping[str, tuple[np.ndarray, str]],
    cache: FeatureCache | None,
    seed: int | None,
) -> tuple[Any, dict[str, np.ndarray], dict[str, float], dict[str, bool]]:
    """Fit `extractor` (a clone of it) on `fit_images` and compute each split's features, via the cache.

    Parameters
    ----------
    extractor : unfitted feature extractor (left unchanged; a clone is fitted)
    fit_images : images to fit on; `fit_fingerprint` identifies them (e.g. a hash of the data)
    splits : name -> (images, fingerprint) to compute features for
    cache : where to look first and store after computing; None computes everything
    seed : the run's seed, part of every key

    Returns
    -------
    fitted extractor, {split: float32 features}, {"fit" or split: seconds spent computing or
    loading}, {"fit" or split: True if it came from the cache}.
    """
    description = extractor_description(extractor)
    version = featpipe.__version__
    timings: dict[str, float] = {}
    hits: dict[str, bool] = {}
    features: dict[str, np.ndarray] = {}

    def feature_key(fingerprint: str) -> str:
        return FeatureCache.key("features", description, version, fit_fingerprint, seed, fingerprint)

    start = time.perf_counter()
    estimator_key = FeatureCache.key("estimator", description, version, fit_fingerprint, seed)
    fitted = cache.load_estimator(estimator_key) if cache is not None else None
    hits["fit"] = fitted is not None
    if fitted is None:
        fitted = clone(extractor)
        # When a split is the fit data itself and is not cached yet, fit_transform computes its
        # features in the same pass (FeatureConcat would otherwise transform it twice).
        same = [name for name, (_, fp) in splits.items() if fp == fit_fingerprint
                and (cache is None or not cache.has_features(feature_key(fp)))]
        if same:
            features[same[0]] = np.asarray(fitted.fit_transform(fit_images), dtype=np.float32)
        else:
            fitted.fit(fit_images)
        if cache is not None:
            cache.save_estimator(estimator_key, fitted)
    timings["fit"] = time.perf_counter() - start

    for name, (images, fingerprint) in splits.items():
        start = time.perf_counter()
        key = feature_key(fingerprint)
        if name in features:
            hits[name] = False
            if cache is not None:
                cache.save_features(key, features[name])
            timings[name] = time.perf_counter() - start
            continue
        cached = cache.load_features(key) if cache is not None else None
        hits[name] = cached is not None
        if cached is None:
            cached = np.asarray(fitted.transform(images), dtype=np.float32)
            if cache is not None:
                cache.save_features(key, cached)
        features[name] = cached
        timings[name] = time.perf_counter() - start
    return fitted, features, timings, hits


def _describe_value(value: Any) -> Any:
    if hasattr(value, "get_params") and not isinstance(value, type):
        return extractor_description(value)
    if isinstance(value, (list, tuple)):
        return [_describe_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe_value(v) for k, v in value.items()}
    return _jsonable(value) if not isinstance(value, (str, int, float, bool, type(None))) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def _checked(key: str) -> str:
    if not (isinstance(key, str) and len(key) == 64 and all(c in "0123456789abcdef" for c in key)):
        raise ValueError(f"not a cache key (64 hex digits from FeatureCache.key): {key!r}")
    return key
