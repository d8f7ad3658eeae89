"""Save and load fitted estimators without pickle: JSON for structure, `.npz` for arrays.

An estimator is stored as its class path, its constructor parameters (`get_params(deep=False)`)
and its learned attributes (public names ending in `_`). Values may be JSON scalars, strings,
lists, tuples, dicts, numpy arrays and nested estimators, recursively. Loading instantiates only
classes defined in featpipe's own modules or on an explicit scikit-learn allowlist (checked by the
class's defining module, not by the name it was reached under), and reads arrays with
`allow_pickle=False`, so a crafted model file cannot run code.

Model files are also checked as data: every array's header (shape, dtype) is read before its
bytes, so a file that is truncated, empty, declares a huge shape or holds an array whose shape or
dtype differs from what model.json recorded is refused with the file and array named, before any
large allocation.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic, memory
from .errors import ModelError

FORMAT_VERSION = 1
#: model.json holds class names and settings only (arrays go to the .npz): a few KB in practice.
MAX_JSON_BYTES = 16 * 2**20

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
    if json_path.stat().st_size > MAX_JSON_BYTES:
        raise ModelError(f"{json_path}: {json_path.stat().st_size:,} bytes; a model's structure file holds "
                         f"at most {MAX_JSON_BYTES:,} (its arrays are in the .npz)")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{json_path}: not a readable model file ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != "featpipe-model":
        raise ModelError(f"{json_path}: not a featpipe model file")
    if document.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{json_path}: model format version {document.get('format_version')!r} is not "
            f"supported (this featpipe reads version {FORMAT_VERSION})"
        )
    arrays = _read_arrays(npz_path)
    try:
        return _decode(document["root"], arrays)
    except ModelError as exc:
        raise ModelError(f"{json_path}: {exc}") from None
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
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
        return {"__array__": key, "shape": list(value.shape), "dtype": value.dtype.str}
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
        return _recorded_array(node, arrays)
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
        params = {k: _decode_part(cls, k, v, arrays) for k, v in node["params"].items()}
        estimator = cls(**params)
        for name, value in node["learned"].items():
            if not name.endswith("_") or name.startswith("_"):
                raise ModelError(f"refusing to set attribute {name!r}: not a learned attribute")
            setattr(estimator, name, _decode_part(cls, name, value, arrays))
        return estimator
    raise ModelError(f"unexpected object with keys {sorted(node)}")


def _decode_part(cls: type, name: str, node: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Decode one parameter or attribute of `cls`; errors say which one (e.g. LinearSVC.coef_)."""
    try:
        return _decode(node, arrays)
    except ModelError as exc:
        raise ModelError(f"{cls.__name__}.{name}: {exc}") from None


def _import_class(path: str) -> type:
    """The class `path` names, if featpipe defines it or it is on the allowlist, else ModelError.

    The check is on the class found, by its defining module: `featpipe.cli.TyperGroup` is
    reachable under a featpipe name but defined by Typer, so it is refused.
    """
    if not isinstance(path, str) or "." not in path:
        raise ModelError(f"invalid class name {path!r}")
    refusal = (f"refusing to load class {path!r}: only classes defined by featpipe and allowlisted "
               "scikit-learn classes may appear in a model file")
    module_name, _, qualname = path.rpartition(".")
    if not (module_name.startswith("featpipe.") or path in SKLEARN_ALLOWLIST) or "__main__" in module_name:
        raise ModelError(refusal)
    try:
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        cls = getattr(module, qualname)
    except (ImportError, AttributeError):
        raise ModelError(f"class {path!r} does not exist in this featpipe version") from None
    if not isinstance(cls, type) or _class_path(cls) != path:
        raise ModelError(refusal + (f" ({path!r} is {_class_path(cls)!r})" if isinstance(cls, type) else ""))
    if not hasattr(cls, "get_params"):
        raise ModelError(f"{path!r} is not an estimator class")
    return cls


def _read_arrays(npz_path: Path) -> dict[str, np.ndarray]:
    """Every array of `npz_path`, each header checked against the member's size before reading."""
    declared = {}
    try:
        with zipfile.ZipFile(npz_path) as archive:
            for info in archive.infolist():
                declared[info.filename] = _member_header(archive, info, npz_path)
            needed = sum(nbytes for _, _, nbytes in declared.values())
            memory.check_fits(needed, f"loading the arrays of {npz_path}", "free memory first", ModelError)
            arrays = {}
            for name in declared:
                with archive.open(name) as f:
                    arrays[name.removesuffix(".npy")] = np.lib.format.read_array(f, allow_pickle=False)
    except ModelError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ModelError(f"{npz_path}: not a readable model array file ({exc}; truncated or corrupt?)") from None
    return arrays


def _member_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, npz_path: Path):
    """(shape, dtype, nbytes) of one .npy member, refusing headers its stored size cannot back."""
    where = f"{npz_path}: array {info.filename.removesuffix('.npy')!r}"
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
        except (ValueError, EOFError, OSError) as exc:
            raise ModelError(f"{where} has no valid array header ({exc})") from None
        header_bytes = f.tell()
    if dtype.hasobject:
        raise ModelError(f"{where} holds Python objects (dtype {dtype}); model files hold only numbers")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if info.file_size != header_bytes + nbytes:
        raise ModelError(
            f"{where} declares shape {shape} of {dtype} ({nbytes:,} bytes) but the file holds "
            f"{max(info.file_size - header_bytes, 0):,} bytes of data (truncated or tampered with)"
        )
    return shape, dtype, nbytes


def _recorded_array(node: dict, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The array `node` points to, checked against the shape and dtype model.json recorded."""
    key = node["__array__"]
    if key not in arrays:
        raise ModelError(f"array {key!r} named by the model is missing from the .npz file")
    array = arrays[key]
    shape, dtype = node.get("shape"), node.get("dtype")
    if shape is not None and list(array.shape) != list(shape):
        raise ModelError(f"array {key!r} has shape {list(array.shape)} but the model expects {list(shape)}")
    if dtype is not None and array.dtype.str != dtype:
        raise ModelError(f"array {key!r} has dtype {array.dtype} but the model expects {np.dtype(dtype)}")
    return array
