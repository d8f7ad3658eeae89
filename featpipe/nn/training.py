"""The MLP's training loop: per epoch, schedule, batch, forward, backward, step, log, checkpoint.

`train` runs the epochs of one fit on objects `MLPClassifier.fit` has built (the network, the
optimizer, the schedule, the standardized inputs) and keeps everything that carries over from
one epoch to the next in a `TrainingState`, which `featpipe.nn.checkpoint` saves and restores.

Randomness: one seed gives, through `numpy.random.SeedSequence`, one generator for the initial
weights (spawn key ``(0,)``) and one fresh generator per epoch (spawn key ``(1, epoch)``) that
draws, in order, that epoch's shuffle and then every batch's augmentation and dropout masks. An
epoch therefore depends only on the seed, the epoch number and the state saved at the end of the
previous epoch, which is why resuming from a checkpoint reproduces an uninterrupted run exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_info

from .. import progress
from ..errors import TrainingError
from ..standardize import apply_standardization
from . import checkpoint as checkpoints
from .augment import augment_batch, mixup
from .early_stopping import should_stop, smoothed, stop_message
from .network import Network
from .optim import Optimizer, Schedule
from .parallel import usable_cores

__all__ = ["DIVERGENCE_FACTOR", "HISTORY_KEYS", "Inputs", "TrainingState", "generator", "seed_entropy", "train"]

#: A finite loss this many times the first batch's (or 1, if larger) counts as diverged: with
#: softmax that is a margin of thousands between logits, which no learning rate recovers from.
DIVERGENCE_FACTOR = 1000.0

#: Per-epoch records of ``history_``; ``augment_time`` is the part of ``epoch_time`` spent augmenting.
HISTORY_KEYS = ("loss", "train_acc", "val_acc", "lr", "epoch_time", "augment_time")


@dataclass
class TrainingState:
    """Everything the training loop carries from epoch to epoch besides weights and optimizer."""

    entropy: int
    epochs_done: int = 0
    global_step: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    best_epoch: int = -1
    best_val: float = -math.inf  # best smoothed validation accuracy (featpipe.nn.early_stopping)
    best: dict[str, np.ndarray] | None = None  # the best epoch's Network.evaluation_arrays; {}: seen, not kept
    bad_epochs: int = 0
    stopped: bool = False
    first_loss: float | None = None  # this fit's first batch loss: the divergence yardstick


@dataclass
class Inputs:
    """The training rows as the loop reads them, and how each batch is finished.

    ``X`` is standardized once up front unless augmentation must see raw pixels first
    (per-feature statistics do not commute with flips and shifts; per-channel ones do, given
    the crop pads with the standardized value of a zero pixel, ``fill``). Then
    ``batch_mean`` / ``batch_std`` standardize each batch after augmenting it. The numbers are
    the same either way: the same float32 operations on the same values.
    """

    X: np.ndarray
    y: np.ndarray  # class indices
    mean: np.ndarray
    std: np.ndarray
    batch_mean: np.ndarray | None = None
    batch_std: np.ndarray | None = None
    fill: Any = 0.0

    @classmethod
    def prepare(cls, X, y, mean, std, *, mode: str, augment: bool, channels: int | None, owned: bool) -> "Inputs":
        """Standardize ``X`` (in place if ``owned``: it is our own copy) or defer it to batches."""
        inputs = cls(X, y, mean, std)
        if mode == "none":
            return inputs
        if augment and mode == "feature":
            inputs.batch_mean, inputs.batch_std = mean, std
            return inputs
        inputs.X = apply_standardization(X, mean, std, out=X if owned else None)
        if augment:
            inv_std = (1.0 / std).astype(np.float32)
            inputs.fill = (np.float32(0.0) - mean[:channels]) * inv_std[:channels]
        return inputs


def train(
    settings,
    network: Network,
    optimizer: Optimizer,
    schedule: Schedule,
    loss_fn: Callable,
    inputs: Inputs,
    state: TrainingState,
    *,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    checkpoint: Path | None = None,
    checkpoint_meta: dict | None = None,
    on_epoch_end: Callable[[int, dict], Any] | None = None,
) -> None:
    """Run the epochs from ``state.epochs_done`` to ``settings.epochs`` (or an early stop).

    ``settings`` is the estimator's validated `MLPClassifierSettings`; ``val`` is
    (raw validation rows, class indices); ``checkpoint_meta`` is what the checkpoint records
    about the run besides the training state (settings and data sizes).
    """
    with progress.stage("MLP training", total=settings.epochs, unit="epoch",
                        enabled=bool(settings.progress)) as bar:
        bar.update(state.epochs_done)  # a resumed run starts where it stopped
        _run_epochs(settings, network, optimizer, schedule, loss_fn, inputs, state, bar, val, checkpoint,
                    checkpoint_meta, on_epoch_end)


def _run_epochs(settings, network, optimizer, schedule, loss_fn, inputs, state, bar, val, checkpoint,
                checkpoint_meta, on_epoch_end) -> None:
    for epoch in range(state.epochs_done, settings.epochs):
        if state.stopped:
            break
        rng = generator(state.entropy, 1, epoch)
        started = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            loss, train_acc, lr, augment_time = _train_epoch(settings, epoch, network, optimizer, schedule,
                                                             loss_fn, inputs, state, rng)
        epoch_time = time.perf_counter() - started
        if optimizer.weight_decay and not optimizer.decoupled:
            loss += 0.5 * float(optimizer.weight_decay) * sum(float(np.vdot(w, w)) for w in network.weights)
        val_acc = float("nan")
        if val is not None:
            scores = network.evaluation_scores(val[0], inputs.mean, inputs.std)
            val_acc = float(np.mean(np.argmax(scores, axis=1) == val[1]))
        for key, value in zip(HISTORY_KEYS, (loss, train_acc, val_acc, lr, epoch_time, augment_time)):
            state.history.setdefault(key, []).append(value)
        state.epochs_done = epoch + 1
        _track_best(settings, state, epoch, val_acc, network, use_val=val is not None)
        if checkpoint is not None:
            checkpoints.save_training(checkpoint, checkpoint_meta, state, network, optimizer,
                                      inputs.mean, inputs.std, rng)
        bar.update(1)
        bar.set_status(f"loss {loss:.4f}, train {train_acc:.1%}" + ("" if val is None else f", val {val_acc:.1%}"))
        if state.stopped:
            progress.note(stop_message(settings, epoch + 1, state.best_epoch, state.best_val,
                                       state.history["val_acc"][state.best_epoch]), enabled=bool(settings.progress))
        if on_epoch_end is not None:
            on_epoch_end(epoch, {k: list(v) for k, v in state.history.items()})


def _train_epoch(settings, epoch, network, optimizer, schedule, loss_fn, inputs, state, rng):
    """One pass over the shuffled training rows; returns (mean loss, accuracy, last lr, seconds augmenting)."""
    X, y = inputs.X, inputs.y
    n, batch_size = X.shape[0], settings.batch_size
    buffer = network.input_buffer(min(batch_size, n))
    order = rng.permutation(n)
    n = network.rows_per_epoch(n, batch_size)
    augment, mix_alpha = settings.augments(), settings.augment.mixup
    total_loss, correct, lr, augment_time = 0.0, 0, schedule(state.global_step), 0.0
    for b, start in enumerate(range(0, n, batch_size)):
        idx = order[start : start + batch_size]
        m = idx.shape[0]
        xb = buffer[:m]
        np.take(X, idx, axis=0, out=xb, mode="clip")  # 'clip' avoids a buffered copy
        yb = y[idx]
        if augment:
            started = time.perf_counter()
            images = xb.reshape(m, *settings.input_shape)
            xb[...] = augment_batch(images, rng, settings.augment, fill=inputs.fill).reshape(m, -1)
            augment_time += time.perf_counter() - started
        if inputs.batch_mean is not None:  # not augmentation: left out of augment_time
            apply_standardization(xb, inputs.batch_mean, inputs.batch_std, out=xb)
        batch_loss = loss_fn
        if mix_alpha:
            started = time.perf_counter()
            xb[...], partner, lam = mixup(xb, mix_alpha, rng)
            batch_loss = _mixed_loss(loss_fn, yb[partner], lam)
            augment_time += time.perf_counter() - started
        loss, scores = network.forward_backward(xb, yb, batch_loss, rng if settings.dropout else None)
        _check_divergence(settings, state, loss, epoch, b)
        total_loss += loss * m
        correct += int(np.count_nonzero(scores.argmax(axis=1) == yb))
        lr = schedule(state.global_step)
        optimizer.learning_rate = lr
        optimizer.step(network.params, network.grads)
        network.update_average()
        state.global_step += 1
    return total_loss / n, correct / n, lr, augment_time


def _mixed_loss(loss_fn: Callable, y_partner: np.ndarray, lam: float) -> Callable:
    """The loss of mixup rows: ``lam`` of the loss on their own labels plus the rest on their partners'."""
    def loss(scores, y):
        own, d_own = loss_fn(scores, y)
        other, d_other = loss_fn(scores, y_partner)
        d_own *= d_own.dtype.type(lam)
        d_own += d_other.dtype.type(1.0 - lam) * d_other
        return lam * own + (1.0 - lam) * other, d_own
    return loss


def _check_divergence(settings, state: TrainingState, loss: float, epoch: int, batch: int) -> None:
    if state.first_loss is None:
        state.first_loss = loss
    if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(state.first_loss, 1.0):
        raise TrainingError(
            f"training diverged at epoch {epoch + 1}, batch {batch + 1}: the loss is {loss:.4g}"
            f" (it started at {state.first_loss:.4g}); "
            f"try a smaller learning_rate (now {settings.learning_rate})"
        )


def _track_best(settings, state: TrainingState, epoch: int, val_acc: float, network: Network, use_val: bool) -> None:
    """Remember the weights of the best epoch of the smoothed validation curve; flag an early
    stop after `patience` epochs without a new best (never before `min_epochs`)."""
    if not use_val:
        state.best_epoch = epoch
        return
    current = float(smoothed(state.history["val_acc"], settings.val_smoothing)[-1])
    if state.best is None or current > state.best_val:
        state.best_val = current
        state.best_epoch = epoch
        state.bad_epochs = 0
        state.best = network.evaluation_arrays(copy=True) if settings.early_stopping else {}
    else:
        state.bad_epochs += 1
        if settings.early_stopping and should_stop(epoch + 1, state.bad_epochs, settings.patience,
                                                   settings.min_epochs):
            state.stopped = True


def seed_entropy(random_state) -> int:
    """An integer seed for `numpy.random.SeedSequence` (fresh entropy for ``None``)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(random_state)


def generator(entropy: int, *spawn_key: int) -> np.random.Generator:
    """The generator of one part of a run (``(0,)``: initial weights; ``(1, epoch)``: an epoch)."""
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=spawn_key))


def blas_threads() -> int:
    """Threads the BLAS may use now (respects threadpoolctl limits), at most the cores this process may run on."""
    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(1, min(max(counts, default=1), usable_cores()))
