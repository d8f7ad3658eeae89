"""Classification scores: accuracy, per-class accuracy and the confusion matrix."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> dict:
    """Score predictions against labels (both integer indices into `class_names`).

    Returns a JSON-able dict: ``accuracy``, ``n``, ``per_class`` (class -> accuracy, None for a
    class with no images) and ``confusion`` (rows: true class, columns: predicted class).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    k = len(class_names)
    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    support = confusion.sum(axis=1)
    per_class = {
        name: (float(confusion[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)
    }
    accuracy = float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")
    return {"accuracy": accuracy, "n": int(len(y_true)), "per_class": per_class, "confusion": confusion.tolist()}
