"""Standardization of feature columns: one mean and one scale per column, learned from training rows.

Shared by the feature pipeline (`featpipe.features.FeatureConcat`: per feature, optionally with
each extractor's block weighed by 1 / sqrt(its width)) and the MLP (`featpipe.nn.MLPClassifier`:
per feature, or per colour channel of rows of pixels). One place decides how statistics are
summed (float64, two passes over blocks of rows, so a float32 array is never copied whole) and
which columns count as constant.

Constant columns: a column whose standard deviation is below `CONSTANT_STD` (relative to the
column's magnitude when that exceeds 1) carries nothing but float32 rounding; it gets scale 1,
so it is centred to zero instead of being blown up into noise (or NaN).

MLP on features: `FeatureConcat`'s block weighting exists for the linear SVM, whose one
regularizer would otherwise let a large block dominate. The MLP standardizes its inputs again
(``normalize="auto"`` is per feature there), which undoes that weighting. That is the intended
behaviour: He / Xavier initialization and the learning rates assume unit-variance inputs, and
the first layer's weights learn any weighting of the blocks by themselves.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

__all__ = ["CONSTANT_STD", "apply_standardization", "fit_standardization"]

#: Columns with a standard deviation below this (times max(1, |mean|)) count as constant.
CONSTANT_STD = 1e-6

_ROWS = 4096  # rows per block: float64 sums without a float64 copy of the data


def fit_standardization(
    X: np.ndarray,
    *,
    channels: int | None = None,
    blocks: Iterable[tuple[int, int]] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of every column of ``X``, such that ``(X - mean) / scale`` is standardized.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Training rows (any real dtype; float32 is read without a copy).
    channels : int, optional
        Rows are images flattened in (H, W, C) order with this many channels: one mean and one
        standard deviation per channel, pooled over all pixels, repeated for every pixel.
    blocks : iterable of (start, stop)
        Column ranges whose scale is multiplied by ``sqrt(stop - start)``, so that each block of
        standardized columns has total variance 1 whatever its width.

    Returns
    -------
    mean, scale : ndarray, float32, shape (D,)
        Constant columns get scale 1 (times the block factor).
    """
    n, d = X.shape
    total = np.zeros(d)
    for start in range(0, n, _ROWS):
        total += X[start : start + _ROWS].sum(axis=0, dtype=np.float64)
    mean = _pooled(total, channels) / n
    squares = np.zeros(d)
    for start in range(0, n, _ROWS):
        deviation = X[start : start + _ROWS] - mean
        squares += np.einsum("ij,ij->j", deviation, deviation)
    std = np.sqrt(_pooled(squares, channels) / n)
    std[std < CONSTANT_STD * np.maximum(1.0, np.abs(mean))] = 1.0
    for start, stop in blocks:
        std[start:stop] *= np.sqrt(stop - start)
    return mean.astype(np.float32), std.astype(np.float32)


def _pooled(sums: np.ndarray, channels: int | None) -> np.ndarray:
    """Column sums as they are, or (per channel) the mean over each channel's pixels, repeated."""
    if channels is None:
        return sums
    return np.tile(sums.reshape(-1, channels).mean(axis=0), sums.size // channels)


def apply_standardization(
    X: np.ndarray, mean: np.ndarray, scale: np.ndarray, *, out: np.ndarray | None = None
) -> np.ndarray:
    """``(X - mean) / scale`` in float32, a block of rows at a time.

    Multiplies by the float32 reciprocal of ``scale``: cheaper than dividing and within one
    rounding of it, and the same operations in training and prediction. ``out`` may be ``X``
    itself (standardize in place) or None (a new array).
    """
    inv_scale = (1.0 / np.asarray(scale, dtype=np.float32)).astype(np.float32)
    if out is None:
        out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, X.shape[0], _ROWS):
        block = out[start : start + _ROWS]
        np.subtract(X[start : start + _ROWS], mean, out=block)
        block *= inv_scale
    return out
