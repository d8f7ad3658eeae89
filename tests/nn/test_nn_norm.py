"""Batch and layer normalization: gradient checks in training and inference mode, running
statistics against a direct computation, PyTorch as an independent reference, and the network
with normalized hidden layers."""

import numpy as np
import pytest

from featpipe.nn import optim
from featpipe.nn.gradcheck import numerical_gradient, numerical_gradient_array, relative_error
from featpipe.nn.network import Network, forward_scores, init_weights
from featpipe.nn.norm import (
    EPS, NormLayers, batchnorm_backward, batchnorm_forward, layernorm_backward, layernorm_forward,
)


def _batch(n=6, m=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, m)) * 3 + 1.5
    gamma, beta = rng.standard_normal(m), rng.standard_normal(m)
    return x, gamma, beta, rng.standard_normal((n, m))


def _bn(train, running):
    def forward(x, gamma, beta):
        mean, var = running[0].copy(), running[1].copy()  # training updates them: keep the originals
        return batchnorm_forward(x, gamma, beta, mean, var, train=train)[0]
    return forward


@pytest.mark.parametrize("train", [True, False], ids=["training", "inference"])
def test_batchnorm_gradients(train):
    x, gamma, beta, dout = _batch()
    running = (np.linspace(-1, 1, 5), np.linspace(0.5, 2, 5))
    forward = _bn(train, running)
    _, cache = batchnorm_forward(x, gamma, beta, running[0].copy(), running[1].copy(), train=train)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    assert relative_error(dx, numerical_gradient_array(lambda v: forward(v, gamma, beta), x, dout)) < 1e-6
    assert relative_error(dgamma, numerical_gradient_array(lambda v: forward(x, v, beta), gamma, dout)) < 1e-7
    assert relative_error(dbeta, numerical_gradient_array(lambda v: forward(x, gamma, v), beta, dout)) < 1e-7


@pytest.mark.parametrize("train", [True, False], ids=["training", "inference"])
def test_layernorm_gradients(train):
    # layer normalization computes the same function in both modes; the network test below
    # exercises it through both paths
    x, gamma, beta, dout = _batch(seed=1)
    _, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    assert relative_error(dx, numerical_gradient_array(lambda v: layernorm_forward(v, gamma, beta)[0], x, dout)) < 1e-6
    assert relative_error(dgamma, numerical_gradient_array(lambda v: layernorm_forward(x, v, beta)[0], gamma, dout)) < 1e-7
    assert relative_error(dbeta, numerical_gradient_array(lambda v: layernorm_forward(x, gamma, v)[0], beta, dout)) < 1e-7


def test_batchnorm_running_statistics_equal_a_direct_computation():
    rng = np.random.default_rng(2)
    batches = [rng.standard_normal((n, 4)) * (1 + i) + i for i, n in enumerate((8, 5, 12, 2))]
    mean, var = np.zeros(4), np.ones(4)
    gamma, beta = np.ones(4), np.zeros(4)
    expected_mean, expected_var = np.zeros(4), np.ones(4)
    for x in batches:
        out, _ = batchnorm_forward(x, gamma, beta, mean, var, train=True, momentum=0.3)
        expected_mean = 0.7 * expected_mean + 0.3 * x.mean(axis=0)
        expected_var = 0.7 * expected_var + 0.3 * x.var(axis=0, ddof=1)
        np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + EPS), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(var, expected_var, rtol=1e-12)
    x = batches[0]
    out, _ = batchnorm_forward(x, gamma * 2, beta + 1, mean, var, train=False)
    np.testing.assert_allclose(out, 2 * (x - expected_mean) / np.sqrt(expected_var + EPS) + 1, rtol=1e-12)
    np.testing.assert_array_equal(mean, expected_mean)  # inference leaves them alone
    with pytest.raises(ValueError, match="at least 2 rows"):
        batchnorm_forward(x[:1], gamma, beta, mean, var, train=True)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = _batch(n=9, m=7, seed=3)
    for kind in ("batch", "layer"):
        if kind == "batch":
            layer = torch.nn.BatchNorm1d(7, momentum=0.2, eps=EPS, dtype=torch.float64)
            mean, var = np.zeros(7), np.ones(7)
            out, cache = batchnorm_forward(x, gamma, beta, mean, var, train=True, momentum=0.2)
            dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        else:
            layer = torch.nn.LayerNorm(7, eps=EPS, dtype=torch.float64)
            out, cache = layernorm_forward(x, gamma, beta)
            dx, dgamma, dbeta = layernorm_backward(dout, cache)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(gamma))
            layer.bias.copy_(torch.from_numpy(beta))
        tx = torch.from_numpy(x.copy()).requires_grad_(True)
        tout = layer(tx)
        tout.backward(torch.from_numpy(dout))
        np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dgamma, layer.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(dbeta, layer.bias.grad.numpy(), rtol=1e-10)
        if kind == "batch":
            np.testing.assert_allclose(mean, layer.running_mean.numpy(), rtol=1e-12)
            np.testing.assert_allclose(var, layer.running_var.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_float32_stays_float32_and_buffers_give_the_same_numbers(kind):
    x, gamma, beta, dout = (a.astype(np.float32) for a in _batch(n=8, m=6, seed=4))
    layers = NormLayers.create(kind, [6], np.float32)
    twin = NormLayers.create(kind, [6], np.float32)
    for norm in (layers, twin):
        norm.gammas[0][...], norm.betas[0][...] = gamma, beta
    plain, cache = layers.forward(0, x.copy(), train=True)
    plain_grads = layers.backward(dout, cache)
    buffered_x, out = x.copy(), np.empty_like(x)
    got, got_cache = twin.forward(0, buffered_x, train=True, out=out, normalized=buffered_x)
    assert got is out and got.dtype == np.float32
    buffers = (np.empty_like(x), np.empty(6, np.float32), np.empty(6, np.float32))
    got_grads = twin.backward(dout, got_cache, out=buffers)
    np.testing.assert_array_equal(got, plain)
    for a, b, buffer in zip(got_grads, plain_grads, buffers):
        assert a is buffer and a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    for a, b in zip(twin.arrays().values(), layers.arrays().values()):
        np.testing.assert_array_equal(a, b)


def _net(kind, dropout=0.0, sizes=(6, 5, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    w, b = init_weights(sizes, "auto", "tanh", rng, dtype=np.float64)
    b = [rng.standard_normal(v.shape) * 0.1 for v in b]
    norm = NormLayers.create(kind, sizes[1:-1], np.float64, momentum=0.5)
    for g, be in zip(norm.gammas, norm.betas):  # away from 1 and 0, so their gradients are exercised
        g[...] = rng.uniform(0.5, 1.5, g.shape)
        be[...] = rng.standard_normal(be.shape) * 0.1
    for m, v in zip(norm.running_means, norm.running_vars):
        m[...] = rng.standard_normal(m.shape) * 0.1
        v[...] = rng.uniform(0.5, 2.0, v.shape)
    return Network(w, b, "tanh", dropout, norm)


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("train", [True, False], ids=["training", "inference"])
def test_network_gradients_with_norm_and_dropout_per_layer(kind, train):
    net = _net(kind, dropout=(0.3, 0.0))
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)

    def loss():  # one seed: the same dropout mask every call
        return net.loss(X, y, weight_decay=0.1, rng=np.random.default_rng(42), train=train)[0]

    _, grads = net.loss(X, y, weight_decay=0.1, rng=np.random.default_rng(42), train=train)
    assert len(grads) == len(net.params) == 10  # 3 x (W, b) + 2 x (gamma, beta)
    for i, (param, grad) in enumerate(zip(net.params, grads)):
        numeric = numerical_gradient(loss, param)
        if kind == "batch" and train and i in (1, 3):  # a bias in front of batch norm cancels out
            np.testing.assert_allclose(grad, 0.0, atol=1e-12)
            np.testing.assert_allclose(numeric, 0.0, atol=1e-7)
        else:
            assert relative_error(grad, numeric) < 1e-6, i


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_inference_pass_equals_the_network_in_inference_mode(kind):
    net = _net(kind)
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((10, 6)), rng.integers(0, 3, 10)
    _, scores = net.forward_backward(X, y, train=False)
    np.testing.assert_allclose(forward_scores(X, net.weights, net.biases, "tanh", norm=net.norm), scores, rtol=1e-12)
    before = {k: a.copy() for k, a in net.arrays().items()}
    net.forward_backward(X, y, train=True)
    moved = [k for k, a in net.arrays().items() if not np.array_equal(a, before[k])]
    assert moved == (["running_mean0", "running_mean1", "running_var0", "running_var1"] if kind == "batch" else [])


def test_weight_decay_spares_gamma_beta_and_biases():
    net = _net("batch")
    before = [p.copy() for p in net.params]
    zero = [np.zeros_like(p) for p in net.params]
    optim.SGD(0.1, weight_decay=0.5).step(net.params, zero)
    for i, (p, b) in enumerate(zip(net.params, before)):
        if p.ndim == 2:
            np.testing.assert_allclose(p, b * (1 - 0.1 * 0.5))
        else:  # b{i}, gamma{i}, beta{i}
            np.testing.assert_array_equal(p, b, err_msg=str(i))


def test_batch_of_one_row_is_left_out_of_the_epoch():
    rng = np.random.default_rng(7)
    w, b = init_weights((3, 4, 2), "auto", "relu", rng)
    net = Network(w, b, "relu", 0.0, NormLayers.create("batch", [4]))
    assert net.rows_per_epoch(33, 16) == 32 and net.rows_per_epoch(34, 16) == 34
    assert Network(w, b, "relu", 0.0, NormLayers.create("layer", [4])).rows_per_epoch(33, 16) == 33
