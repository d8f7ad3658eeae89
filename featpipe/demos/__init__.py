"""The lecture's ideas as runnable demos: each writes PNG figures and returns the numbers behind them.

`DEMOS` lists every demo by name with a one-line description; `run_demo` runs one by name. A demo
module exposes ``run(out_dir, *, seed, ...) -> DemoResult``; its extra keywords (sizes, epochs)
default to the full demo and let tests run it small.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from featpipe.errors import InputError

from .result import DemoResult

__all__ = ["DEMOS", "DemoResult", "format_demo_list", "run_demo"]

#: Demo name -> (module under featpipe.demos, one-line description).
DEMOS: dict[str, tuple[str, str]] = {
    "feature-transform": ("feature_transform", "rings: a line fails in (x, y), succeeds in polar (r, theta)"),
    "space-warping": ("space_warping", "a 2-unit ReLU layer folds the plane; non-separable data becomes separable"),
    "capacity-vs-regularization": ("capacity", "boundaries for more hidden units versus more L2"),
    "universal-approximation": ("universal_approximation", "bumps from 4 ReLUs approximate a function; a trained MLP fits sin(x)"),
    "deep-linear": ("deep_linear", "a deep network without activations is one matrix and cannot fit XOR or rings"),
    "loss-slices": ("loss_slices", "1-D slices of a 5-layer ReLU network's loss, next to convex and non-convex functions"),
    "templates": ("templates", "first-layer weights of a 2-layer MLP as images, beside a linear classifier's templates"),
}


def format_demo_list() -> str:
    """One line per demo: name and description."""
    width = max(len(name) for name in DEMOS)
    return "\n".join(f"{name:<{width}}  {description}" for name, (_, description) in DEMOS.items())


def run_demo(name: str, out_dir: str | Path, *, seed: int = 0, progress: bool = False, **options) -> DemoResult:
    """Run the demo called ``name``, writing its figures into ``out_dir``.

    Parameters
    ----------
    name : str
        A key of `DEMOS`.
    out_dir : str or Path
        Folder for the PNG files (created if missing).
    seed : int
        Seeds every random choice of the demo (non-negative).
    progress : bool
        Progress bars, for the demos that have long steps (the others ignore it).
    **options
        Demo-specific keywords, e.g. ``data="digits"`` for ``templates``; a keyword a demo does
        not take is an error. ``None`` values are ignored (they mean "the demo's default").

    Raises
    ------
    InputError
        Unknown demo name (the message lists the valid ones), bad seed, or an option the demo
        does not take.
    """
    if name not in DEMOS:
        raise InputError(f"unknown demo {name!r}; choose one of: {', '.join(DEMOS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed={seed!r} must be a non-negative integer")
    module = importlib.import_module(f"{__name__}.{DEMOS[name][0]}")
    options = {key: value for key, value in options.items() if value is not None}
    accepted = set(module.run.__kwdefaults__ or {}) - {"seed", "progress"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        takes = ", ".join(sorted(accepted)) or "no options"
        raise InputError(f"demo {name!r} does not take {', '.join(unknown)} (it takes: {takes})")
    if "progress" in (module.run.__kwdefaults__ or {}):
        options["progress"] = bool(progress)
    start = time.perf_counter()
    result = module.run(Path(out_dir), seed=seed, **options)
    result.seconds = time.perf_counter() - start
    return result
