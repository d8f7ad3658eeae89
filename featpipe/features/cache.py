"""Compute features once per (data, extractor settings, code version) and reuse them.

Experiments sweep classifier settings far more often than feature settings; computing HOG or a
bag of visual words again for every classifier would dominate the run time. A `FeatureCache`
stores fitted extractors (pickle-free, through `featpipe.model_io`) and feature arrays under keys
that hash everything their value depends on, so a changed setting or a new code version simply
misses. Every write is atomic (temporary file + rename), so concurrent writers of one key never
leave a torn file, and an unreadable entry counts as a miss and is overwritten.

Layout under `root`: ``features/<key>.npy`` and ``estimators/<key>.json`` + ``<key>.npz``
(the JSON holds the model_io tree and the SHA-256 of the .npz it belongs with).

Each entry also keeps what it cost: the seconds the run that produced it spent computing it
(in the estimator's JSON, and in ``costs/<key>.json`` beside a feature array), so a run whose
features come from the cache can still report what they take to compute. Entries written
before costs were kept have none: their cost is unknown (None), never guessed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import time
from dataclasses import dataclass
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

    def save_features(self, key: str, array: np.ndarray, seconds: float | None = None, *,
                      with_fit: bool = False) -> None:
        """Store `array` under `key` atomically (replacing any previous or corrupt entry), with its cost.

        `seconds` is what computing it took (the time of writing it is added, so the entry costs
        what its run spent on it); `with_fit` says it was computed in the same pass as the
        extractor's fit, whose cost holds its computing.
        """
        start = time.perf_counter()
        atomic.save_npy(self._features_path(key), np.asarray(array))
        if seconds is not None:
            cost = {"seconds": round(seconds + time.perf_counter() - start, 4), "with_fit": with_fit}
            atomic.write_json(self._cost_path(key), cost)

    def _cost_path(self, key: str) -> Path:
        return self.root / "costs" / f"{_checked(key)}.json"

    def features_cost(self, key: str) -> dict:
        """What the features under `key` cost their run: ``{"seconds": float | None, "with_fit": bool}``.

        ``seconds`` is None when the entry kept no cost (written by an older featpipe); with
        ``with_fit`` it is only the writing, the computing being in the fit's cost.
        """
        document = _read_json(self._cost_path(key))
        return {"seconds": _seconds(document.get("seconds")), "with_fit": document.get("with_fit") is True}

    # ------------------------------------------------------------------ estimators

    def _estimator_paths(self, key: str, digest: str | None = None) -> tuple[Path, Path]:
        """The .json of `key`, and the .npz it names: ``<key>.<digest>.npz``, so two writers of
        one key each write their own arrays and the .json written last always names its own
        (``<key>.npz`` without a digest: entries written before arrays were named by content)."""
        base = self.root / "estimators" / _checked(key)
        npz = base.with_suffix(".npz") if digest is None else base.with_name(f"{base.name}.{digest[:16]}.npz")
        return base.with_suffix(".json"), npz

    def load_estimator(self, key: str) -> Any | None:
        """The fitted estimator cached under `key`, or None if absent, torn or unreadable."""
        json_path = self._estimator_paths(key)[0]
        if not json_path.is_file():
            return None
        try:
            document = json.loads(json_path.read_text(encoding="utf-8"))
            npz_path = self._estimator_paths(key, str(document.get("npz_sha256")))[1]
            if not npz_path.is_file():
                npz_path = self._estimator_paths(key)[1]
            payload = npz_path.read_bytes()
            if document.get("npz_sha256") != hashlib.sha256(payload).hexdigest():
                raise ValueError("the .npz does not belong with this .json (written concurrently or damaged)")
            with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            return model_io.from_state(document["tree"], arrays)
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is a miss, never a crash
            logger.warning("feature cache: ignoring unreadable estimator %s (%s); it will be refitted", json_path, exc)
            return None

    def save_estimator(self, key: str, estimator: Any, seconds: float | None = None, *,
                       transform_included: bool = False) -> None:
        """Store a fitted estimator under `key`: its arrays as .npz, its structure as JSON, each atomically.

        `seconds` is what fitting took (the time of writing it is added); `transform_included`
        says it includes transforming the fit images (fit_transform in one pass).
        """
        start = time.perf_counter()
        tree, arrays = model_io.to_state(estimator)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        payload = buffer.getvalue()
        digest = hashlib.sha256(payload).hexdigest()
        json_path, npz_path = self._estimator_paths(key, digest)
        atomic.write_bytes(npz_path, payload)
        document = {"npz_sha256": digest, "tree": tree}
        if seconds is not None:  # plus the time of writing it, so the entry costs what its run spent
            document.update(seconds=round(seconds + time.perf_counter() - start, 4),
                            transform_included=transform_included)
        atomic.write_json(json_path, document)  # last: the entry exists once it names its arrays

    def estimator_cost(self, key: str) -> dict:
        """What fitting the estimator under `key` cost: ``{"seconds": float | None, "transform_included": bool}``
        (seconds None: an entry written before costs were kept)."""
        document = _read_json(self._estimator_paths(key)[0])
        return {"seconds": _seconds(document.get("seconds")),
                "transform_included": document.get("transform_included") is True}


def extractor_description(extractor: Any) -> dict[str, Any]:
    """What an extractor's output depends on: class path, code version and settings, recursively."""
    cls = type(extractor)
    params = extractor.get_params(deep=False)
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "code_version": getattr(extractor, "CODE_VERSION", 0),
        "params": {name: _describe_value(value) for name, value in sorted(params.items())},
    }


@dataclass
class CachedFeatures:
    """What `cached_features` returns.

    Attributes
    ----------
    fitted : the fitted extractor.
    features : {split: float32 features}.
    seconds : {"fit" or split: seconds this call spent computing or loading it}.
    hits : {"fit" or split: True if it came from the cache}.
    cost : {"fit" or split: seconds it took here, or for a cache hit the run that cached it; None
        where an older cache entry kept no cost}. A split computed in the fit's pass (fit_transform)
        costs only its writing: computing it is in the fit's cost.
    """

    fitted: Any
    features: dict[str, np.ndarray]
    seconds: dict[str, float]
    hits: dict[str, bool]
    cost: dict[str, float | None]


def cached_features(
    extractor: Any,
    fit_images: np.ndarray,
    fit_fingerprint: str,
    splits: Mapping[str, tuple[np.ndarray, str]],
    cache: FeatureCache | None,
    seed: int | None,
) -> CachedFeatures:
    """Fit `extractor` (a clone of it) on `fit_images` and compute each split's features, via the cache.

    Parameters
    ----------
    extractor : unfitted feature extractor (left unchanged; a clone is fitted)
    fit_images : images to fit on; `fit_fingerprint` identifies them (e.g. a hash of the data)
    splits : name -> (images, fingerprint) to compute features for
    cache : where to look first and store after computing (with what computing took); None
        computes everything
    seed : the run's seed, part of every key
    """
    description = extractor_description(extractor)
    version = featpipe.__version__
    timings: dict[str, float] = {}
    hits: dict[str, bool] = {}
    cost: dict[str, float | None] = {}
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
        transform_included = bool(same)
        if cache is not None:
            cache.save_estimator(estimator_key, fitted, time.perf_counter() - start,
                                 transform_included=transform_included)
    else:
        stored = cache.estimator_cost(estimator_key)
        cost["fit"], transform_included = stored["seconds"], stored["transform_included"]
    timings["fit"] = time.perf_counter() - start
    cost.setdefault("fit", timings["fit"])

    for name, (images, fingerprint) in splits.items():
        start = time.perf_counter()
        key = feature_key(fingerprint)
        if name in features:  # computed by the fit's pass: only writing it is this stage's
            hits[name] = False
            if cache is not None:
                cache.save_features(key, features[name], 0.0, with_fit=True)
        else:
            cached = cache.load_features(key) if cache is not None else None
            hits[name] = cached is not None
            if cached is None:
                cached = np.asarray(fitted.transform(images), dtype=np.float32)
                if cache is not None:
                    cache.save_features(key, cached, time.perf_counter() - start)
            else:
                stored = cache.features_cost(key)
                # computed in the pass of a fit this run did not reuse: that cost cannot be split off
                separable = not stored["with_fit"] or (hits["fit"] and transform_included)
                cost[name] = stored["seconds"] if separable else None
            features[name] = cached
        timings[name] = time.perf_counter() - start
        cost.setdefault(name, timings[name])
    return CachedFeatures(fitted, features, timings, hits, cost)


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


def _read_json(path: Path) -> dict:
    """A small JSON object on disk, {} when absent or unreadable (a cost is then unknown)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _seconds(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return float(value) if ok else None


def _checked(key: str) -> str:
    if not (isinstance(key, str) and len(key) == 64 and all(c in "0123456789abcdef" for c in key)):
        raise ValueError(f"not a cache key (64 hex digits from FeatureCache.key): {key!r}")
    return key
