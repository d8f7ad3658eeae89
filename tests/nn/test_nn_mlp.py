"""MLPClassifier: learning, saving, resuming, determinism and error paths."""

import numpy as np
import pytest
from sklearn.datasets import make_circles

from featpipe import model_io
from featpipe.errors import InputError, TrainingError
from featpipe.nn import MLPClassifier
from featpipe.nn.checkpoint import CHECKPOINT_NAME, load_checkpoint


def _xor(n=400, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    which = rng.integers(0, 4, n)
    X = centres[which] + 0.25 * rng.standard_normal((n, 2))
    return X.astype(np.float32), (which >= 2).astype(int)


def _images(n=120, shape=(4, 4, 3), k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.random((n, int(np.prod(shape))), dtype=np.float32) * 255
    X[:, y[0] :: 7] += 40.0 * y[:, None]  # a weak class signal
    return X.astype(np.float32), y


FAST = dict(hidden_sizes=(32,), optimizer="adam", learning_rate=0.02, batch_size=32, epochs=80, random_state=0)


@pytest.mark.parametrize("name,data", [("xor", _xor()), ("circles", make_circles(400, noise=0.05, factor=0.5, random_state=0))])
def test_mlp_fits_what_a_linear_model_cannot(name, data):
    X, y = data
    mlp = MLPClassifier(**FAST).fit(X, y)
    linear = MLPClassifier(**{**FAST, "hidden_sizes": ()}).fit(X, y)
    assert mlp.score(X, y) >= 0.95, name
    assert linear.score(X, y) <= 0.75, name
    assert len(mlp.coefs_) == 2 and len(linear.coefs_) == 1


def test_a_model_trained_with_augmentation_from_a_config_saves_and_loads(tmp_path):
    from featpipe.config import parse_config
    from featpipe.pipeline import build_mlp

    config = parse_config("classifier: mlp\nmlp: {hidden_sizes: [6], epochs: 2, augment: {flip: true, crop: 1, "
                          "affine: {rotation: 5, scale: [0.9, 1.1]}, mixup: 0.2}}")
    X, y = _images()
    mlp = build_mlp(config, (4, 4, 3), progress=False).fit(X, y)
    model_io.save(mlp, tmp_path)
    loaded = model_io.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), mlp.predict_proba(X))
    assert loaded.settings().augment == config.mlp.augment


def test_model_io_round_trip_gives_identical_predictions(tmp_path):
    X, y = _images()
    labels = np.array(["cat", "dog", "eel"])[y]
    mlp = MLPClassifier(hidden_sizes=(16, 8), input_shape=(4, 4, 3), epochs=3, random_state=1, dropout=0.1)
    mlp.fit(X, labels, X_val=X[:30], y_val=labels[:30])
    tree, arrays = model_io.to_state(mlp)
    again = model_io.from_state(tree, arrays)
    np.testing.assert_array_equal(again.predict_proba(X), mlp.predict_proba(X))
    np.testing.assert_array_equal(again.predict(X), mlp.predict(X))
    model_io.save(mlp, tmp_path)
    loaded = model_io.load(tmp_path)
    np.testing.assert_array_equal(loaded.decision_function(X), mlp.decision_function(X))
    assert set(loaded.predict(X)) <= {"cat", "dog", "eel"}
    assert loaded.history_ == mlp.history_ and loaded.best_epoch_ == mlp.best_epoch_
    assert mlp.mean_.shape == (48,) and mlp.mean_.dtype == np.float32
    np.testing.assert_allclose(mlp.mean_[:3], X.reshape(-1, 3).mean(axis=0), rtol=1e-5)  # per channel


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_model_io_round_trip_with_normalization_layers(tmp_path, norm):
    X, y = _images()
    mlp = MLPClassifier(hidden_sizes=(16, 8), input_shape=(4, 4, 3), epochs=3, random_state=1, norm=norm,
                        dropout=(0.1, 0.0)).fit(X, y, X_val=X[:30], y_val=y[:30])
    assert [g.shape for g in mlp.norm_gammas_] == [(16,), (8,)] and len(mlp.norm_betas_) == 2
    assert len(mlp.norm_running_means_) == (2 if norm == "batch" else 0)
    assert not np.array_equal(mlp.norm_gammas_[0], np.ones(16))  # they were learned
    model_io.save(mlp, tmp_path)
    loaded = model_io.load(tmp_path)
    np.testing.assert_array_equal(loaded.decision_function(X), mlp.decision_function(X))
    for name in ("norm_gammas_", "norm_betas_", "norm_running_means_", "norm_running_vars_"):
        for a, b in zip(getattr(loaded, name), getattr(mlp, name)):
            assert a.dtype == np.float32 and np.array_equal(a, b)
    plain = MLPClassifier(hidden_sizes=(16, 8), input_shape=(4, 4, 3), epochs=3, random_state=1).fit(X, y)
    assert not np.allclose(plain.decision_function(X), mlp.decision_function(X))


def test_batch_norm_leaves_out_a_last_batch_of_one_row(tmp_path):
    X, y = _images(n=33)
    mlp = MLPClassifier(hidden_sizes=(8,), norm="batch", batch_size=16, epochs=2, random_state=0)
    mlp.fit(X, y, checkpoint_dir=tmp_path)
    _, meta = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert meta["optimizer"]["step_count"] == 4  # 2 batches of 16 per epoch, the 33rd row left out
    MLPClassifier(hidden_sizes=(8,), batch_size=16, epochs=2, random_state=0).fit(X, y, checkpoint_dir=tmp_path)
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)[1]["optimizer"]["step_count"] == 6


RESUME = dict(
    hidden_sizes=(12,), optimizer="momentum", schedule="cosine", warmup_epochs=1, dropout=0.2,
    input_shape=(4, 4, 3), batch_size=16, random_state=3,
    augment={"flip": True, "crop": 1, "crop_mode": "reflect", "affine": {"rotation": 10, "scale": [0.9, 1.1]},
             "cutout": 2, "mixup": 0.2},
)


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    X, y = _images()
    full = MLPClassifier(epochs=4, **RESUME).fit(X, y, X_val=X[:40], y_val=y[:40])

    class Stop(Exception):
        pass

    def stop_after_second(epoch, history):
        if epoch == 1:
            raise Stop

    interrupted = MLPClassifier(epochs=4, **RESUME)
    with pytest.raises(Stop):
        interrupted.fit(X, y, X_val=X[:40], y_val=y[:40], checkpoint_dir=tmp_path, on_epoch_end=stop_after_second)
    arrays, meta = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert meta["epochs_done"] == 2 and "opt.velocity.0" in arrays
    assert isinstance(meta["rng"]["last_epoch_generator_state"], dict)
    epochs_seen = []
    resumed = MLPClassifier(epochs=4, **RESUME).fit(
        X, y, X_val=X[:40], y_val=y[:40], checkpoint_dir=tmp_path, resume=True,
        on_epoch_end=lambda epoch, history: epochs_seen.append(epoch),
    )
    assert epochs_seen == [2, 3]  # it really continued, rather than starting afresh
    for a, b in zip(full.coefs_ + full.intercepts_, resumed.coefs_ + resumed.intercepts_):
        assert np.array_equal(a, b)
    assert full.history_["loss"] == resumed.history_["loss"]
    assert resumed.n_epochs_run_ == 4


NORM_RESUME = {**RESUME, "hidden_sizes": (12, 8), "norm": "batch", "dropout": (0.2, 0.1), "norm_momentum": 0.3}


@pytest.mark.parametrize("settings", [NORM_RESUME, {**NORM_RESUME, "norm": "layer"}, {**NORM_RESUME, "ema": 0.9}],
                         ids=["batch", "layer", "batch+ema"])
def test_resume_with_normalization_and_ema_equals_uninterrupted_run(tmp_path, settings):
    X, y = _images()
    full = MLPClassifier(epochs=4, **settings).fit(X, y, X_val=X[:40], y_val=y[:40])

    def stop_after_second(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        MLPClassifier(epochs=4, **settings).fit(X, y, X_val=X[:40], y_val=y[:40], checkpoint_dir=tmp_path,
                                                on_epoch_end=stop_after_second)
    arrays, _ = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert {"gamma0", "beta1"} <= set(arrays)
    assert ("running_var1" in arrays) == (settings["norm"] == "batch")
    assert ("ema.W0" in arrays) == bool(settings.get("ema"))
    resumed = MLPClassifier(epochs=4, **settings).fit(X, y, X_val=X[:40], y_val=y[:40], checkpoint_dir=tmp_path,
                                                      resume=True)
    for name in ("coefs_", "intercepts_", "norm_gammas_", "norm_betas_", "norm_running_means_", "norm_running_vars_"):
        for a, b in zip(getattr(full, name), getattr(resumed, name)):
            assert np.array_equal(a, b), name
    assert full.history_["loss"] == resumed.history_["loss"]
    assert full.history_["val_acc"] == resumed.history_["val_acc"]


def test_resume_by_raising_epochs(tmp_path):
    settings = {**RESUME, "schedule": "step", "step_epochs": 1, "step_gamma": 0.5}
    X, y = _images()
    full = MLPClassifier(epochs=4, **settings).fit(X, y)
    MLPClassifier(epochs=2, **settings).fit(X, y, checkpoint_dir=tmp_path)
    epochs_seen = []
    resumed = MLPClassifier(epochs=4, **settings).fit(
        X, y, checkpoint_dir=tmp_path, resume=True, on_epoch_end=lambda e, h: epochs_seen.append(e)
    )
    assert epochs_seen == [2, 3]
    for a, b in zip(full.coefs_, resumed.coefs_):
        assert np.array_equal(a, b)


def test_resume_with_a_later_min_epochs_equals_an_uninterrupted_run_with_it(tmp_path):
    # patience 1 would stop at the first epoch without a new best; min_epochs forbids that before it
    settings = {**RESUME, "patience": 1, "val_smoothing": 0.5}
    X, y = _images()
    full = MLPClassifier(epochs=5, min_epochs=5, **settings).fit(X, y, X_val=X[:40], y_val=y[:40])

    def stop_after_second(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        MLPClassifier(epochs=5, min_epochs=2, **settings).fit(X, y, X_val=X[:40], y_val=y[:40],
                                                               checkpoint_dir=tmp_path, on_epoch_end=stop_after_second)
    resumed = MLPClassifier(epochs=5, min_epochs=5, **settings).fit(X, y, X_val=X[:40], y_val=y[:40],
                                                                    checkpoint_dir=tmp_path, resume=True)
    assert resumed.n_epochs_run_ == full.n_epochs_run_ == 5  # min_epochs=2 alone stops these data after 3
    assert MLPClassifier(epochs=5, min_epochs=2, **settings).fit(X, y, X_val=X[:40], y_val=y[:40]).n_epochs_run_ == 3
    assert resumed.best_epoch_ == full.best_epoch_
    for a, b in zip(full.coefs_ + full.intercepts_, resumed.coefs_ + resumed.intercepts_):
        assert np.array_equal(a, b)
    with pytest.raises(InputError, match=r"val_smoothing: 0.5 -> 0.8\); only epochs, min_epochs, patience, progress"):
        MLPClassifier(epochs=6, **{**settings, "val_smoothing": 0.8}).fit(
            X, y, X_val=X[:40], y_val=y[:40], checkpoint_dir=tmp_path, resume=True)


def test_resume_rejects_changed_settings(tmp_path):
    X, y = _images()
    MLPClassifier(epochs=1, **RESUME).fit(X, y, checkpoint_dir=tmp_path)
    with pytest.raises(InputError, match=r"settings differ from the checkpoint \(learning_rate: 0.01 -> 0.5\)"):
        MLPClassifier(epochs=2, **{**RESUME, "learning_rate": 0.5}).fit(X, y, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(InputError, match="resume=True needs a checkpoint_dir"):
        MLPClassifier(epochs=2).fit(X, y, resume=True)


def test_same_seed_same_numbers_different_seed_different_numbers():
    X, y = _images()
    a = MLPClassifier(epochs=2, **RESUME).fit(X, y)
    b = MLPClassifier(epochs=2, **RESUME).fit(X, y)
    c = MLPClassifier(epochs=2, **{**RESUME, "random_state": 4}).fit(X, y)
    for wa, wb in zip(a.coefs_, b.coefs_):
        assert np.array_equal(wa, wb)
    assert a.history_["loss"] == b.history_["loss"]
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_early_stopping_keeps_best_epoch():
    X, y = _xor(200)
    Xv, yv = _xor(100, seed=1)
    mlp = MLPClassifier(hidden_sizes=(8,), optimizer="sgd", learning_rate=0.3, epochs=60, patience=3,
                        batch_size=16, val_smoothing=0.0, random_state=0).fit(X, y, X_val=Xv, y_val=yv)
    best = mlp.best_epoch_
    assert mlp.history_["val_acc"][best] == max(mlp.history_["val_acc"])
    assert mlp.n_epochs_run_ <= 60 and mlp.n_epochs_run_ - 1 - best <= 3
    assert mlp.score(Xv, yv) == pytest.approx(mlp.history_["val_acc"][best])
    assert len(mlp.history_["lr"]) == mlp.n_epochs_run_


def test_divergence_raises_training_error():
    X, y = _xor(200)
    mlp = MLPClassifier(hidden_sizes=(16,), learning_rate=1e30, normalize="none", epochs=5, random_state=0)
    with pytest.raises(TrainingError, match=r"diverged at epoch \d+, batch \d+.*smaller learning_rate"):
        mlp.fit(X * 1e6, y)


def test_input_dtypes():
    X, y = _images()
    for X_in in (X.astype(np.uint8), X.astype(np.float64), X):
        mlp = MLPClassifier(hidden_sizes=(4,), epochs=1, random_state=0).fit(X_in, y)
        assert mlp.coefs_[0].dtype == np.float32
        assert mlp.decision_function(X_in).dtype == np.float32
        assert mlp.predict_proba(X_in).dtype == np.float32
    binary = MLPClassifier(hidden_sizes=(4,), epochs=1, random_state=0).fit(X, y % 2)
    assert binary.decision_function(X).shape == (len(X),)
    hinge = MLPClassifier(loss="hinge", hidden_sizes=(4,), epochs=1, random_state=0).fit(X, y)
    assert not hasattr(hinge, "predict_proba")


BAD_PARAMS = [
    ({"activation": "swish"}, r"MLPClassifier: activation='swish' is not allowed; choose one of 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu', 'identity'"),
    ({"optimizer": "lion"}, r"optimizer='lion' is not allowed; choose one of 'sgd', 'momentum', 'nesterov', 'rmsprop', 'adam', 'adamw'"),
    ({"schedule": "linear"}, r"schedule='linear' is not allowed; choose one of 'constant', 'step', 'cosine'"),
    ({"loss": "mse"}, r"loss='mse' is not allowed; choose one of 'softmax', 'hinge'"),
    ({"init": "lecun"}, r"init='lecun' is not allowed"),
    ({"normalize": "global"}, r"normalize='global' is not allowed"),
    ({"learning_rate": 0.0}, r"learning_rate=0.0 must be a finite number > 0"),
    ({"learning_rate": -1}, r"learning_rate=-1 must be a finite number > 0"),
    ({"batch_size": 0}, r"batch_size=0 must be >= 1"),
    ({"epochs": 2.5}, r"epochs=2.5 must be an integer"),
    ({"hidden_sizes": (10, 0)}, r"hidden_sizes=\(10, 0\) must be positive integers"),
    ({"dropout": 1.0}, r"dropout=1.0 must be a rate in \[0, 1\) or a list of them \(1.0 is not\)"),
    ({"weight_decay": -0.1}, r"weight_decay=-0.1 must be >= 0"),
    ({"ema": 1.0}, r"ema=1.0 must be < 1"),
    ({"norm": "batch", "hidden_sizes": ()}, r"norm='batch' normalizes hidden layers, but hidden_sizes=\[\] has none"),
    ({"dropout": (0.1, 0.2)}, r"dropout=\[0.1, 0.2\] has 2 rates but hidden_sizes=\[100\] has 1 hidden layers"),
    ({"momentum": 1.5}, r"momentum=1.5 must be < 1"),
    ({"augment": {"flip": True}}, r"augment flip=True needs input_shape"),
    ({"augment": {"cutout": 5}, "input_shape": (4, 4, 3)}, r"augment.cutout=5 is larger than the 4 x 4 images"),
    ({"augment": {"crop": 4}, "input_shape": (4, 4, 3)}, r"augment.crop=4 shifts the 4 x 4 images by their side"),
    ({"min_epochs": 30}, r"min_epochs=30 is more than epochs=20"),
    ({"input_shape": (4, 4)}, r"input_shape=\(4, 4\) must be None or \(height, width, channels\)"),
    ({"input_shape": (5, 5, 3)}, r"input_shape=\(5, 5, 3\) means 75 features per row, but X has 48"),
    ({"label_smoothing": 0.1, "loss": "hinge"}, r"label_smoothing=0.1 applies only to loss='softmax'"),
    ({"random_state": "seed"}, r"random_state='seed' must be None, an integer"),
]


@pytest.mark.parametrize("params,message", BAD_PARAMS, ids=[next(iter(p)) for p, _ in BAD_PARAMS])
def test_bad_settings_name_parameter_and_value(params, message):
    X, y = _images(30)
    with pytest.raises(InputError, match=message):
        MLPClassifier(**params).fit(X, y)


def test_bad_data():
    X, y = _images(30)
    mlp = MLPClassifier(hidden_sizes=(4,), epochs=1, random_state=0)
    with pytest.raises(InputError, match="y has 29 labels but X has 30 samples"):
        mlp.fit(X, y[:-1])
    with pytest.raises(InputError, match=r"X is empty: 0 sample\(s\) \(shape=\(0, 48\)\)"):
        mlp.fit(X[:0], y[:0])
    bad = X.copy()
    bad[3, 4] = np.nan
    bad[5, 6] = np.inf
    with pytest.raises(InputError, match="X contains 2 non-finite values"):
        mlp.fit(bad, y)
    with pytest.raises(InputError, match="needs at least two classes"):
        mlp.fit(X, np.zeros(30))
    with pytest.raises(InputError, match="X must be 2-D"):
        mlp.fit(X.reshape(30, 4, 4, 3), y)
    with pytest.raises(InputError, match="y_val has labels not seen in y: \\[7\\]"):
        mlp.fit(X, y, X_val=X[:2], y_val=[0, 7])
    with pytest.raises(InputError, match="pass both X_val and y_val"):
        mlp.fit(X, y, X_val=X)
    mlp.fit(X, y)
    with pytest.raises(InputError, match="X has 47 features, but MLPClassifier is expecting 48 features"):
        mlp.predict(X[:, 1:])
    with pytest.raises(InputError, match="X contains 1 non-finite"):
        mlp.predict(np.where(np.arange(48) == 0, np.nan, X[:1]))


def test_fit_leaves_float32_input_untouched():
    X, y = _images()
    before = X.copy()
    MLPClassifier(hidden_sizes=(4,), input_shape=(4, 4, 3), augment={"crop": 1}, epochs=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(X, before)


def test_finite_but_exploding_loss_counts_as_divergence():
    # momentum SGD with a far too large step on unnormalized inputs: the loss grows by orders of
    # magnitude while staying finite for a while; it must stop with a clear error, not run on
    X, y = _xor(200)
    mlp = MLPClassifier(hidden_sizes=(16,), optimizer="momentum", learning_rate=5.0, normalize="none",
                        weight_decay=0.0, epochs=50, random_state=0)
    with pytest.raises(TrainingError, match=r"diverged at epoch \d+, batch \d+: the loss is .* \(it started at"):
        mlp.fit(X * 100, y)


def test_progress_is_one_stage_for_all_epochs_and_says_why_training_stopped_early(capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    X_val, y_val = X[:40], 1 - y[:40]  # labels the net cannot learn: validation stops improving at once
    MLPClassifier(hidden_sizes=(8,), epochs=30, patience=2, random_state=0, progress=True).fit(
        X[40:], y[40:], X_val=X_val, y_val=y_val)
    err = capsys.readouterr().err
    assert err.count("MLP training: started (30 epoch)") == 1
    assert "MLP training: early stopping after epoch" in err and "has not improved for 2 epochs" in err
    assert "\r" not in err  # captured output is not a terminal: plain lines only
    MLPClassifier(hidden_sizes=(8,), epochs=3, random_state=0, progress=False).fit(X, y)
    assert capsys.readouterr().err == ""
