"""Centred-difference gradient checks (float64) and dtype checks for every layer."""

import numpy as np
import pytest

from featpipe.nn import layers
from featpipe.nn.gradcheck import numerical_gradient_array, relative_error

ACTIVATION_NAMES = list(layers.ACTIVATIONS)


def test_affine_gradients():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 7)), rng.standard_normal((7, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((5, 4))
    out, cache = layers.affine_forward(x, w, b)
    np.testing.assert_allclose(out, x @ w + b)
    dx, dw, db = layers.affine_backward(dout, cache)
    assert relative_error(dx, numerical_gradient_array(lambda v: layers.affine_forward(v, w, b)[0], x, dout)) < 1e-7
    assert relative_error(dw, numerical_gradient_array(lambda v: layers.affine_forward(x, v, b)[0], w, dout)) < 1e-7
    assert relative_error(db, numerical_gradient_array(lambda v: layers.affine_forward(x, w, v)[0], b, dout)) < 1e-7


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_gradients(name):
    forward, backward = layers.ACTIVATIONS[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink, where no derivative exists
    dout = rng.standard_normal((4, 6))
    _, cache = forward(x.copy())
    dx = backward(dout, cache)
    num = numerical_gradient_array(lambda v: forward(v)[0], x, dout)
    assert relative_error(dx, num) < 1e-7


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activations_keep_float32(name):
    forward, backward = layers.ACTIVATIONS[name]
    x = np.linspace(-30, 30, 24, dtype=np.float32).reshape(4, 6)
    out, cache = forward(x)
    assert out.dtype == np.float32
    assert backward(np.ones_like(x), cache).dtype == np.float32
    assert np.all(np.isfinite(out))


def test_activation_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(layers.relu_forward(x)[0], [[0, 0, 3]])
    np.testing.assert_allclose(layers.leaky_relu_forward(x)[0], [[-2 * layers.LEAKY_SLOPE, 0, 3]])
    np.testing.assert_allclose(layers.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(layers.tanh_forward(x)[0], np.tanh(x))
    # The tanh approximation stays within 1e-3 of the exact x * Phi(x).
    from math import erf, sqrt

    grid = np.linspace(-6, 6, 241)
    exact = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in grid])
    assert np.max(np.abs(layers.gelu_forward(grid)[0] - exact)) < 1e-3
    assert layers.sigmoid_forward(np.array([-1000.0], dtype=np.float32))[0][0] == 0.0


def test_affine_keeps_float32():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4), dtype=np.float32)
    w = rng.standard_normal((4, 2), dtype=np.float32)
    out, cache = layers.affine_forward(x, w, np.zeros(2, np.float32))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layers.affine_backward(np.ones_like(out), cache))


def test_dropout_fixed_mask_gradient_and_scaling():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 40))
    dout = rng.standard_normal((50, 40))
    out, mask = layers.dropout_forward(x, 0.3, np.random.default_rng(7))
    kept = mask > 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.7)
    assert np.all(out[~kept] == 0)
    assert 0.6 < kept.mean() < 0.8
    # With the same seed the mask is the same, so the layer is a fixed linear map to check.
    small, dsmall = x[:6, :5].copy(), dout[:6, :5]
    _, small_mask = layers.dropout_forward(small, 0.3, np.random.default_rng(7))
    num = numerical_gradient_array(lambda v: layers.dropout_forward(v, 0.3, np.random.default_rng(7))[0], small, dsmall)
    assert relative_error(layers.dropout_backward(dsmall, small_mask), num) < 1e-7
    out32, mask32 = layers.dropout_forward(x.astype(np.float32), 0.5, np.random.default_rng(0))
    assert out32.dtype == np.float32 and mask32.dtype == np.float32


def test_dropout_rejects_bad_probability():
    with pytest.raises(ValueError, match=r"dropout p=1\.0"):
        layers.dropout_forward(np.ones((2, 2)), 1.0, np.random.default_rng(0))


def test_buffered_and_in_place_calls_give_the_same_numbers():
    """The training path hands the layers buffers; the results must equal the plain calls."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    out, cache = layers.affine_forward(x, w, b, out=np.empty((6, 4)))
    np.testing.assert_array_equal(out, layers.affine_forward(x, w, b)[0])
    buffers = (np.empty((6, 5)), np.empty((5, 4)), np.empty(4))
    for got, want in zip(layers.affine_backward(dout, cache, out=buffers), layers.affine_backward(dout, cache)):
        np.testing.assert_array_equal(got, want)
    dx, dw, _ = layers.affine_backward(dout, cache, input_grad=False)
    assert dx is None and dw.shape == w.shape
    for name in layers.IN_PLACE_ACTIVATIONS:
        forward, backward = layers.ACTIVATIONS[name]
        expected, expected_cache = forward(x.copy())
        a = x.copy()
        got, got_cache = forward(a, out=a)
        np.testing.assert_array_equal(got, expected)
        g = rng.standard_normal((6, 5))
        want = backward(g.copy(), expected_cache)
        np.testing.assert_array_equal(backward(g, got_cache, out=g), want)
    a = x.copy()
    dropped, mask = layers.dropout_forward(a, 0.4, np.random.default_rng(1), out=a)
    assert dropped is a
    np.testing.assert_array_equal(dropped, layers.dropout_forward(x, 0.4, np.random.default_rng(1))[0])
