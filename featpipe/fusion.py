"""Late fusion: several linear classifiers, each trained on its own features, add up their scores.

The lecture's "combined features", the way the ImageNet 2011 winner combined its SIFT and colour
Fisher-vector systems: one linear SVM per descriptor type, their class scores averaged (Sanchez,
Perronnin, Mensink & Verbeek, "Image classification with the Fisher vector", IJCV 2013).
Unlike concatenating the features under one SVM (early fusion), each member keeps its own
regularization (C chosen on validation for it alone), its own training rows (mirrored images or
not) and its own cost: no Gram matrix over the sum of the dimensions.

Scores of different SVMs are on different scales, so each member's are divided by their spread
(standard deviation) over the training images before the weighted sum; a shift common to all
classes would not change the argmax, so none is learned.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .errors import InputError


def class_scores(scores: np.ndarray) -> np.ndarray:
    """Decision values as one column per class: a binary classifier's (n,) becomes (n, 2)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.stack([-scores, scores], axis=1) if scores.ndim == 1 else scores


class LateFusion(ClassifierMixin, BaseEstimator):
    """Weighted sum of several classifiers' standardized decision scores, each on its own columns.

    Parameters
    ----------
    members : list of (str, classifier)
        Named classifiers with `decision_function` (fitted in place by `fit`).
    columns : dict name -> [start, stop]
        The feature columns each member reads (its block of the concatenated features).
    weights : list of float or None
        A positive weight per member, in order; None weighs them equally.

    Learned attributes: `classes_` (shared by every member), `scale_` (float64 (M,): each member's
    score standard deviation on the training rows).
    """

    def __init__(self, *, members: list[tuple[str, Any]], columns: dict[str, Sequence[int]],
                 weights: Sequence[float] | None = None) -> None:
        self.members = members
        self.columns = columns
        self.weights = weights

    def fit(self, X: Any, y: Any) -> "LateFusion":
        """Fit every member on its columns of `X`, then learn the score scales on the same rows."""
        self._check_settings()
        X = np.asarray(X)
        for name, classifier in self.members:
            classifier.fit(X[:, self._slice(name)], y)
        return self.fit_scales([classifier.decision_function(X[:, self._slice(name)])
                                for name, classifier in self.members])

    def fit_scales(self, training_scores: Sequence[np.ndarray]) -> "LateFusion":
        """Learn the score scales from already fitted members' scores on the training rows, in member order."""
        self._check_settings()
        classes = [np.asarray(classifier.classes_) for _, classifier in self.members]
        for (name, _), own in zip(self.members, classes):
            if not np.array_equal(own, classes[0]):
                raise InputError(f"LateFusion: member {name!r} has classes {own.tolist()}, but "
                                 f"{self.members[0][0]!r} has {classes[0].tolist()}; fuse classifiers of one task")
        if len(training_scores) != len(self.members):
            raise InputError(f"LateFusion: {len(training_scores)} score arrays for {len(self.members)} members")
        scale = []
        for (name, _), scores in zip(self.members, training_scores):
            spread = float(np.std(class_scores(scores)))
            if not (np.isfinite(spread) and spread > 0):
                raise InputError(f"LateFusion: member {name!r} gives the same score to every training image "
                                 f"(spread {spread}); it cannot be weighed against the others")
            scale.append(spread)
        self.classes_ = classes[0]
        self.scale_ = np.asarray(scale, dtype=np.float64)
        return self

    def fuse(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        """Fused class scores (n, K) from each member's decision values on the same images, in member order."""
        check_is_fitted(self, "scale_")
        weights = self.member_weights()
        total = sum(w / s * class_scores(part) for w, s, part in zip(weights, self.scale_, scores))
        return total / weights.sum()

    def decision_function(self, X: Any) -> np.ndarray:
        """Fused class scores (n, K); column k scores `classes_[k]`."""
        X = np.asarray(X)
        return self.fuse([classifier.decision_function(X[:, self._slice(name)]) for name, classifier in self.members])

    def predict(self, X: Any) -> np.ndarray:
        """The class with the highest fused score."""
        return self.predict_from(self.decision_function(X))

    def predict_from(self, fused: np.ndarray) -> np.ndarray:
        """Classes from fused scores (what `fuse` returns)."""
        return self.classes_[np.argmax(fused, axis=1)]

    def member_weights(self) -> np.ndarray:
        """Each member's weight, in member order (ones when `weights` is None)."""
        return np.ones(len(self.members)) if self.weights is None else np.asarray(self.weights, dtype=np.float64)

    def _slice(self, name: str) -> slice:
        start, stop = self.columns[name]
        return slice(int(start), int(stop))

    def _check_settings(self) -> None:
        names = [name for name, _ in self.members]
        if len(names) < 2 or len(set(names)) != len(names):
            raise InputError(f"LateFusion: members need two or more distinct names; got {names}")
        if set(self.columns) != set(names):
            raise InputError(f"LateFusion: columns name {sorted(self.columns)}, members are {sorted(names)}")
        weights = self.member_weights()
        if weights.shape != (len(names),) or not (np.isfinite(weights).all() and (weights > 0).all()):
            raise InputError(f"LateFusion: weights={self.weights!r}; give one positive weight per member ({len(names)})")
