"""The demos' building blocks against independent references: bumps, secants, collapse, LP."""

import numpy as np
import pytest

from featpipe.demos.deep_linear import collapse
from featpipe.demos.feature_transform import to_cartesian, to_polar
from featpipe.demos.linear import linearly_separable
from featpipe.demos.loss_slices import is_convex, max_secant_violation
from featpipe.demos.regression import fit_relu_regressor, mse_loss
from featpipe.demos.universal_approximation import bump_network, bump_units, network_forward


def test_bump_is_a_trapezoid():
    kinks, weights = bump_units(-1.0, 1.0, 2.0, 0.5)
    x = np.array([-3.0, -1.25, -1.0, -0.75, 0.0, 0.75, 1.0, 1.25, 3.0])
    bump = (weights * np.maximum(x[:, None] - kinks, 0.0)).sum(axis=1)
    np.testing.assert_allclose(bump, [0, 0, 1, 2, 2, 2, 1, 0, 0], atol=1e-12)


def test_bump_network_interpolates_between_bin_heights():
    # With a piecewise-constant target the bump sum reproduces it away from the ramps.
    steps = lambda x: np.where(x < 0, -1.0, 3.0)  # noqa: E731
    w1, b1, w2, b2 = bump_network(steps, 2, domain=(-1.0, 1.0), ramp_fraction=0.2)
    assert w1.shape == (1, 8) and w2.shape == (8, 1)
    x = np.array([-1.0, -0.5, -0.2, 0.2, 0.5, 1.0])
    np.testing.assert_allclose(network_forward(x, w1, b1, w2, b2), steps(x), atol=1e-12)
    # the shared ramp between bins is linear: its midpoint is the average height
    np.testing.assert_allclose(network_forward(np.array([0.0]), w1, b1, w2, b2), [1.0], atol=1e-12)


def test_secant_check_matches_second_differences():
    rng = np.random.default_rng(0)
    t = np.linspace(-1, 1, 30)
    for _ in range(20):
        values = rng.standard_normal(30).cumsum()
        # on an even grid, "every secant above" is equivalent to non-negative second differences
        expected = bool(np.all(np.diff(values, 2) >= -1e-12))
        assert (max_secant_violation(t, values)[0] <= 1e-12) == expected


def test_secant_check_on_known_functions():
    t = np.linspace(-2, 2, 81)
    assert is_convex(t, t**2) and is_convex(t, np.abs(t)) and is_convex(t, np.exp(t))
    assert not is_convex(t, np.cos(t)) and not is_convex(t, -(t**2))
    violation, (i, j) = max_secant_violation(t, -(t**2))
    assert violation == pytest.approx(4.0) and (t[i], t[j]) == (-2.0, 2.0)


def test_collapse_equals_layer_by_layer_forward():
    rng = np.random.default_rng(1)
    sizes = (3, 7, 5, 4, 2)
    coefs = [rng.standard_normal((a, b)) for a, b in zip(sizes, sizes[1:])]
    intercepts = [rng.standard_normal(b) for b in sizes[1:]]
    X = rng.standard_normal((50, 3))
    h = X
    for w, b in zip(coefs, intercepts):
        h = h @ w + b
    W, b = collapse(coefs, intercepts)
    assert W.shape == (3, 2)
    np.testing.assert_allclose(X @ W + b, h, rtol=1e-12, atol=1e-12)


def test_linearly_separable_exact_answers():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert not linearly_separable(X, np.array([0, 0, 1, 1]))  # XOR
    assert linearly_separable(X, np.array([0, 1, 0, 1]))  # split by x
    with pytest.raises(ValueError, match="exactly two classes"):
        linearly_separable(X, np.array([0, 1, 2, 1]))


def test_polar_round_trip():
    X = np.random.default_rng(2).standard_normal((100, 2))
    np.testing.assert_allclose(to_cartesian(to_polar(X)), X, atol=1e-12)


def test_mse_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    pred, target = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    _, grad = mse_loss(pred, target)
    h = 1e-6
    numeric = np.zeros_like(pred)
    for i in range(pred.size):
        up, down = pred.copy(), pred.copy()
        up.flat[i] += h
        down.flat[i] -= h
        numeric.flat[i] = (mse_loss(up, target)[0] - mse_loss(down, target)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_regressor_fits_a_line_and_loss_falls():
    x = np.linspace(-1, 1, 50)
    model = fit_relu_regressor(x, 2 * x + 1, hidden=8, steps=800, learning_rate=0.02, rng=np.random.default_rng(0))
    assert model.losses[-1] < 0.01 * model.losses[0]
    np.testing.assert_allclose(model.unit_outputs(x).sum(axis=1) + model.b2[0], model.predict(x))
