"""Input checks of the SVM: finite features, at least two classes; errors say what and where."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InputError


def check_features(X: Any, blocks: Mapping[str, tuple[int, int]] | None = None, what: str = "features") -> np.ndarray:
    """`X` as a 2-D float32/float64 array with only finite values, or an InputError.

    `blocks` (extractor name -> (start, stop) columns, e.g. FeatureConcat's `block_slices_`)
    lets the error name the extractor whose columns hold the bad values.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputError(f"LinearSVM: {what} must be a 2-D array (samples, features), got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    count = int(np.count_nonzero(bad))
    if count:
        rows = int(np.count_nonzero(bad.any(axis=1)))
        where = ""
        if blocks:
            columns = bad.any(axis=0)
            names = [name for name, (start, stop) in blocks.items() if columns[start:stop].any()]
            where = f" from extractor {', '.join(names)}" if names else ""
        raise InputError(
            f"LinearSVM: {what}{where} contain {count} NaN or infinite value(s) in {rows} of {len(X)} samples; "
            "an SVM needs finite features (check the extractor's settings and input images)"
        )
    return X


def check_labels(y: Any, n_samples: int, classes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(classes, class index of each sample); InputError for a length mismatch or a single class."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_samples:
        raise InputError(f"LinearSVM: y must be 1-D with one label per sample ({n_samples}), got shape {y.shape}")
    if classes is None:
        classes, labels = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            shown = repr(classes[0].item()) if len(classes) else "none"
            raise InputError(
                f"LinearSVM: needs samples of at least two classes to separate, got only class {shown} "
                f"in {n_samples} samples"
            )
        return classes, labels
    labels = np.searchsorted(classes, y)
    labels = np.clip(labels, 0, len(classes) - 1)
    if not np.array_equal(classes[labels], y):
        raise InputError(f"LinearSVM: y holds labels the SVM was not trained on (classes: {list(classes)})")
    return classes, labels
