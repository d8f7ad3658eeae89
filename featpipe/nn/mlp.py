"""`MLPClassifier`: a fully connected network trained by minibatch gradient descent, as a
scikit-learn classifier.

This module is the estimator facade: it validates settings (through `featpipe.nn.settings`) and
data (`inputs`), builds the parts of a fit (network, optimizer, schedule, standardized inputs),
hands them to the training loop (`training`) and keeps the learned state as plain arrays and
numbers, so `featpipe.model_io` saves it without pickle. The numerics live in `network`
(passes), `layers`, `losses`, `optim` and `augment`; the checkpoint format in `checkpoint`.
"""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..errors import InputError
from ..settings import settings_of, validate_settings
from ..standardize import fit_standardization
from . import checkpoint as checkpoints
from .ema import Ema
from .inputs import as_features, as_labels, check_input_shape, validation_data
from .losses import LOSSES
from .network import Network, init_weights, standardized_scores
from .norm import NormLayers
from .optim import Schedule, make_optimizer
from .parallel import single_threaded_blas
from .settings import MLPClassifierSettings
from .training import Inputs, TrainingState, blas_threads, generator, seed_entropy, train

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier in NumPy, float32, with its own backward pass.

    Parameters
    ----------
    hidden_sizes : tuple of int, default (100,)
        Width of each hidden layer. ``()`` gives a linear softmax (or SVM) classifier. Depth,
        counted as the number of weight matrices, is ``len(hidden_sizes) + 1``.
    activation : a key of `featpipe.nn.layers.ACTIVATIONS` (relu, leaky_relu, sigmoid, tanh, gelu, identity)
        Nonlinearity after each hidden layer. ``identity`` makes a deep linear network;
        ``gelu`` is the tanh approximation (see `featpipe.nn.layers.gelu_forward`).
    init : {"auto", "he", "xavier"}
        Weight initialization; ``auto`` is He for relu-like units, Xavier otherwise.
    loss : a key of `featpipe.nn.losses.LOSSES` (softmax, hinge)
        Softmax cross-entropy or multiclass hinge (SVM) loss.
    label_smoothing : float in [0, 1)
        Label smoothing of the softmax loss.
    weight_decay : float >= 0
        L2 strength on weight matrices (never biases). A loss term
        ``0.5 * weight_decay * sum ||W||**2`` for sgd, momentum, nesterov, rmsprop and adam;
        decoupled decay ``W *= 1 - learning_rate * weight_decay`` per step for adamw.
    dropout : float in [0, 1), or a list of them, one per hidden layer
        Inverted-dropout probability after each hidden activation.
    norm : {"none", "batch", "layer"}
        Normalization of every hidden layer, placed between its affine map and its activation:
        batch normalization (batch statistics in training, running averages of them at
        inference) or layer normalization (each sample over its units). Each has a learned
        per-unit scale and shift, never weight-decayed. With ``batch``, a last batch of a single
        row is left out of its epoch (see `featpipe.nn.network.Network.rows_per_epoch`).
    norm_momentum : float in (0, 1]
        Batch normalization: weight of each batch in the running mean and variance.
    ema : float in [0, 1)
        0 turns it off; else the decay of an exponential moving average of the weights (and of
        batch normalization's running statistics), which validation, early stopping and the
        fitted model use instead of the last weights (see `featpipe.nn.ema`).
    optimizer : a key of `featpipe.nn.optim.OPTIMIZERS` (sgd, momentum, nesterov, rmsprop, adam, adamw)
    learning_rate : float > 0
    momentum : float in [0, 1)
        For momentum and nesterov.
    beta1, beta2 : float in [0, 1)
        Moment decay rates for adam and adamw.
    eps : float > 0
        Denominator offset for rmsprop, adam and adamw.
    rmsprop_decay : float in [0, 1), default 0.99
        Decay rate of rmsprop's running mean of squared gradients.
    schedule : one of `featpipe.nn.optim.SCHEDULES` (constant, step, cosine)
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
    augment : dict, `featpipe.nn.settings.AugmentSettings` or None
        Augmentation of each training batch: ``flip`` (bool), ``crop`` (pad by this many
        pixels, ``crop_mode`` zero or reflect, and cut back to H x W at random), ``affine``
        (``{rotation: degrees, scale: [low, high], translate: pixels}``), ``cutout`` (side of a
        blanked square) and ``mixup`` (Beta alpha; 0 is off). All but mixup need
        ``input_shape``. Zero pixels mean raw pixel value 0 (before normalization). None: none.
    normalize : {"auto", "channel", "feature", "none"}
        Subtract a mean and divide by a standard deviation learned from the training data:
        per channel, per feature, or not at all. ``auto`` is ``channel`` if ``input_shape`` is
        set, else ``feature``.
    early_stopping : bool
        With validation data given to `fit`: stop once the smoothed validation accuracy has
        not improved for ``patience`` epochs and keep the weights of its best epoch. Without
        validation data it has no effect.
    patience : int > 0
    min_epochs : int >= 0, at most ``epochs``
        Early stopping never stops before this many epochs.
    val_smoothing : float in [0, 1)
        Early stopping watches ``s = val_smoothing * s + (1 - val_smoothing) * val_acc``
        (see `featpipe.nn.early_stopping`); 0 watches the raw per-epoch accuracy.
    random_state : int, numpy.random.Generator or None
        Seed of every random choice (initial weights, shuffles, augmentation, dropout).
    progress : bool
        Show a tqdm bar per epoch with the running loss and accuracy.

    Attributes
    ----------
    coefs_ : list of ndarray, float32, shapes (d_i, d_{i+1})
    intercepts_ : list of ndarray, float32, shapes (d_{i+1},)
    norm_gammas_, norm_betas_ : list of ndarray, float32, shapes (d_{i+1},), one per hidden layer
        The normalization's learned scale and shift (empty lists for ``norm="none"``).
    norm_running_means_, norm_running_vars_ : list of ndarray, float32
        Batch normalization's inference statistics (empty lists otherwise).
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

    Settings are declared once, with their defaults, ranges and choices, in
    `featpipe.nn.settings.MLPClassifierSettings`; `fit` validates them through it.
    """

    Settings = MLPClassifierSettings

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
        augment=None,
        normalize="auto",
        early_stopping=True,
        patience=10,
        min_epochs=0,
        val_smoothing=0.0,
        random_state=None,
        progress=False,
        norm="none",
        norm_momentum=0.1,
        ema=0.0,
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
        self.augment = augment
        self.normalize = normalize
        self.early_stopping = early_stopping
        self.patience = patience
        self.min_epochs = min_epochs
        self.val_smoothing = val_smoothing
        self.random_state = random_state
        self.progress = progress
        self.norm = norm
        self.norm_momentum = norm_momentum
        self.ema = ema

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
            afresh). Same data and settings (except ``epochs``, ``patience``, ``min_epochs``, ``progress``)
            give exactly the weights of an uninterrupted run.
        on_epoch_end : callable ``(epoch, history) -> None``, optional
            Called after each epoch (and its checkpoint); an exception raised there stops
            training and propagates.
        """
        s = self.settings()
        X_given = X
        X = as_features(X, "X")
        owned = not (isinstance(X_given, np.ndarray) and np.may_share_memory(X, X_given))
        y = as_labels(y, X.shape[0])
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InputError(
                f"MLPClassifier needs at least two classes in y, got one class: {classes.tolist()}"
            )
        y_idx = y_idx.astype(np.intp).reshape(-1)
        n_features = X.shape[1]
        check_input_shape(s.input_shape, n_features)
        val = validation_data(X_val, y_val, n_features, classes)
        if resume and checkpoint_dir is None:
            raise InputError("resume=True needs a checkpoint_dir to resume from")

        mean, std = self._standardization(X, s)
        entropy = seed_entropy(s.random_state)
        sizes = (n_features, *s.hidden_sizes, len(classes))
        weights, biases = init_weights(sizes, s.init, s.activation, generator(entropy, 0), dtype=np.float32)
        norm = NormLayers.create(s.norm, s.hidden_sizes, np.float32, s.norm_momentum)
        network = Network(weights, biases, s.activation, s.dropout, norm)
        if s.ema:
            network.ema = Ema(s.ema, network.arrays())
        optimizer = make_optimizer(s.optimizer, s)
        # follow the BLAS limit (e.g. threadpool_limits); the products are then shared out by
        # featpipe.nn.parallel over a one-thread BLAS, see there why
        optimizer.n_threads = network.n_threads = blas_threads()
        steps_per_epoch = math.ceil(network.rows_per_epoch(X.shape[0], s.batch_size) / s.batch_size)
        schedule = Schedule(s.schedule, s.learning_rate, total_epochs=s.epochs, steps_per_epoch=steps_per_epoch,
                            warmup_epochs=s.warmup_epochs, step_epochs=s.step_epochs, step_gamma=s.step_gamma)
        state = TrainingState(entropy=entropy)
        run = {"params": self._trajectory_params(),
               "data": {"n_samples": int(X.shape[0]), "n_features": int(n_features), "n_classes": len(classes)}}
        checkpoint = Path(checkpoint_dir) / checkpoints.CHECKPOINT_NAME if checkpoint_dir is not None else None
        if resume and checkpoint.is_file():
            mean, std = checkpoints.load_training(checkpoint, run, state, network, optimizer)

        loss_fn = LOSSES[s.loss]
        if s.label_smoothing:
            loss_fn = partial(loss_fn, label_smoothing=s.label_smoothing)
        inputs = Inputs.prepare(X, y_idx, mean, std, mode=self._normalize_mode(s), augment=s.augments(),
                                channels=s.input_shape[-1] if s.input_shape else None, owned=owned)
        with single_threaded_blas() if network.n_threads > 1 else nullcontext():
            train(s, network, optimizer, schedule, loss_fn, inputs, state, val=val, checkpoint=checkpoint,
                  checkpoint_meta=run, on_epoch_end=on_epoch_end)

        if val is not None and s.early_stopping and state.best:
            final = {k: a.copy() for k, a in state.best.items()}
        else:
            final = network.evaluation_arrays()
        weights, biases, norm = network.unpack(final)
        self.coefs_ = weights
        self.intercepts_ = biases
        self.norm_gammas_ = norm.gammas if norm else []
        self.norm_betas_ = norm.betas if norm else []
        self.norm_running_means_ = norm.running_means if norm else []
        self.norm_running_vars_ = norm.running_vars if norm else []
        self.mean_ = mean
        self.std_ = std
        self.classes_ = classes
        self.n_features_in_ = n_features
        self.history_ = {k: list(v) for k, v in state.history.items()}
        self.best_epoch_ = int(state.best_epoch)
        self.n_epochs_run_ = int(state.epochs_done)
        return self

    def settings(self) -> MLPClassifierSettings:
        """This estimator's settings, validated (InputError naming the setting if not)."""
        return validate_settings(self.Settings, settings_of(self), "MLPClassifier")

    @staticmethod
    def _normalize_mode(s: MLPClassifierSettings) -> str:
        if s.normalize == "auto":
            return "channel" if s.input_shape is not None else "feature"
        return s.normalize

    def _standardization(self, X: np.ndarray, s: MLPClassifierSettings) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature or per-channel mean and std of ``X`` (float32, length D); see
        `featpipe.standardize` for why an MLP on block-weighted features standardizes again."""
        mode = self._normalize_mode(s)
        if mode == "none":
            return np.zeros(X.shape[1], np.float32), np.ones(X.shape[1], np.float32)
        return fit_standardization(X, channels=s.input_shape[-1] if mode == "channel" else None)

    def _trajectory_params(self) -> dict:
        """Settings that shape the training trajectory, JSON-normalized, for resume checks."""
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in checkpoints.RESUMABLE_CHANGES}
        if isinstance(params["random_state"], np.random.Generator):
            params["random_state"] = "<numpy Generator>"
        params["augment"] = self.settings().augment.model_dump(mode="json")
        return json.loads(json.dumps(params, default=str))

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
        X = as_features(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features, but MLPClassifier is expecting "
                f"{self.n_features_in_} features as input (as in the data it was fitted on)"
            )
        return standardized_scores(X, self.coefs_, self.intercepts_, self.activation, self.mean_, self.std_,
                                   norm=self._norm_layers())

    def _norm_layers(self) -> NormLayers | None:
        """The fitted normalization layers (None for ``norm="none"``)."""
        if self.norm == "none":
            return None
        return NormLayers(self.norm, self.norm_gammas_, self.norm_betas_, self.norm_running_means_,
                          self.norm_running_vars_, self.norm_momentum)
