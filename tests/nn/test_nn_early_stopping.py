"""Early stopping on the smoothed validation curve, `min_epochs`, and the line saying why it stopped."""

import numpy as np
import pytest

from featpipe.nn import MLPClassifier
from featpipe.nn.early_stopping import should_stop, smoothed


def test_smoothed_curve_is_the_exponential_average():
    values = [0.5, 0.7, 0.6, 0.9]
    expected, s = [], None
    for v in values:
        s = v if s is None else 0.6 * s + 0.4 * v
        expected.append(s)
    np.testing.assert_allclose(smoothed(values, 0.6), expected, rtol=1e-15)
    np.testing.assert_array_equal(smoothed(values, 0.0), values)
    assert smoothed([], 0.5).shape == (0,)


def test_should_stop_waits_for_patience_and_min_epochs():
    assert not should_stop(epochs_done=5, bad_epochs=2, patience=3, min_epochs=0)
    assert should_stop(epochs_done=5, bad_epochs=3, patience=3, min_epochs=0)
    assert not should_stop(epochs_done=5, bad_epochs=3, patience=3, min_epochs=6)
    assert should_stop(epochs_done=6, bad_epochs=4, patience=3, min_epochs=6)


def _unlearnable(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    return X[40:], y[40:], X[:40], 1 - y[:40]  # validation labels the net cannot learn


@pytest.mark.parametrize("min_epochs", [0, 7])
def test_min_epochs_cannot_be_cut_short(min_epochs):
    X, y, Xv, yv = _unlearnable()
    mlp = MLPClassifier(hidden_sizes=(8,), epochs=30, patience=2, min_epochs=min_epochs, random_state=0)
    mlp.fit(X, y, X_val=Xv, y_val=yv)
    assert mlp.n_epochs_run_ < 30  # it did stop early
    assert mlp.n_epochs_run_ >= max(min_epochs, 3)
    if min_epochs:
        assert mlp.n_epochs_run_ == min_epochs or mlp.n_epochs_run_ - 1 - mlp.best_epoch_ == 2


def test_the_kept_epoch_is_the_best_of_the_smoothed_curve_and_the_run_says_why_it_stopped(capsys):
    X, y, Xv, yv = _unlearnable(1)
    mlp = MLPClassifier(hidden_sizes=(8,), epochs=40, patience=3, val_smoothing=0.7, random_state=0,
                        progress=True).fit(X, y, X_val=Xv, y_val=yv)
    curve = smoothed(mlp.history_["val_acc"], 0.7)
    assert mlp.best_epoch_ == int(np.argmax(curve))  # the first epoch of the best smoothed value
    assert mlp.n_epochs_run_ - 1 - mlp.best_epoch_ == 3
    err = capsys.readouterr().err
    assert f"early stopping after epoch {mlp.n_epochs_run_} of 40" in err
    assert "(smoothed with val_smoothing=0.7) has not improved for 3 epochs" in err
    assert f"at epoch {mlp.best_epoch_ + 1}, which scored {mlp.history_['val_acc'][mlp.best_epoch_]:.2%} itself" in err
    assert "raise mlp.patience or mlp.min_epochs" in err


def test_history_records_the_time_spent_augmenting():
    rng = np.random.default_rng(0)
    X = rng.random((64, 48), dtype=np.float32)
    y = rng.integers(0, 2, 64)
    mlp = MLPClassifier(hidden_sizes=(4,), input_shape=(4, 4, 3), epochs=2, random_state=0,
                        augment={"flip": True, "crop": 1, "mixup": 0.2}).fit(X, y)
    times, aug = mlp.history_["epoch_time"], mlp.history_["augment_time"]
    assert len(aug) == 2 and all(0 < a <= t for a, t in zip(aug, times))
    plain = MLPClassifier(hidden_sizes=(4,), epochs=1, random_state=0).fit(X, y)
    assert plain.history_["augment_time"][0] < plain.history_["epoch_time"][0]
