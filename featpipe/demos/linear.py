"""Linear classifiers for the 2-D demos, and an exact test of linear separability."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def fit_linear(X: np.ndarray, y: np.ndarray, *, C: float = 1.0):
    """Fit a logistic regression on standardized features (scikit-learn's default penalty).

    Standardizing first makes ``C`` mean the same for features of any scale (r versus theta).
    Its accuracy is that of one good line, not of the best possible line; use
    `linearly_separable` for the exact question.

    Returns a scikit-learn pipeline with ``predict`` and ``decision_function``.
    """
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
    return model.fit(X, y)


def linearly_separable(X: np.ndarray, y: np.ndarray) -> bool:
    """Whether some hyperplane puts the two classes of ``y`` strictly on opposite sides.

    Solves the feasibility linear program ``s_i (w . x_i + b) >= 1`` for all i (with
    ``s_i = +-1``); scaling ``w, b`` turns any strict separation into this form, so the program
    is feasible exactly when the classes are linearly separable. Unlike a classifier's accuracy,
    which depends on how well it was trained, this answer is exact.

    Parameters
    ----------
    X : ndarray, shape (N, D)
    y : ndarray, shape (N,), two distinct labels
    """
    X = np.asarray(X, dtype=float)
    labels = np.unique(y)
    if labels.size != 2:
        raise ValueError(f"linearly_separable needs exactly two classes; got {labels.size}")
    s = np.where(y == labels[1], 1.0, -1.0)
    # Variables (w, b); constraints -s_i (x_i . w + b) <= -1.
    a_ub = -s[:, None] * np.column_stack([X, np.ones(len(X))])
    result = linprog(np.zeros(X.shape[1] + 1), A_ub=a_ub, b_ub=-np.ones(len(X)),
                     bounds=[(None, None)] * (X.shape[1] + 1), method="highs")
    return result.status == 0
