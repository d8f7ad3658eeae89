"""Training checkpoints as one `.npz` file: named arrays plus a JSON document.

Arrays (weights, optimizer state, ...) are stored as themselves; everything else (epoch,
history, RNG states, settings) as a JSON string inside the same file, so one atomic rename
publishes a consistent checkpoint and loading never needs pickle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..errors import ModelError

__all__ = ["CHECKPOINT_NAME", "load_checkpoint", "save_checkpoint"]

#: File name of the checkpoint inside a checkpoint directory.
CHECKPOINT_NAME = "mlp_checkpoint.npz"

_META_KEY = "__meta_json__"


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
