"""Checks of the arrays given to `featpipe.nn.MLPClassifier`, with errors that say how to fix them."""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ..errors import InputError

__all__ = ["as_features", "as_labels", "check_input_shape", "validation_data"]


def as_features(X, name: str) -> np.ndarray:
    """``X`` as a finite, non-empty float32 array (N, D), cast at most once."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise InputError(f"{name} is a sparse matrix; MLPClassifier needs a dense array ({name}.toarray())")
    arr = np.asarray(X)
    if np.iscomplexobj(arr):
        raise InputError(f"{name}: Complex data not supported (dtype {arr.dtype}); pass real numbers")
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}. Reshape your data, "
            f"e.g. images with {name}.reshape(len({name}), -1)"
        )
    for axis, what in ((0, "sample"), (1, "feature")):
        if arr.shape[axis] == 0:
            raise InputError(
                f"{name} is empty: 0 {what}(s) (shape={arr.shape}) while a minimum of 1 is required."
            )
    if arr.dtype != np.float32:
        try:
            arr = arr.astype(np.float32)
        except ValueError as exc:
            raise InputError(f"{name} must hold numbers, got dtype {arr.dtype} ({exc})") from None
    finite = np.isfinite(arr)
    if not finite.all():
        bad = arr.size - int(np.count_nonzero(finite))
        raise InputError(f"{name} contains {bad} non-finite values (NaN or infinity); clean or impute them first")
    return arr


def as_labels(y, n_samples: int, name: str = "y", x_name: str = "X") -> np.ndarray:
    if y is None:
        raise InputError(f"MLPClassifier requires {name} to be passed, but the target {name} is None")
    try:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None
    if y.shape[0] != n_samples:
        raise InputError(f"{name} has {y.shape[0]} labels but {x_name} has {n_samples} samples; they must match")
    return y


def check_input_shape(input_shape, n_features: int) -> None:
    """InputError unless an image shape (H, W, C), if given, has ``n_features`` values."""
    if input_shape is not None:
        expected = int(np.prod(input_shape))
        if expected != n_features:
            raise InputError(
                f"input_shape={tuple(input_shape)} means {expected} features per row, but X has {n_features}"
            )


def validation_data(X_val, y_val, n_features: int, classes: np.ndarray):
    """(rows, class indices) of the validation data, or None; InputError if it does not fit ``X``."""
    if X_val is None and y_val is None:
        return None
    if X_val is None or y_val is None:
        raise InputError("pass both X_val and y_val (validation data), or neither")
    X_val = as_features(X_val, "X_val")
    if X_val.shape[1] != n_features:
        raise InputError(f"X_val has {X_val.shape[1]} features but X has {n_features}")
    y_val = as_labels(y_val, X_val.shape[0], name="y_val", x_name="X_val")
    unknown = np.setdiff1d(np.unique(y_val), classes)
    if unknown.size:
        raise InputError(
            f"y_val has labels not seen in y: {unknown[:10].tolist()} (known: {classes[:10].tolist()})"
        )
    return X_val, np.searchsorted(classes, y_val)
