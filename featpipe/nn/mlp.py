"""`MLPClassifier`: a fully connected network trained by minibatch gradient descent, as a
scikit-learn classifier.

The estimator validates settings and data, normalizes inputs, runs the training loop (shuffle,
augment, forward, backward, optimizer step, evaluate, checkpoint) and keeps its learned state
as plain arrays and numbers, so `featpipe.model_io` saves it without pickle. The numerics live
in `network` (passes), `layers`, `losses`, `optim` and `augment`.

Randomness: one seed (``random_state``) gives, through `numpy.random.SeedSequence`, one
generator for the initial weights and one fresh generator per epoch (spawn key ``(1, epoch)``)
that draws, in order, that epoch's shuffle and then every batch's augmentation and dropout
masks. An epoch therefore depends only on the seed, the epoch number and the state saved at the
end of the previous epoch, which is why resuming from a checkpoint reproduces an uninterrupted
run exactly.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from threadpoolctl import threadpool_info
from tqdm.auto import tqdm

from ..errors import InputError, ModelError, TrainingError
from .augment import augment_batch
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from .layers import ACTIVATIONS
from .losses import LOSSES
from .network import Network, forward_scores, init_weights
from .optim import OPTIMIZERS, SCHEDULES, Schedule

__all__ = ["MLPClassifier"]

INITS = ("auto", "he", "xavier")
NORMALIZATIONS = ("auto", "channel", "feature", "none")

# Settings that may differ between the run that wrote a checkpoint and the one resuming it.
_RESUMABLE_CHANGES = frozenset({"epochs", "patience", "progress"})

_PREDICT_ROWS = 2048


#: A finite loss this many times the first batch's (or 1, if larger) counts as diverged: with
#: softmax that is a margin of thousands between logits, which no learning rate recovers from.
DIVERGENCE_FACTOR = 1000.0


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier in NumPy, float32, with its own backward pass.

    Parameters
    ----------
    hidden_sizes : tuple of int, default (100,)
        Width of each hidden layer. ``()`` gives a linear softmax (or SVM) classifier. Depth,
        counted as the number of weight matrices, is ``len(hidden_sizes) + 1``.
    activation : {"relu", "leaky_relu", "sigmoid", "tanh", "gelu", "identity"}
        Nonlinearity after each hidden layer. ``identity`` makes a deep linear network;
        ``gelu`` is the tanh approximation (see `featpipe.nn.layers.gelu_forward`).
    init : {"auto", "he", "xavier"}
        Weight initialization; ``auto`` is He for relu-like units, Xavier otherwise.
    loss : {"softmax", "hinge"}
        Softmax cross-entropy or multiclass hinge (SVM) loss.
    label_smoothing : float in [0, 1)
        Label smoothing of the softmax loss.
    weight_decay : float >= 0
        L2 strength on weight matrices (never biases). A loss term
        ``0.5 * weight_decay * sum ||W||**2`` for sgd, momentum, nesterov, rmsprop and adam;
        decoupled decay ``W *= 1 - learning_rate * weight_decay`` per step for adamw.
    dropout : float in [0, 1)
        Inverted-dropout probability after every hidden activation.
    optimizer : {"sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"}
    learning_rate : float > 0
    momentum : float in [0, 1)
        For momentum and nesterov.
    beta1, beta2 : float in [0, 1)
        Moment decay rates for adam and adamw.
    eps : float > 0
        Denominator offset for rmsprop, adam and adamw.
    rmsprop_decay : float in [0, 1), default 0.99
        Decay rate of rmsprop's running mean of squared gradients.
    schedule : {"constant", "step", "cosine"}
        Learning-rate schedule over the ``epochs`` (see `featpipe.nn.optim.Schedule`).
    warmup_epochs : int >= 0
        Epochs of linear learning-rate warm-up.
    step_epochs : int > 0
    step_gamma : float in (0, 1]
        The ``step`` schedule multiplies the rate by ``step_gamma`` every ``step_epochs``.
    batch_size : int > 0
    epochs : int > 0
        Maximum number of passes over the training data.
    input_shape : tuple (H, W, C) or None
        Image shape of each row of ``X`` (rows are images flattened in H, W, C order). Needed
        for augmentation and for per-channel normalization.
    augment_flip : bool
        Mirror each training image left-right with probability 1/2.
    augment_crop : int >= 0
        Pad training images with this many zero pixels (raw pixel value 0, before
        normalization) and crop back to H x W at a random offset.
    normalize : {"auto", "channel", "feature", "none"}
        Subtract a mean and divide by a standard deviation learned from the training data:
        per channel, per feature, or not at all. ``auto`` is ``channel`` if ``input_shape`` is
        set, else ``feature``.
    early_stopping : bool
        With validation data given to `fit`: stop once validation accuracy has not improved
        for ``patience`` epochs and keep the weights of the best epoch. Without validation
        data it has no effect.
    patience : int > 0
    random_state : int, numpy.random.Generator or None
        Seed of every random choice (initial weights, shuffles, augmentation, dropout).
    progress : bool
        Show a tqdm bar per epoch with the running loss and accuracy.

    Attributes
    ----------
    coefs_ : list of ndarray, float32, shapes (d_i, d_{i+1})
    intercepts_ : list of ndarray, float32, shapes (d_{i+1},)
    mean_, std_ : ndarray, float32, shape (n_features_in_,)
        Normalization applied to every input row (per-channel values repeated per pixel;
        zeros and ones for ``normalize="none"``).
    classes_ : ndarray, shape (n_classes,)
    n_features_in_ : int
    history_ : dict of lists, one entry per epoch run
        ``loss`` (mean training data loss over the epoch's batches, plus the L2 term at the
        epoch's end for coupled decay), ``train_acc`` (accuracy on the training batches as
        they were seen), ``val_acc`` (NaN without validation data), ``lr`` (rate of the
        epoch's last step), ``epoch_time`` (seconds of training steps, without validation
        and checkpointing).
    best_epoch_ : int
        Index (0-based) of the epoch whose weights were kept.
    n_epochs_run_ : int
    """

    def __init__(
        self,
        *,
        hidden_sizes=(100,),
        activation="relu",
        init="auto",
        loss="softmax",
        label_smoothing=0.0,
        weight_decay=5e-4,
        dropout=0.0,
        optimizer="sgd",
        learning_rate=0.01,
        momentum=0.9,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        rmsprop_decay=0.99,
        schedule="constant",
        warmup_epochs=0,
        step_epochs=10,
        step_gamma=0.1,
        batch_size=256,
        epochs=20,
        input_shape=None,
        augment_flip=False,
        augment_crop=0,
        normalize="auto",
        early_stopping=True,
        patience=10,
        random_state=None,
        progress=False,
    ):
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.init = init
        self.loss = loss
        self.label_smoothing = label_smoothing
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.rmsprop_decay = rmsprop_decay
        self.schedule = schedule
        self.warmup_epochs = warmup_epochs
        self.step_epochs = step_epochs
        self.step_gamma = step_gamma
        self.batch_size = batch_size
        self.epochs = epochs
        self.input_shape = input_shape
        self.augment_flip = augment_flip
        self.augment_crop = augment_crop
        self.normalize = normalize
        self.early_stopping = early_stopping
        self.patience = patience
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X,
        y,
        *,
        X_val=None,
        y_val=None,
        checkpoint_dir=None,
        resume: bool = False,
        on_epoch_end: Callable[[int, dict], Any] | None = None,
    ) -> "MLPClassifier":
        """Train on ``X`` (N, D) and labels ``y`` (N,).

        Parameters
        ----------
        X : array-like, shape (N, D)
            Float32 is used as is; any other numeric dtype is cast to float32 once.
        y : array-like, shape (N,)
            Class labels of any type; ``classes_`` stores them sorted.
        X_val, y_val : array-like, optional
            Validation data, scored after every epoch (``history_["val_acc"]``) and used for
            early stopping.
        checkpoint_dir : path, optional
            After every epoch, write the full training state to
            ``checkpoint_dir/mlp_checkpoint.npz`` (atomically).
        resume : bool
            Continue from the checkpoint in ``checkpoint_dir`` if there is one (else start
            afresh). Same data and settings (except ``epochs``, ``patience``, ``progress``)
            give exactly the weights of an uninterrupted run.
        on_epoch_end : callable ``(epoch, history) -> None``, optional
            Called after each epoch (and its checkpoint); an exception raised there stops
            training and propagates.
        """
        self._check_params()
        X_given = X
        X = _as_features(X, "X")
        owned = not (isinstance(X_given, np.ndarray) and np.may_share_memory(X, X_given))
        y = _as_labels(y, X.shape[0])
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InputError(
                f"MLPClassifier needs at least two classes in y, got one class: {classes.tolist()}"
            )
        y_idx = y_idx.astype(np.intp).reshape(-1)
        n_features = X.shape[1]
        self._check_input_shape(n_features)
        val = self._validation_data(X_val, y_val, n_features, classes)
        if resume and checkpoint_dir is None:
            raise InputError("resume=True needs a checkpoint_dir to resume from")

        mean, std = self._normalization(X)
        entropy = _seed_entropy(self.random_state)
        sizes = (n_features, *[int(h) for h in self.hidden_sizes], len(classes))
        weights, biases = init_weights(
            sizes, self.init, self.activation, _generator(entropy, 0), dtype=np.float32
        )
        network = Network(weights, biases, self.activation, float(self.dropout))
        optimizer = self._make_optimizer()
        optimizer.n_threads = _blas_threads()  # follow the BLAS limit (e.g. threadpool_limits)
        steps_per_epoch = math.ceil(X.shape[0] / self.batch_size)
        schedule = Schedule(
            self.schedule,
            float(self.learning_rate),
            total_epochs=int(self.epochs),
            steps_per_epoch=steps_per_epoch,
            warmup_epochs=int(self.warmup_epochs),
            step_epochs=int(self.step_epochs),
            step_gamma=float(self.step_gamma),
        )
        state = _TrainingState(entropy=entropy)
        checkpoint = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
        if resume and checkpoint.is_file():
            mean, std = self._restore(checkpoint, state, network, optimizer, X.shape, len(classes))

        loss_fn = LOSSES[self.loss]
        if self.loss == "softmax" and self.label_smoothing:
            loss_fn = partial(loss_fn, label_smoothing=float(self.label_smoothing))
        inv_std = (1.0 / std).astype(np.float32)
        mode = self._normalize_mode()
        augment = bool(self.augment_flip or self.augment_crop)
        # Normalize the training set once, not every batch, unless augmentation has to see raw
        # pixels first (per-feature statistics do not commute with flips and shifts; per-channel
        # ones do, given the crop pads with the normalized value of a zero pixel). The numbers
        # are the same either way: the same float32 operations on the same values.
        batch_mean = None
        fill = 0.0
        if mode != "none":
            if augment and mode == "feature":
                batch_mean = mean
            else:
                X = _normalized_copy(X, mean, inv_std, in_place=owned)
                if augment:
                    c = self.input_shape[-1]
                    fill = (np.float32(0.0) - mean[:c]) * inv_std[:c]
        batch = np.empty((min(self.batch_size, X.shape[0]), n_features), dtype=np.float32)

        for epoch in range(state.epochs_done, int(self.epochs)):
            if state.stopped:
                break
            rng = _generator(state.entropy, 1, epoch)
            started = time.perf_counter()
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
                loss, train_acc, lr = self._train_epoch(
                    epoch, X, y_idx, batch, network, optimizer, schedule, state, loss_fn, rng,
                    batch_mean, inv_std, fill,
                )
            epoch_time = time.perf_counter() - started
            if optimizer.weight_decay and self.optimizer != "adamw":
                loss += 0.5 * float(optimizer.weight_decay) * sum(float(np.vdot(w, w)) for w in weights)
            val_acc = float("nan")
            if val is not None:
                val_acc = float(np.mean(self._predict_indices(val[0], network, mean, std) == val[1]))
            for key, value in zip(
                ("loss", "train_acc", "val_acc", "lr", "epoch_time"),
                (loss, train_acc, val_acc, lr, epoch_time),
            ):
                state.history[key].append(value)
            state.epochs_done = epoch + 1
            self._track_best(state, epoch, val_acc, network, use_val=val is not None)
            if checkpoint is not None:
                self._save(checkpoint, state, network, optimizer, mean, std, rng, X.shape, len(classes))
            if on_epoch_end is not None:
                on_epoch_end(epoch, {k: list(v) for k, v in state.history.items()})

        if val is not None and self.early_stopping and state.best_weights is not None:
            weights = [w.copy() for w in state.best_weights]
            biases = [b.copy() for b in state.best_biases]
        self.coefs_ = weights
        self.intercepts_ = biases
        self.mean_ = mean
        self.std_ = std
        self.classes_ = classes
        self.n_features_in_ = n_features
        self.history_ = {k: list(v) for k, v in state.history.items()}
        self.best_epoch_ = int(state.best_epoch)
        self.n_epochs_run_ = int(state.epochs_done)
        return self

    def _train_epoch(
        self, epoch, X, y_idx, batch, network, optimizer, schedule, state, loss_fn, rng, mean, inv_std, fill
    ) -> tuple[float, float, float]:
        """One pass over the shuffled training data; returns (mean loss, accuracy, last lr).

        ``mean`` is None when ``X`` is already normalized; ``fill`` is the crop padding value.
        """
        n = X.shape[0]
        order = rng.permutation(n)
        augment = self.augment_flip or self.augment_crop
        total_loss, correct, lr = 0.0, 0, schedule(state.global_step)
        n_batches = math.ceil(n / self.batch_size)
        bar = tqdm(
            total=n_batches, desc=f"epoch {epoch + 1}/{self.epochs}", leave=True,
            disable=not self.progress, unit="batch",
        )
        with bar:
            for b, start in enumerate(range(0, n, self.batch_size)):
                idx = order[start : start + self.batch_size]
                m = idx.shape[0]
                xb = batch[:m]
                np.take(X, idx, axis=0, out=xb, mode="clip")  # 'clip' avoids a buffered copy
                yb = y_idx[idx]
                if augment:
                    images = xb.reshape(m, *self.input_shape)
                    xb[...] = augment_batch(
                        images, rng, flip=bool(self.augment_flip), crop=int(self.augment_crop), fill=fill
                    ).reshape(m, -1)
                if mean is not None:
                    xb -= mean
                    xb *= inv_std
                loss, scores = network.forward_backward(xb, yb, loss_fn, rng if self.dropout else None)
                if state.first_loss is None:
                    state.first_loss = loss
                if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(state.first_loss, 1.0):
                    raise TrainingError(
                        f"training diverged at epoch {epoch + 1}, batch {b + 1}: the loss is {loss:.4g}"
                        f" (it started at {state.first_loss:.4g}); "
                        f"try a smaller learning_rate (now {self.learning_rate})"
                    )
                total_loss += loss * m
                correct += int(np.count_nonzero(scores.argmax(axis=1) == yb))
                lr = schedule(state.global_step)
                optimizer.learning_rate = lr
                optimizer.step(network.params, network.grads)
                state.global_step += 1
                if self.progress:
                    bar.update(1)
                    if b % 10 == 0 or b == n_batches - 1:
                        seen = start + m
                        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}")
        return total_loss / n, correct / n, lr

    def _track_best(self, state, epoch, val_acc, network, use_val) -> None:
        """Remember the best epoch's weights; flag an early stop after `patience` bad epochs."""
        if not use_val:
            state.best_epoch = epoch
            return
        if state.best_weights is None or val_acc > state.best_val:
            state.best_val = val_acc
            state.best_epoch = epoch
            state.bad_epochs = 0
            if self.early_stopping:
                state.best_weights = [w.copy() for w in network.weights]
                state.best_biases = [b.copy() for b in network.biases]
            else:
                state.best_weights = []  # marks "seen a best" without keeping copies
        else:
            state.bad_epochs += 1
            if self.early_stopping and state.bad_epochs >= self.patience:
                state.stopped = True

    def _make_optimizer(self):
        cls = OPTIMIZERS[self.optimizer]
        lr, wd = float(self.learning_rate), float(self.weight_decay)
        if self.optimizer in ("momentum", "nesterov"):
            return cls(lr, momentum=float(self.momentum), weight_decay=wd)
        if self.optimizer == "rmsprop":
            return cls(lr, decay=float(self.rmsprop_decay), eps=float(self.eps), weight_decay=wd)
        if self.optimizer in ("adam", "adamw"):
            return cls(lr, beta1=float(self.beta1), beta2=float(self.beta2), eps=float(self.eps), weight_decay=wd)
        return cls(lr, weight_decay=wd)

    # ------------------------------------------------------------ checkpoints

    def _trajectory_params(self) -> dict:
        """Settings that shape the training trajectory, JSON-normalized, for resume checks."""
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in _RESUMABLE_CHANGES}
        if isinstance(params["random_state"], np.random.Generator):
            params["random_state"] = "<numpy Generator>"
        return json.loads(json.dumps(params, default=str))

    def _save(self, path, state, network, optimizer, mean, std, rng, x_shape, n_classes) -> None:
        arrays = {"mean": mean, "std": std}
        for i, (w, b) in enumerate(zip(network.weights, network.biases)):
            arrays[f"W{i}"], arrays[f"b{i}"] = w, b
        for slot, values in optimizer.state.items():
            for i, a in enumerate(values):
                arrays[f"opt.{slot}.{i}"] = a
        if state.best_weights:
            for i, (w, b) in enumerate(zip(state.best_weights, state.best_biases)):
                arrays[f"best_W{i}"], arrays[f"best_b{i}"] = w, b
        meta = {
            "format": "featpipe-mlp-checkpoint",
            "version": 1,
            "params": self._trajectory_params(),
            "data": {"n_samples": int(x_shape[0]), "n_features": int(x_shape[1]), "n_classes": n_classes},
            "epochs_done": state.epochs_done,
            "history": state.history,
            "best_epoch": state.best_epoch,
            "best_val": state.best_val,
            "has_best": state.best_weights is not None,
            "bad_epochs": state.bad_epochs,
            "stopped": state.stopped,
            "optimizer": {"name": self.optimizer, "step_count": optimizer.step_count,
                          "slots": list(optimizer.state)},
            "schedule": {"name": self.schedule, "global_step": state.global_step,
                         "last_lr": optimizer.learning_rate},
            # Epoch e's generator is rebuilt from (seed_entropy, 1, e); the last one's final
            # state is kept for the record.
            "rng": {"seed_entropy": str(state.entropy), "spawn_key_of_epoch": [1, "epoch"],
                    "last_epoch_generator_state": rng.bit_generator.state},
        }
        save_checkpoint(path, arrays, meta)

    def _restore(self, path, state, network, optimizer, x_shape, n_classes):
        """Load `path` into the training objects; returns the saved (mean, std)."""
        arrays, meta = load_checkpoint(path)
        if meta.get("format") != "featpipe-mlp-checkpoint":
            raise ModelError(f"{path}: not an MLP training checkpoint")
        saved, now = meta["params"], self._trajectory_params()
        changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        if changed:
            detail = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
            raise InputError(
                f"cannot resume from {path}: settings differ from the checkpoint ({detail}); "
                f"only {', '.join(sorted(_RESUMABLE_CHANGES))} may change"
            )
        data = {"n_samples": int(x_shape[0]), "n_features": int(x_shape[1]), "n_classes": n_classes}
        if meta["data"] != data:
            raise InputError(f"cannot resume from {path}: it was trained on data {meta['data']}, got {data}")
        for i in range(len(network.weights)):
            network.weights[i][...] = arrays[f"W{i}"]
            network.biases[i][...] = arrays[f"b{i}"]
        optimizer.load_state_dict({
            "step_count": meta["optimizer"]["step_count"],
            "state": {slot: [arrays[f"opt.{slot}.{i}"] for i in range(len(network.params))]
                      for slot in meta["optimizer"]["slots"]},
        })
        state.entropy = int(meta["rng"]["seed_entropy"])
        state.epochs_done = int(meta["epochs_done"])
        state.global_step = int(meta["schedule"]["global_step"])
        state.history = {k: [float(v) for v in values] for k, values in meta["history"].items()}
        state.best_epoch = int(meta["best_epoch"])
        state.best_val = float(meta["best_val"])
        state.bad_epochs = int(meta["bad_epochs"])
        state.stopped = bool(meta["stopped"])
        if meta["has_best"]:
            n_layers = len(network.weights)
            state.best_weights = [arrays[f"best_W{i}"] for i in range(n_layers) if f"best_W{i}" in arrays]
            state.best_biases = [arrays[f"best_b{i}"] for i in range(n_layers) if f"best_b{i}" in arrays]
        return arrays["mean"], arrays["std"]

    # ------------------------------------------------------------ prediction

    def decision_function(self, X) -> np.ndarray:
        """Class scores, shape (N, K); for two classes the margin ``s_1 - s_0``, shape (N,)."""
        scores = self._scores(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def _has_probabilities(self) -> bool:
        return self.loss == "softmax"

    @available_if(_has_probabilities)
    def predict_proba(self, X) -> np.ndarray:
        """Softmax class probabilities, shape (N, K), float32 (only with ``loss="softmax"``)."""
        scores = self._scores(X)
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def predict(self, X) -> np.ndarray:
        """Predicted labels (elements of ``classes_``), shape (N,)."""
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def _scores(self, X) -> np.ndarray:
        check_is_fitted(self, "coefs_")
        X = _as_features(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features, but MLPClassifier is expecting "
                f"{self.n_features_in_} features as input (as in the data it was fitted on)"
            )
        return _normalized_scores(X, self.coefs_, self.intercepts_, self.activation, self.mean_, self.std_)

    def _predict_indices(self, X, network, mean, std) -> np.ndarray:
        scores = _normalized_scores(X, network.weights, network.biases, self.activation, mean, std)
        return np.argmax(scores, axis=1)

    # ------------------------------------------------------------ validation

    def _normalize_mode(self) -> str:
        if self.normalize == "auto":
            return "channel" if self.input_shape is not None else "feature"
        return self.normalize

    def _normalization(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature or per-channel mean and std of ``X`` as float32 vectors of length D."""
        n, d = X.shape
        mode = self._normalize_mode()
        if mode == "none":
            return np.zeros(d, np.float32), np.ones(d, np.float32)
        total = np.zeros(d)
        total_sq = np.zeros(d)
        for start in range(0, n, 4096):  # float64 sums without a float64 copy of X
            chunk = X[start : start + 4096].astype(np.float64)
            total += chunk.sum(axis=0)
            total_sq += np.einsum("ij,ij->j", chunk, chunk)
        count = float(n)
        if mode == "channel":
            c = self.input_shape[-1]
            total = np.tile(total.reshape(-1, c).sum(axis=0), d // c)
            total_sq = np.tile(total_sq.reshape(-1, c).sum(axis=0), d // c)
            count *= d // c
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        std[std < 1e-6] = 1.0  # constant inputs: leave them centred, not blown up
        return mean.astype(np.float32), std.astype(np.float32)

    def _check_input_shape(self, n_features: int) -> None:
        if self.input_shape is not None:
            expected = int(np.prod(self.input_shape))
            if expected != n_features:
                raise InputError(
                    f"input_shape={tuple(self.input_shape)} means {expected} features per row, "
                    f"but X has {n_features}"
                )

    def _validation_data(self, X_val, y_val, n_features, classes):
        if X_val is None and y_val is None:
            return None
        if X_val is None or y_val is None:
            raise InputError("pass both X_val and y_val (validation data), or neither")
        X_val = _as_features(X_val, "X_val")
        if X_val.shape[1] != n_features:
            raise InputError(f"X_val has {X_val.shape[1]} features but X has {n_features}")
        y_val = _as_labels(y_val, X_val.shape[0], name="y_val", x_name="X_val")
        unknown = np.setdiff1d(np.unique(y_val), classes)
        if unknown.size:
            raise InputError(
                f"y_val has labels not seen in y: {unknown[:10].tolist()} (known: {classes[:10].tolist()})"
            )
        return X_val, np.searchsorted(classes, y_val)

    def _check_params(self) -> None:
        """Validate every setting; raise InputError naming the parameter, value and rule."""
        hs = self.hidden_sizes
        if not isinstance(hs, (tuple, list)) or not all(_is_int(h) and h > 0 for h in hs):
            raise InputError(
                f"hidden_sizes={hs!r} must be a tuple of positive integers (or () for a linear model)"
            )
        _choice("activation", self.activation, tuple(ACTIVATIONS))
        _choice("init", self.init, INITS)
        _choice("loss", self.loss, tuple(LOSSES))
        _choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("normalize", self.normalize, NORMALIZATIONS)
        _real_in("label_smoothing", self.label_smoothing, 0.0, 1.0, "in [0, 1)")
        if self.label_smoothing and self.loss != "softmax":
            raise InputError(f"label_smoothing={self.label_smoothing!r} applies only to loss='softmax', not {self.loss!r}")
        _real_in("weight_decay", self.weight_decay, 0.0, math.inf, ">= 0")
        _real_in("dropout", self.dropout, 0.0, 1.0, "in [0, 1)")
        _real_in("learning_rate", self.learning_rate, 0.0, math.inf, "> 0", low_open=True)
        for name in ("momentum", "beta1", "beta2", "rmsprop_decay"):
            _real_in(name, getattr(self, name), 0.0, 1.0, "in [0, 1)")
        _real_in("eps", self.eps, 0.0, math.inf, "> 0", low_open=True)
        _real_in("step_gamma", self.step_gamma, 0.0, 1.0, "in (0, 1]", low_open=True, high_closed=True)
        for name in ("batch_size", "epochs", "patience", "step_epochs"):
            _int_at_least(name, getattr(self, name), 1)
        for name in ("warmup_epochs", "augment_crop"):
            _int_at_least(name, getattr(self, name), 0)
        for name in ("augment_flip", "early_stopping", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InputError(f"{name}={getattr(self, name)!r} must be True or False")
        shape = self.input_shape
        if shape is not None and not (
            isinstance(shape, (tuple, list)) and len(shape) == 3 and all(_is_int(s) and s > 0 for s in shape)
        ):
            raise InputError(f"input_shape={shape!r} must be None or (height, width, channels) of positive integers")
        if shape is None:
            for name in ("augment_flip", "augment_crop"):
                if getattr(self, name):
                    raise InputError(f"{name}={getattr(self, name)!r} needs input_shape=(H, W, C) to know the image layout")
            if self.normalize == "channel":
                raise InputError("normalize='channel' needs input_shape=(H, W, C) to know the channels")
        rs = self.random_state
        if not (rs is None or _is_int(rs) or isinstance(rs, (np.random.Generator, np.random.RandomState))):
            raise InputError(f"random_state={rs!r} must be None, an integer or a numpy Generator")
        if _is_int(rs) and rs < 0:
            raise InputError(f"random_state={rs!r} must be a non-negative integer")


class _TrainingState:
    """Everything the training loop carries from epoch to epoch besides weights and optimizer."""

    def __init__(self, entropy: int) -> None:
        self.entropy = entropy
        self.epochs_done = 0
        self.global_step = 0
        self.history: dict[str, list[float]] = {k: [] for k in ("loss", "train_acc", "val_acc", "lr", "epoch_time")}
        self.best_epoch = -1
        self.best_val = -math.inf
        self.best_weights: list[np.ndarray] | None = None
        self.best_biases: list[np.ndarray] | None = None
        self.bad_epochs = 0
        self.stopped = False
        self.first_loss: float | None = None  # this fit's first batch loss: the divergence yardstick


def _normalized_scores(X, weights, biases, activation, mean, std) -> np.ndarray:
    """Scores of ``(X - mean) / std``, normalized a block of rows at a time (no full copy)."""
    inv_std = (1.0 / std).astype(np.float32)
    out = np.empty((X.shape[0], weights[-1].shape[1]), dtype=np.float32)
    for start in range(0, X.shape[0], _PREDICT_ROWS):
        block = X[start : start + _PREDICT_ROWS] - mean
        block *= inv_std
        out[start : start + _PREDICT_ROWS] = forward_scores(block, weights, biases, activation)
    return out


def _normalized_copy(X: np.ndarray, mean: np.ndarray, inv_std: np.ndarray, in_place: bool) -> np.ndarray:
    """``(X - mean) * inv_std`` in float32, a block of rows at a time; overwrites ``X`` if
    ``in_place`` (when it is our own copy anyway), else writes a new array."""
    out = X if in_place else np.empty_like(X)
    for start in range(0, X.shape[0], 4096):
        block = out[start : start + 4096]
        np.subtract(X[start : start + 4096], mean, out=block)
        block *= inv_std
    return out


def _as_features(X, name: str) -> np.ndarray:
    """``X`` as a finite, non-empty float32 array (N, D), cast at most once."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise InputError(f"{name} is a sparse matrix; MLPClassifier needs a dense array ({name}.toarray())")
    arr = np.asarray(X)
    if np.iscomplexobj(arr):
        raise InputError(f"{name}: Complex data not supported (dtype {arr.dtype}); pass real numbers")
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}. Reshape your data, "
            f"e.g. images with {name}.reshape(len({name}), -1)"
        )
    for axis, what in ((0, "sample"), (1, "feature")):
        if arr.shape[axis] == 0:
            raise InputError(
                f"{name} is empty: 0 {what}(s) (shape={arr.shape}) while a minimum of 1 is required."
            )
    if arr.dtype != np.float32:
        try:
            arr = arr.astype(np.float32)
        except ValueError as exc:
            raise InputError(f"{name} must hold numbers, got dtype {arr.dtype} ({exc})") from None
    finite = np.isfinite(arr)
    if not finite.all():
        bad = arr.size - int(np.count_nonzero(finite))
        raise InputError(f"{name} contains {bad} non-finite values (NaN or infinity); clean or impute them first")
    return arr


def _as_labels(y, n_samples: int, name: str = "y", x_name: str = "X") -> np.ndarray:
    if y is None:
        raise InputError(f"MLPClassifier requires {name} to be passed, but the target {name} is None")
    try:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None
    if y.shape[0] != n_samples:
        raise InputError(f"{name} has {y.shape[0]} labels but {x_name} has {n_samples} samples; they must match")
    return y


def _seed_entropy(random_state) -> int:
    """An integer seed for `numpy.random.SeedSequence` (fresh entropy for ``None``)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(random_state)


def _blas_threads() -> int:
    """Threads the BLAS may use now (respects threadpoolctl limits), at most the CPU count."""
    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(1, min(max(counts, default=1), os.cpu_count() or 1))


def _generator(entropy: int, *spawn_key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=spawn_key))


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{name}={value!r} is not valid; choose one of: {', '.join(choices)}")


def _real_in(name, value, low, high, rule, low_open=False, high_closed=False) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value <= high if high_closed else value < high)
    if not ok:
        raise InputError(f"{name}={value!r} must be a number {rule}")


def _int_at_least(name, value, low) -> None:
    if not (_is_int(value) and value >= low):
        raise InputError(f"{name}={value!r} must be an integer >= {low}")
