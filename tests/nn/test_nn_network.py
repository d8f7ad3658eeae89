"""Whole-network gradient checks and the deep-linear-network identity."""

import numpy as np
import pytest

from featpipe.nn import optim
from featpipe.nn.gradcheck import numerical_gradient, relative_error
from featpipe.nn.layers import ACTIVATIONS
from featpipe.nn.losses import hinge_loss, softmax_cross_entropy
from featpipe.nn.network import Network, forward_scores, init_weights


def _net(activation, dropout=0.0, sizes=(6, 5, 4, 3), seed=0):
    w, b = init_weights(sizes, "auto", activation, np.random.default_rng(seed), dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    b = [rng.standard_normal(v.shape) * 0.1 for v in b]  # non-zero biases exercise db fully
    return Network(w, b, activation, dropout)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("loss_fn", [softmax_cross_entropy, hinge_loss], ids=["softmax", "hinge"])
def test_three_layer_gradients_with_weight_decay(activation, loss_fn):
    net = _net(activation)
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((7, 6)), rng.integers(0, 3, 7)
    loss, grads = net.loss(X, y, loss_fn=loss_fn, weight_decay=0.1)
    for param, grad in zip(net.params, grads):
        num = numerical_gradient(lambda: net.loss(X, y, loss_fn=loss_fn, weight_decay=0.1)[0], param)
        assert relative_error(grad, num) < 1e-6


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_three_layer_gradients_with_fixed_dropout_mask(activation):
    net = _net(activation, dropout=0.4)
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)

    def loss():  # a fresh generator with one seed gives the same mask every time
        return net.loss(X, y, weight_decay=0.05, rng=np.random.default_rng(42))[0]

    _, grads = net.loss(X, y, weight_decay=0.05, rng=np.random.default_rng(42))
    for param, grad in zip(net.params, grads):
        assert relative_error(grad, numerical_gradient(loss, param)) < 1e-6


def test_training_path_gradient_plus_optimizer_decay_matches_l2_loss():
    """The training loop leaves L2 to the optimizer: one SGD step must equal a step on the
    gradient of the regularized loss."""
    net = _net("relu")
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((5, 6)), rng.integers(0, 3, 5)
    _, full_grads = net.loss(X, y, weight_decay=0.2)
    expected = [p - 0.1 * g for p, g in zip(net.params, full_grads)]
    net.forward_backward(X, y)
    optim.SGD(0.1, weight_decay=0.2).step(net.params, net.grads)
    for p, e in zip(net.params, expected):
        np.testing.assert_allclose(p, e, rtol=1e-12)


def test_deep_linear_network_is_one_matrix_product():
    rng = np.random.default_rng(8)
    w, b = init_weights((10, 8, 7, 6, 4), "xavier", "identity", rng, dtype=np.float64)
    b = [rng.standard_normal(v.shape) for v in b]
    X = rng.standard_normal((9, 10))
    composed_w, composed_b = np.eye(10), np.zeros(10)
    for wi, bi in zip(w, b):
        composed_w, composed_b = composed_w @ wi, composed_b @ wi + bi
    np.testing.assert_allclose(forward_scores(X, w, b, "identity"), X @ composed_w + composed_b, rtol=1e-10, atol=1e-12)
    w32 = [a.astype(np.float32) for a in w]
    b32 = [a.astype(np.float32) for a in b]
    out32 = forward_scores(X.astype(np.float32), w32, b32, "identity")
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, X @ composed_w + composed_b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_float32_end_to_end_and_training_forward_equals_inference(activation):
    rng = np.random.default_rng(9)
    w, b = init_weights((12, 16, 16, 5), "auto", activation, rng)
    net = Network(w, b, activation)
    X = rng.standard_normal((20, 12), dtype=np.float32)
    y = rng.integers(0, 5, 20)
    loss, scores = net.forward_backward(X, y)
    assert scores.dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.grads)
    np.testing.assert_allclose(scores, forward_scores(X, w, b, activation), rtol=1e-5, atol=1e-6)
    assert loss == pytest.approx(softmax_cross_entropy(forward_scores(X, w, b, activation), y)[0], rel=1e-5)


def test_init_scales():
    rng = np.random.default_rng(10)
    w, _ = init_weights((2000, 500, 10), "he", "relu", rng)
    assert w[0].std() == pytest.approx(np.sqrt(2 / 2000), rel=0.02)
    w, _ = init_weights((2000, 500, 10), "auto", "tanh", rng)
    assert w[0].std() == pytest.approx(np.sqrt(2 / 2500), rel=0.02)
    assert w[0].dtype == np.float32
