"""The MLP's training checkpoint: one `.npz` file of named arrays plus a JSON document.

Arrays (weights, optimizer state, the input standardization, the best epoch's weights) are
stored as themselves; everything else (epoch, history, RNG seed, settings, data sizes) as a JSON
string inside the same file, so one atomic rename publishes a consistent checkpoint and loading
never needs pickle. `save_training` / `load_training` define the format (version 2):

arrays   the network's named arrays (`featpipe.nn.network.Network.arrays`: ``W{i}``, ``b{i}``
         per layer; ``gamma{i}``, ``beta{i}``, ``running_mean{i}``, ``running_var{i}`` per
         normalized hidden layer), ``opt.{slot}.{i}`` (optimizer state of parameter i in
         `Network.params` order), ``mean``, ``std``, ``ema.{name}`` (the weight average's
         shadow of each array), ``best_{name}`` (the best epoch's evaluated arrays)
meta     ``format``, ``version``, ``params`` (the settings that shape the trajectory),
         ``data`` (n_samples, n_features, n_classes), ``epochs_done``, ``history``,
         ``best_epoch``, ``best_val``, ``has_best``, ``bad_epochs``, ``stopped``,
         ``optimizer`` (name, step_count, slots), ``schedule`` (name, global_step, last_lr),
         ``ema_updates`` (updates of the weight average so far, or null without one),
         ``rng`` (seed_entropy; epoch e's generator is rebuilt from (seed_entropy, 1, e))

Version 1 came before the normalization, per-layer dropout and weight-average settings; its
runs cannot be resumed by this version (start them afresh).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..errors import InputError, ModelError

__all__ = ["CHECKPOINT_NAME", "FORMAT", "load_checkpoint", "load_training", "save_checkpoint", "save_training"]

#: File name of the checkpoint inside a checkpoint directory.
CHECKPOINT_NAME = "mlp_checkpoint.npz"

_META_KEY = "__meta_json__"

#: The ``format`` field of an MLP training checkpoint.
FORMAT = "featpipe-mlp-checkpoint"

#: The version `save_training` writes.
VERSION = 2

#: Settings that may differ between the run that wrote a checkpoint and the one resuming it: they
#: decide only how long training goes on (or how it is shown), never what an epoch computes.
#: ``val_smoothing`` is not one of them: the best epoch kept so far (its weights) was chosen on the
#: old smoothed curve, and the new curve may prefer an earlier epoch whose weights are gone.
RESUMABLE_CHANGES = frozenset({"epochs", "patience", "min_epochs", "progress"})


def save_checkpoint(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write ``arrays`` and the JSON-able ``meta`` to ``path`` atomically."""
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    payload = dict(arrays)
    payload[_META_KEY] = np.array(json.dumps(meta))
    atomic.save_npz(path, payload)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint written by `save_checkpoint` (without pickle)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        meta = json.loads(str(arrays.pop(_META_KEY)))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{path}: not a readable MLP checkpoint ({exc})") from None
    return arrays, meta


def save_training(path, run: dict[str, Any], state, network, optimizer, mean, std, rng) -> None:
    """Write the training state after an epoch to ``path`` (atomically).

    ``run`` holds ``params`` (trajectory settings, JSON) and ``data`` (the training data's
    sizes); ``state`` is the loop's `featpipe.nn.training.TrainingState`; ``rng`` the generator
    of the epoch just finished (its final state is kept for the record).
    """
    arrays = {"mean": mean, "std": std, **network.arrays()}
    if network.ema is not None:
        arrays.update({f"ema.{name}": a for name, a in network.ema.shadow.items()})
    for slot, values in optimizer.state.items():
        for i, a in enumerate(values):
            arrays[f"opt.{slot}.{i}"] = a
    if state.best:
        arrays.update({f"best_{name}": a for name, a in state.best.items()})
    params = run["params"]
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "params": params,
        "data": run["data"],
        "epochs_done": state.epochs_done,
        "history": state.history,
        "best_epoch": state.best_epoch,
        "best_val": state.best_val,
        "has_best": state.best is not None,
        "bad_epochs": state.bad_epochs,
        "stopped": state.stopped,
        "optimizer": {"name": params["optimizer"], "step_count": optimizer.step_count,
                      "slots": list(optimizer.state)},
        "schedule": {"name": params["schedule"], "global_step": state.global_step,
                     "last_lr": optimizer.learning_rate},
        "ema_updates": network.ema.updates if network.ema is not None else None,
        "rng": {"seed_entropy": str(state.entropy), "spawn_key_of_epoch": [1, "epoch"],
                "last_epoch_generator_state": rng.bit_generator.state},
    }
    save_checkpoint(path, arrays, meta)


def load_training(path, run: dict[str, Any], state, network, optimizer) -> tuple[np.ndarray, np.ndarray]:
    """Load the checkpoint at ``path`` into the training objects; returns its (mean, std).

    Raises InputError if it was written with other settings (except `RESUMABLE_CHANGES`) or
    on other data than ``run`` describes, ModelError if it is not an MLP checkpoint.
    """
    arrays, meta = load_checkpoint(path)
    if meta.get("format") != FORMAT:
        raise ModelError(f"{path}: not an MLP training checkpoint")
    if meta.get("version") != VERSION:
        raise ModelError(f"{path}: MLP checkpoint version {meta.get('version')!r} cannot be resumed by this "
                         f"featpipe (it resumes version {VERSION}); start the run afresh without resume")
    saved, now = meta["params"], run["params"]
    changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if changed:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise InputError(
            f"cannot resume from {path}: settings differ from the checkpoint ({detail}); "
            f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change"
        )
    if meta["data"] != run["data"]:
        raise InputError(f"cannot resume from {path}: it was trained on data {meta['data']}, got {run['data']}")
    network.load_arrays(arrays)
    if network.ema is not None:
        network.ema.shadow = {name: arrays[f"ema.{name}"].copy() for name in network.ema.shadow}
        network.ema.updates = int(meta["ema_updates"])
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
        state.best = {name: arrays[f"best_{name}"] for name in network.arrays() if f"best_{name}" in arrays}
    return arrays["mean"], arrays["std"]
