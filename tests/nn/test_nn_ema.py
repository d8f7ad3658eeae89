"""The moving average of the weights: its update against a direct computation, and its use for
evaluation by the MLP."""

import numpy as np
import pytest

from featpipe.nn import MLPClassifier
from featpipe.nn.checkpoint import CHECKPOINT_NAME, load_checkpoint
from featpipe.nn.ema import Ema


def test_update_equals_the_direct_formula():
    rng = np.random.default_rng(0)
    start = {"W0": rng.standard_normal((300, 250)).astype(np.float32), "b0": np.zeros(250, np.float32)}
    ema = Ema(0.9, start)
    expected = {k: a.astype(np.float64) for k, a in start.items()}
    for t in range(30):
        current = {k: rng.standard_normal(a.shape).astype(np.float32) for k, a in start.items()}
        ema.update(current)
        d = min(0.9, (1 + t) / (10 + t))
        assert ema.rate(t) == d
        for k in expected:
            expected[k] = d * expected[k] + (1 - d) * current[k]
    assert ema.updates == 30
    for k, a in ema.shadow.items():
        assert a.dtype == np.float32 and a.shape == start[k].shape
        np.testing.assert_allclose(a, expected[k], rtol=1e-5, atol=1e-6)
    assert ema.rate(10**6) == 0.9
    start["W0"][...] = 7.0  # the shadow is a copy, not a view
    assert not np.any(ema.shadow["W0"] == 7.0)


def test_decay_must_be_in_the_open_unit_interval():
    for decay in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"must be in \(0, 1\)"):
            Ema(decay, {"W0": np.zeros(2)})


def _images(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.random((n, 48), dtype=np.float32) * 255
    X[:, y[0] :: 7] += 40.0 * y[:, None]
    return X, y


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_fitted_model_and_validation_use_the_average(tmp_path, norm):
    X, y = _images()
    mlp = MLPClassifier(hidden_sizes=(12, 8), norm=norm, ema=0.95, early_stopping=False, epochs=3, batch_size=16,
                        optimizer="momentum", random_state=0)
    mlp.fit(X, y, X_val=X[:40], y_val=y[:40], checkpoint_dir=tmp_path)
    arrays, meta = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert meta["ema_updates"] == 3 * 8
    np.testing.assert_array_equal(mlp.coefs_[0], arrays["ema.W0"])
    assert not np.array_equal(arrays["ema.W0"], arrays["W0"])
    if norm == "batch":  # running statistics are averaged too, and used with the averaged weights
        np.testing.assert_array_equal(mlp.norm_running_vars_[1], arrays["ema.running_var1"])
        np.testing.assert_array_equal(mlp.norm_gammas_[0], arrays["ema.gamma0"])
    assert mlp.history_["val_acc"][-1] == pytest.approx(mlp.score(X[:40], y[:40]))


def test_early_stopping_keeps_the_best_average():
    X, y = _images()
    mlp = MLPClassifier(hidden_sizes=(12,), ema=0.9, epochs=6, batch_size=16, learning_rate=0.05, random_state=1)
    mlp.fit(X[40:], y[40:], X_val=X[:40], y_val=y[:40])
    assert mlp.score(X[:40], y[:40]) == pytest.approx(max(mlp.history_["val_acc"]))
