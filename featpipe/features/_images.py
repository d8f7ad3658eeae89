"""Shared input checks and chunking for the image feature extractors.

Every extractor takes a batch of uint8 images shaped (N, H, W, C) or (N, H, W) and works on it in
chunks of images so that memory stays bounded whatever N is. The checks here raise
`featpipe.errors.InputError` with messages that name the parameter, the value and what is allowed.
"""

from __future__ import annotations

import contextvars

from typing import Any, Iterator, Sequence

import numpy as np

from .. import progress
from ..errors import InputError


def as_image_batch(images: Any, owner: str) -> np.ndarray:
    """Return `images` as a uint8 array (N, H, W, C); a (N, H, W) batch becomes C=1.

    Raises InputError for a wrong dtype, rank or an empty batch, naming `owner` (the extractor).
    """
    if hasattr(images, "toarray") or hasattr(images, "todense"):
        raise InputError(f"{owner}: sparse input is not supported; pass a dense uint8 image array (N, H, W[, C])")
    array = np.asarray(images)
    if np.iscomplexobj(array):
        raise InputError(f"{owner}: Complex data not supported; images must be uint8 with values 0..255")
    if array.dtype != np.uint8:
        extra = ""
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            extra = " holding NaN or inf values"
        raise InputError(
            f"{owner}: images must be uint8 with values 0..255, got dtype {array.dtype}{extra}; "
            "convert with np.clip(x, 0, 255).astype(np.uint8) (or x * 255 for images in [0, 1])"
        )
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4:
        raise InputError(
            f"{owner}: images must be a batch shaped (N, H, W, C) or (N, H, W), "
            f"got an array of rank {array.ndim} with shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise InputError(f"{owner}: got an empty batch of images (shape {array.shape})")
    if array.shape[3] == 0:
        raise InputError(f"{owner}: images have 0 channels (shape {array.shape})")
    return array


def check_min_size(images: np.ndarray, min_rows: int, min_cols: int, owner: str, why: str) -> None:
    """Raise InputError if the images are smaller than (min_rows, min_cols); `why` says which setting needs it."""
    rows, cols = images.shape[1:3]
    if rows < min_rows or cols < min_cols:
        raise InputError(
            f"{owner}: {why} needs images of at least {min_rows}x{min_cols} pixels (rows x cols); "
            f"these are {rows}x{cols}"
        )


def check_same_shape(images: np.ndarray, fitted_shape: Sequence[int], owner: str) -> None:
    """Raise InputError unless the images have the (H, W, C) shape seen in fit."""
    seen = tuple(int(s) for s in images.shape[1:])
    expected = tuple(int(s) for s in fitted_shape)
    if seen != expected:
        raise InputError(
            f"{owner}: was fitted on images of shape (H, W, C)={expected} "
            f"({int(np.prod(expected))} values each) but got images of shape {seen} "
            f"({int(np.prod(seen))} values each); the number of input features must match fit"
        )


def check_choice(owner: str, name: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise InputError unless `value` is one of `choices`."""
    if not any(value == choice and type(value) is type(choice) for choice in choices):
        listed = ", ".join(repr(c) for c in choices)
        raise InputError(f"{owner}: {name}={value!r} is not allowed; choose one of {listed}")


def check_int(owner: str, name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """Return `value` as int if it is an integer in [minimum, maximum], else raise InputError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{owner}: {name}={value!r} must be an integer >= {minimum}")
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise InputError(f"{owner}: {name}={value!r} must be an integer {allowed}")
    return int(value)


def check_pair(owner: str, name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """Return an int or a pair of ints as a (rows, cols) tuple, each >= minimum."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InputError(f"{owner}: {name}={value!r} must be an integer or a pair (rows, cols) of integers >= {minimum}")
    return (
        check_int(owner, f"{name}[0]", value[0], minimum),
        check_int(owner, f"{name}[1]", value[1], minimum),
    )


def check_number(owner: str, name: str, value: Any, minimum: float, *, strict: bool = False) -> float:
    """Return `value` as float if it is a real number >= minimum (> minimum if strict)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok:
        ok = bool(np.isfinite(value)) and (value > minimum if strict else value >= minimum)
    if not ok:
        rule = f"> {minimum}" if strict else f">= {minimum}"
        raise InputError(f"{owner}: {name}={value!r} must be a finite number {rule}")
    return float(value)


#: False silences extraction progress bars (e.g. `featpipe run -q`); None shows them on a terminal.
#: A context variable rather than an estimator setting, so it changes no cache key.
show_progress: contextvars.ContextVar[bool | None] = contextvars.ContextVar("show_progress", default=None)


def chunk_starts(n_images: int, chunk_size: int, desc: str) -> Iterator[tuple[int, int]]:
    """Yield (start, stop) ranges of at most `chunk_size` images, with a progress stage (featpipe.progress)."""
    starts = range(0, n_images, chunk_size)
    enabled = False if len(starts) <= 20 else show_progress.get()  # None: on a terminal only
    with progress.stage(desc, total=n_images, unit="img", enabled=enabled) as bar:
        for start in starts:
            stop = min(start + chunk_size, n_images)
            yield start, stop
            bar.update(stop - start)
