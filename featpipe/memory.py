"""Memory estimates made before allocating, so an oversized configuration fails in a second, clearly.

Without them `mlp.hidden_sizes=[100000000]` asks numpy for 23.8 GiB and dies in a traceback after
data loading. Each component gets an estimate function here (bytes, counting the arrays it keeps
at once); `check_fits` compares a total with the memory this machine has available and raises an
error naming the estimate, its parts and the setting to lower.

The available figure is ``MemAvailable`` from /proc/meminfo (else free physical pages from
`os.sysconf`); ``FEATPIPE_MEMORY_LIMIT`` (bytes, or e.g. ``8GiB``, ``500MB``) overrides it, for a
machine shared with other jobs or a container whose limit /proc does not show.
"""

from __future__ import annotations

import os
import re
from typing import Mapping, Sequence

from .errors import ConfigError, FeatpipeError

MEMORY_ENV = "FEATPIPE_MEMORY_LIMIT"
FLOAT32 = 4

# Optimizer state per weight, in copies of the weights (featpipe.nn.optim).
_OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "rmsprop": 1, "adam": 2, "adamw": 2}
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def available_bytes() -> int:
    """Memory this process may still allocate: $FEATPIPE_MEMORY_LIMIT, else what the OS reports."""
    override = os.environ.get(MEMORY_ENV, "").strip()
    if override:
        return parse_bytes(override, MEMORY_ENV)
    reported = system_available_bytes()
    return 2**62 if reported is None else reported  # unknown: do not refuse on a guess


def system_available_bytes() -> int | None:
    """Bytes of memory available for new work as the OS reports it (Linux MemAvailable), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def parse_bytes(text: str, where: str) -> int:
    """``"8GiB"`` -> 8589934592; ``"123"`` -> 123. ConfigError naming `where` otherwise."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ConfigError(f"{where}={text!r}: expected a number of bytes, e.g. 8GiB, 500MB or 1000000")
    return int(float(match.group(1)) * _UNITS[unit])


def format_bytes(n: float) -> str:
    """Bytes in binary units, e.g. '23.8 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # unreachable


def matrix_bytes(n_rows: int, n_columns: int, itemsize: int = FLOAT32) -> int:
    """A dense (n_rows, n_columns) array, e.g. a feature matrix (features are float32)."""
    return int(n_rows) * int(n_columns) * int(itemsize)


def mlp_bytes(n_features: int, hidden_sizes: Sequence[int], n_classes: int, *, n_samples: int,
              batch_size: int, optimizer: str) -> dict[str, int]:
    """What training featpipe's MLP holds at once, by part (float32 throughout).

    Weights, their gradients and the best-so-far copy kept for early stopping; the optimizer's
    state (0-2 copies of the weights); a mini-batch's activations and their gradients; and the
    normalised copy of the training features.
    """
    sizes = [int(n_features), *map(int, hidden_sizes), int(n_classes)]
    n_weights = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    batch = min(int(batch_size), int(n_samples))
    return {
        "network weights, gradients and best copy": 3 * n_weights * FLOAT32,
        "optimizer state": _OPTIMIZER_SLOTS.get(optimizer, 2) * n_weights * FLOAT32,
        "activations": 3 * batch * sum(sizes) * FLOAT32,
        "normalised training features": matrix_bytes(n_samples, n_features),
    }


def check_fits(needed: int | Mapping[str, int], what: str, advice: str,
               error: type[FeatpipeError] = ConfigError) -> None:
    """Raise `error` if `needed` bytes (a total or parts by name) exceed the memory available.

    `what` says what needs the memory ("training the MLP"); `advice` how to need less
    ("lower mlp.hidden_sizes or mlp.batch_size").
    """
    parts = dict(needed) if isinstance(needed, Mapping) else {}
    total = sum(parts.values()) if parts else int(needed)
    available = available_bytes()
    if total <= available:
        return
    detail = ""
    if parts:
        detail = " (" + ", ".join(f"{name} {format_bytes(n)}" for name, n in parts.items() if n) + ")"
    raise error(
        f"{what} needs about {format_bytes(total)}{detail} but only {format_bytes(available)} of "
        f"memory is available; {advice}, or set {MEMORY_ENV} (e.g. 32GiB) if more memory "
        "really is available"
    )


def check_training(config, n_samples: int, n_features: int, n_classes: int) -> None:
    """Refuse, before fitting, a classifier whose training cannot fit in memory (ConfigError)."""
    if config.classifier == "mlp":
        mlp = config.mlp
        parts = mlp_bytes(n_features, mlp.hidden_sizes, n_classes, n_samples=n_samples,
                          batch_size=mlp.batch_size, optimizer=mlp.optimizer)
        check_fits(parts, f"training the MLP (mlp.hidden_sizes={list(mlp.hidden_sizes)} on {n_features:,} "
                   f"features of {n_samples:,} images)", "lower mlp.hidden_sizes (or mlp.batch_size, data.n_train)")
    else:
        # liblinear works on a float64 copy of the features; the weights are (classes, features)
        parts = {"float64 copy of the training features": matrix_bytes(n_samples, n_features, 8),
                 "weights": matrix_bytes(n_classes, n_features + 1, 8)}
        check_fits(parts, f"training the SVM on {n_features:,} features of {n_samples:,} images",
                   "lower data.n_train or choose smaller features")
