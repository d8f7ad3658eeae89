"""Small classification problems for the SVM tests (seeded, a fraction of a second to fit)."""

import numpy as np
import pytest
from sklearn.datasets import make_classification


@pytest.fixture
def problem():
    """400 samples, 12 features, 4 overlapping classes: no class is separable, so C matters."""
    X, y = make_classification(n_samples=400, n_features=12, n_informative=8, n_classes=4,
                               class_sep=0.8, random_state=0)
    return X, y


@pytest.fixture
def split(problem):
    """The problem split 300 train / 100 validation."""
    X, y = problem
    return X[:300], y[:300], X[300:], y[300:]
