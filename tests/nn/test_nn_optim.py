"""Optimizer steps against hand-computed values and (if installed) torch.optim; schedules."""

import math

import numpy as np
import pytest

from featpipe.nn import optim


def _run(opt, w0, grads):
    """Apply `grads` (a list of per-step gradients) to a copy of w0; return the trajectory."""
    w = np.array(w0, dtype=np.float64)
    out = []
    for g in grads:
        opt.step([w], [np.array(g, dtype=np.float64)])
        out.append(w.copy())
    return out


W0 = [[1.0, -2.0]]
G = [[[0.5, 1.0]], [[-1.0, 0.25]]]


def test_sgd_with_l2_by_hand():
    traj = _run(optim.SGD(0.1, weight_decay=0.5), W0, G)
    w1 = np.array(W0) - 0.1 * (np.array(G[0]) + 0.5 * np.array(W0))
    w2 = w1 - 0.1 * (np.array(G[1]) + 0.5 * w1)
    np.testing.assert_allclose(traj[0], w1, rtol=1e-12)
    np.testing.assert_allclose(traj[1], w2, rtol=1e-12)


def test_bias_vectors_are_not_decayed():
    b = np.array([1.0, 2.0])
    optim.SGD(0.1, weight_decay=10.0).step([b], [np.zeros(2)])
    np.testing.assert_array_equal(b, [1.0, 2.0])


def test_momentum_and_nesterov_by_hand():
    w0, g1, g2 = np.array(W0), np.array(G[0]), np.array(G[1])
    lr, mu = 0.1, 0.9
    traj = _run(optim.Momentum(lr, momentum=mu), W0, G)
    v1 = -lr * g1
    w1 = w0 + v1
    v2 = mu * v1 - lr * g2
    np.testing.assert_allclose(traj[0], w1, rtol=1e-12)
    np.testing.assert_allclose(traj[1], w1 + v2, rtol=1e-12)
    traj = _run(optim.Nesterov(lr, momentum=mu), W0, G)
    # CS231n form: w += -mu * v_prev + (1 + mu) * v
    n1 = w0 + (1 + mu) * v1
    n2 = n1 - mu * v1 + (1 + mu) * v2
    np.testing.assert_allclose(traj[0], n1, rtol=1e-12)
    np.testing.assert_allclose(traj[1], n2, rtol=1e-12)


def test_rmsprop_by_hand():
    lr, rho, eps = 0.01, 0.9, 1e-8
    traj = _run(optim.RMSProp(lr, decay=rho, eps=eps), W0, G)
    w, c = np.array(W0), np.zeros((1, 2))
    for g, got in zip(G, traj):
        g = np.array(g)
        c = rho * c + (1 - rho) * g**2
        w = w - lr * g / (np.sqrt(c) + eps)
        np.testing.assert_allclose(got, w, rtol=1e-12)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_and_adamw_by_hand(cls):
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.99, 1e-8, 0.1
    traj = _run(cls(lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd), W0, G)
    w, m, v = np.array(W0), np.zeros((1, 2)), np.zeros((1, 2))
    for t, (g, got) in enumerate(zip(G, traj), start=1):
        g = np.array(g)
        if cls is optim.AdamW:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(got, w, rtol=1e-10)


def test_float32_stays_float32_and_chunks_cover_large_arrays():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, optim.CHUNK + 17), dtype=np.float32)
    g = rng.standard_normal(w.shape, dtype=np.float32)
    expected = w - np.float32(0.1) * g
    opt = optim.Momentum(0.1, momentum=0.9)
    opt.step([w], [g.copy()])
    assert w.dtype == np.float32 and opt.state["velocity"][0].dtype == np.float32
    np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((4, 5)) for _ in range(4)]
    w_a = np.ones((4, 5))
    a = optim.Adam(0.01, weight_decay=0.01)
    for g in grads:
        a.step([w_a], [g.copy()])
    w_b = np.ones((4, 5))
    b = optim.Adam(0.01, weight_decay=0.01)
    for g in grads[:2]:
        b.step([w_b], [g.copy()])
    c = optim.Adam(0.01, weight_decay=0.01)
    c.load_state_dict(b.state_dict())
    for g in grads[2:]:
        c.step([w_b], [g.copy()])
    np.testing.assert_array_equal(w_a, w_b)


def test_mismatched_lists_are_rejected():
    with pytest.raises(ValueError, match="2 parameter arrays but 1 gradients"):
        optim.SGD().step([np.zeros(2), np.zeros(2)], [np.zeros(2)])


TORCH_CASES = [
    ("sgd", optim.SGD, {"weight_decay": 0.01}),
    ("momentum", optim.Momentum, {"momentum": 0.9, "weight_decay": 0.01}),
    ("nesterov", optim.Nesterov, {"momentum": 0.9, "weight_decay": 0.01}),
    ("rmsprop", optim.RMSProp, {"decay": 0.99, "eps": 1e-8, "weight_decay": 0.01}),
    ("adam", optim.Adam, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}),
    ("adamw", optim.AdamW, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}),
]


@pytest.mark.parametrize("name,cls,kwargs", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_against_torch_optim(name, cls, kwargs):
    torch = pytest.importorskip(
        "torch", reason="PyTorch cross-check of the optimizers needs torch (pip install torch)"
    )
    lr = 0.05
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(5)]
    p = torch.tensor(w0.copy(), requires_grad=True)
    wd = kwargs["weight_decay"]
    make = {
        "sgd": lambda: torch.optim.SGD([p], lr=lr, weight_decay=wd),
        "momentum": lambda: torch.optim.SGD([p], lr=lr, momentum=0.9, weight_decay=wd),
        "nesterov": lambda: torch.optim.SGD([p], lr=lr, momentum=0.9, nesterov=True, weight_decay=wd),
        "rmsprop": lambda: torch.optim.RMSprop([p], lr=lr, alpha=0.99, eps=1e-8, weight_decay=wd),
        "adam": lambda: torch.optim.Adam([p], lr=lr, eps=1e-8, weight_decay=wd),
        "adamw": lambda: torch.optim.AdamW([p], lr=lr, eps=1e-8, weight_decay=wd),
    }[name]
    topt = make()
    ours = cls(lr, **kwargs)
    w = w0.copy()
    for g in grads:
        p.grad = torch.tensor(g.copy())
        topt.step()
        ours.step([w], [g.copy()])
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_schedules():
    s = optim.Schedule("step", 1.0, total_epochs=30, steps_per_epoch=10, step_epochs=10, step_gamma=0.5)
    assert [s(0), s(99), s(100), s(250)] == [1.0, 1.0, 0.5, 0.25]
    c = optim.Schedule("cosine", 2.0, total_epochs=10, steps_per_epoch=5, warmup_epochs=2)
    assert c(0) == pytest.approx(2.0 / 10) and c(9) == pytest.approx(2.0)
    assert c(10) == pytest.approx(2.0)
    assert c(10 + 20) == pytest.approx(1.0)  # halfway through the 40 post-warm-up steps
    assert c(49) == pytest.approx(1.0 + math.cos(math.pi * 39 / 40))
    assert optim.Schedule("constant", 0.3, total_epochs=1, steps_per_epoch=1)(1000) == 0.3
    with pytest.raises(ValueError, match="schedule='linear' is not one of constant, step, cosine"):
        optim.Schedule("linear", 0.1, total_epochs=1, steps_per_epoch=1)


@pytest.mark.parametrize("cls", [optim.Nesterov, optim.AdamW])
def test_threaded_update_equals_serial_update(cls):
    rng = np.random.default_rng(3)
    shapes = [(9, optim.CHUNK // 2 + 5), (optim.CHUNK // 3,), (5, optim.CHUNK)]
    params = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    grads = [[rng.standard_normal(s, dtype=np.float32) for s in shapes] for _ in range(3)]
    results = []
    for n_threads in (1, 3):
        opt = cls(0.01, weight_decay=0.1)
        opt.n_threads = n_threads
        ps = [p.copy() for p in params]
        for gs in grads:
            opt.step(ps, [g.copy() for g in gs])
        results.append(ps)
    for a, b in zip(*results):
        assert np.array_equal(a, b)
    assert not np.array_equal(results[0][0], params[0])


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_gradients_are_only_read(name):
    rng = np.random.default_rng(4)
    w = rng.standard_normal((4, 6))
    g = rng.standard_normal((4, 6))
    before = g.copy()
    opt = optim.OPTIMIZERS[name](0.1, weight_decay=0.1)
    opt.step([w], [g])
    opt.step([w], [g])
    np.testing.assert_array_equal(g, before)


def test_threaded_update_works_in_a_forked_child():
    """A pool created before fork() has no threads in the child; the child must make its own."""
    import multiprocessing

    opt = optim.Momentum(0.1)
    opt.n_threads = 2
    shape = (8, optim.CHUNK)
    opt.step([np.zeros(shape, np.float32)], [np.ones(shape, np.float32)])  # parent creates the pool
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(_threaded_step_in_child).get(timeout=60)
    assert result == pytest.approx(-0.1)


def _threaded_step_in_child() -> float:
    opt = optim.Momentum(0.1)
    opt.n_threads = 2
    shape = (8, optim.CHUNK)
    w = np.zeros(shape, np.float32)
    opt.step([w], [np.ones(shape, np.float32)])
    return float(w.mean())
