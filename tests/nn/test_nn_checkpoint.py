"""The MLP's training checkpoint: what it records, and what it refuses to resume from."""

import numpy as np
import pytest

from featpipe.errors import InputError, ModelError
from featpipe.nn import MLPClassifier
from featpipe.nn.checkpoint import CHECKPOINT_NAME, FORMAT, load_checkpoint, save_checkpoint

SETTINGS = dict(hidden_sizes=(6, 5), optimizer="adam", epochs=2, batch_size=16, random_state=0)


def _data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 7)).astype(np.float32), rng.integers(0, 3, n)


def test_checkpoint_holds_the_state_of_the_last_epoch(tmp_path):
    X, y = _data()
    mlp = MLPClassifier(**SETTINGS, early_stopping=False).fit(X, y, X_val=X[:20], y_val=y[:20], checkpoint_dir=tmp_path)
    arrays, meta = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert meta["format"] == FORMAT and meta["version"] == 2 and meta["epochs_done"] == 2
    assert meta["data"] == {"n_samples": 80, "n_features": 7, "n_classes": 3}
    assert meta["optimizer"] == {"name": "adam", "step_count": 10, "slots": ["exp_avg", "exp_avg_sq"]}
    assert meta["params"]["hidden_sizes"] == [6, 5] and "epochs" not in meta["params"]
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        np.testing.assert_array_equal(arrays[f"W{i}"], w)
        np.testing.assert_array_equal(arrays[f"b{i}"], b)
    assert {f"opt.exp_avg.{i}" for i in range(4)} <= set(arrays)
    np.testing.assert_array_equal(arrays["mean"], mlp.mean_)
    assert meta["history"] == mlp.history_


def test_resume_refuses_other_data_and_foreign_files(tmp_path):
    X, y = _data()
    MLPClassifier(**SETTINGS).fit(X, y, checkpoint_dir=tmp_path)
    X_other, y_other = _data(n=64)
    with pytest.raises(InputError, match=r"it was trained on data \{'n_samples': 80.*got \{'n_samples': 64"):
        MLPClassifier(**{**SETTINGS, "epochs": 3}).fit(X_other, y_other, checkpoint_dir=tmp_path, resume=True)
    save_checkpoint(tmp_path / CHECKPOINT_NAME, {"x": np.zeros(2)}, {"format": "something-else"})
    with pytest.raises(ModelError, match="not an MLP training checkpoint"):
        MLPClassifier(**SETTINGS).fit(X, y, checkpoint_dir=tmp_path, resume=True)
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="not a readable MLP checkpoint"):
        MLPClassifier(**SETTINGS).fit(X, y, checkpoint_dir=tmp_path, resume=True)
