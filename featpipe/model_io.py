"""Save and load fitted estimators without pickle: JSON for structure, `.npz` for arrays.

An estimator is stored as its class path, its constructor parameters (`get_params(deep=False)`)
and its learned attributes (public names ending in `_`). Values may be JSON scalars, strings,
lists, tuples, dicts, numpy arrays and nested estimators, recursively. Loading imports only
classes from featpipe itself or from an explicit scikit-learn allowlist, and reads arrays with
`allow_pickle=False`, so a crafted model file cannot run code.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .errors import ModelError

FORMAT_VERSION = 1

#: scikit-learn classes a model file may name (featpipe's own classes are always allowed).
SKLEARN_ALLOWLIST = frozenset(
    {
        "sklearn.pipeline.Pipeline",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.svm._classes.LinearSVC",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._logistic.LogisticRegression",
    }
)

# Learned attributes that are derived, huge or unsafe to round-trip; rebuilt or unneeded.
_SKIP_ATTRIBUTES = frozenset({"loss_function_", "_loss_function_", "feature_names_in_"})


def save(estimator: Any, directory: str | os.PathLike, name: str = "model") -> None:
    """Write `estimator` as `<name>.json` and `<name>.npz` in `directory`, atomically each."""
    directory = Path(directory)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(estimator, arrays)
    document = {"format": "featpipe-model", "format_version": FORMAT_VERSION, "root": tree}
    atomic.save_npz(directory / f"{name}.npz", arrays)
    atomic.write_json(directory / f"{name}.json", document)


def load(directory: str | os.PathLike, name: str = "model") -> Any:
    """Rebuild the estimator saved by `save` in `directory`."""
    directory = Path(directory)
    json_path, npz_path = directory / f"{name}.json", directory / f"{name}.npz"
    for path in (json_path, npz_path):
        if not path.is_file():
            raise ModelError(f"{path}: no saved model here (expected {name}.json and {name}.npz)")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{json_path}: not a readable model file ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != "featpipe-model":
        raise ModelError(f"{json_path}: not a featpipe model file")
    if document.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{json_path}: model format version {document.get('format_version')!r} is not "
            f"supported (this featpipe reads version {FORMAT_VERSION})"
        )
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"{npz_path}: not a readable array file ({exc})") from None
    try:
        return _decode(document["root"], arrays)
    except ModelError as exc:
        raise ModelError(f"{json_path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{json_path}: malformed model file ({exc!r})") from None


def to_state(estimator: Any) -> tuple[dict, dict[str, np.ndarray]]:
    """Return the (JSON tree, arrays) pair that `save` writes, for in-memory use."""
    arrays: dict[str, np.ndarray] = {}
    return _encode(estimator, arrays), arrays


def from_state(tree: dict, arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of `to_state`."""
    return _decode(tree, arrays)


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and not isinstance(value, type)


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value if not isinstance(value, float) or np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic):
        return _encode(value.item(), arrays)
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"__tuple__": [_encode(v, arrays) for v in value.tolist()], "__objarray__": True}
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ModelError(f"cannot save a dict with non-string keys: {list(value)[:3]}")
        return {"__dict__": {k: _encode(v, arrays) for k, v in value.items()}}
    if isinstance(value, Path):
        return str(value)
    if _is_estimator(value):
        params = value.get_params(deep=False)
        learned = {
            name: attr
            for name, attr in vars(value).items()
            if name.endswith("_") and not name.startswith("_") and name not in _SKIP_ATTRIBUTES
        }
        return {
            "__estimator__": _class_path(type(value)),
            "params": {k: _encode(v, arrays) for k, v in params.items()},
            "learned": {k: _encode(v, arrays) for k, v in learned.items()},
        }
    raise ModelError(f"cannot save a value of type {type(value).__name__}")


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        raise ModelError(f"unexpected value {node!r}")
    if "__array__" in node:
        return arrays[node["__array__"]]
    if "__objarray__" in node:
        items = [_decode(v, arrays) for v in node["__tuple__"]]
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out
    if "__tuple__" in node:
        return tuple(_decode(v, arrays) for v in node["__tuple__"])
    if "__float__" in node:
        return float(node["__float__"])
    if "__dict__" in node:
        return {k: _decode(v, arrays) for k, v in node["__dict__"].items()}
    if "__estimator__" in node:
        cls = _import_class(node["__estimator__"])
        params = {k: _decode(v, arrays) for k, v in node["params"].items()}
        estimator = cls(**params)
        for name, value in node["learned"].items():
            if not name.endswith("_") or name.startswith("_"):
                raise ModelError(f"refusing to set attribute {name!r}: not a learned attribute")
            setattr(estimator, name, _decode(value, arrays))
        return estimator
    raise ModelError(f"unexpected object with keys {sorted(node)}")


def _import_class(path: str) -> type:
    if not isinstance(path, str) or "." not in path:
        raise ModelError(f"invalid class name {path!r}")
    if not (path.startswith("featpipe.") or path in SKLEARN_ALLOWLIST):
        raise ModelError(f"refusing to load class {path!r}: only featpipe and allowlisted scikit-learn classes may appear in a model file")
    module_name, _, qualname = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError):
        raise ModelError(f"class {path!r} does not exist in this featpipe version") from None
    if not isinstance(cls, type) or not hasattr(cls, "get_params"):
        raise ModelError(f"{path!r} is not an estimator class")
    return cls
