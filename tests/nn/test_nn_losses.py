"""Gradient checks and reference values for the softmax and hinge losses."""

import numpy as np
import pytest

from featpipe.nn.gradcheck import numerical_gradient, relative_error
from featpipe.nn.losses import hinge_loss, softmax_cross_entropy


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_gradient(smoothing):
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    loss, dscores = softmax_cross_entropy(scores, y, smoothing)
    num = numerical_gradient(lambda: softmax_cross_entropy(scores, y, smoothing)[0], scores)
    assert relative_error(dscores, num) < 1e-7


def test_softmax_matches_direct_formula_and_is_stable():
    rng = np.random.default_rng(1)
    scores, y = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(4), y]))
    assert softmax_cross_entropy(scores, y)[0] == pytest.approx(expected, rel=1e-12)
    eps = 0.2
    target = np.full((4, 3), eps / 3)
    target[np.arange(4), y] += 1 - eps
    assert softmax_cross_entropy(scores, y, eps)[0] == pytest.approx(-np.mean((target * np.log(p)).sum(1)), rel=1e-12)
    big = np.array([[1000.0, 0.0], [0.0, -1000.0]], dtype=np.float32)
    loss, d = softmax_cross_entropy(big, np.array([1, 1]))
    assert np.isfinite(loss) and loss == pytest.approx(1000.0, rel=1e-6)  # both rows: correct class 1000 below
    assert d.dtype == np.float32 and np.all(np.isfinite(d))


def test_hinge_gradient_and_value():
    rng = np.random.default_rng(2)
    scores, y = rng.standard_normal((7, 4)), rng.integers(0, 4, 7)
    loss, dscores = hinge_loss(scores, y)
    num = numerical_gradient(lambda: hinge_loss(scores, y)[0], scores)
    assert relative_error(dscores, num) < 1e-7
    expected = np.mean([
        sum(max(0.0, scores[i, j] - scores[i, y[i]] + 1.0) for j in range(4) if j != y[i]) for i in range(7)
    ])
    assert loss == pytest.approx(expected, rel=1e-12)
    assert hinge_loss(scores.astype(np.float32), y)[1].dtype == np.float32


def test_softmax_rejects_bad_smoothing():
    with pytest.raises(ValueError, match="label_smoothing=1.5"):
        softmax_cross_entropy(np.zeros((1, 2)), np.array([0]), 1.5)
