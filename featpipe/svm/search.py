"""The search over an SVM's C on a validation split: a warm-started path that widens at its edges.

C values are fitted in ascending order, each warm-started from the solution of the nearest C
already fitted (when the estimator's `fit` takes `coef_init`, as LinearSVM's does): near C values
have near solutions, so each takes a few Newton steps instead of a cold solve. When the best C is
the smallest or largest value tried, the grid is extended by its own step ratio on that side, up
to `widen` extra values per side, and the selection record says so. A grid of one C is a fixed
choice, not a search: it is never widened.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .. import progress as progress_display
from .checks import check_features
from .estimator import LinearSVM


def search_c(
    build: Callable[[float], Any],
    c_values: Sequence[float],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    widen: int = 2,
    solver: str | None = None,
    blocks: Mapping[str, tuple[int, int]] | None = None,
    progress: bool | None = False,
) -> tuple[Any, dict]:
    """Fit `build(C)` for each C, keep the most accurate on validation (ties: the smaller C).

    Parameters
    ----------
    build : C -> an unfitted classifier
    c_values : the grid (any order; duplicates are tried once)
    widen : extra C values allowed beyond each edge of the grid while the best C lies on it
    solver : the solver's name, recorded with each trial
    blocks : extractor name -> feature columns, so a NaN/inf error names the extractor
    progress : show a stage per C value (None: on a terminal only; False: silent)

    Returns
    -------
    The fitted best classifier and the selection record written to metrics.json:
    ``{"parameter": "svm.C", "chosen", "grid", "trials": [{"C", "val_accuracy", "fit_seconds", ...}],
    "widened": [added C values], "on_edge": the chosen C is still the grid's smallest or largest}``.
    """
    X_train = check_features(X_train, blocks, "training features")
    X_val = check_features(X_val, blocks, "validation features")
    grid = sorted({float(c) for c in c_values})
    fitted: dict[float, Any] = {}
    trials: dict[float, dict] = {}
    shared: dict[str, np.ndarray] = {}  # the Gram preconditioner's X^T X: one per training set, every C

    def fit(C: float) -> None:
        model = build(C)
        start = time.perf_counter()
        nearest = min(fitted, key=lambda c: abs(np.log(c / C)), default=None)
        if _takes_warm_start(model):
            gram = None
            if model.uses_gram(X_train):
                if "gram" not in shared:
                    shared["gram"] = model.gram(X_train)
                gram = shared["gram"]
            start_from = {}
            if nearest is not None:
                start_from = {"coef_init": fitted[nearest].coef_, "intercept_init": fitted[nearest].intercept_}
            model.fit(X_train, y_train, gram=gram, **start_from)
        else:
            model.fit(X_train, y_train)
        trial = {"C": C, "val_accuracy": float(np.mean(model.predict(X_val) == y_val)),
                 "fit_seconds": round(time.perf_counter() - start, 4)}
        if solver is not None:
            trial["solver"] = solver
        for name in ("objective_", "n_iter_"):
            value = getattr(model, name, None)
            if isinstance(value, (int, float, np.integer, np.floating)):
                trial[name.rstrip("_")] = value.item() if isinstance(value, np.generic) else value
        if nearest is not None and _takes_warm_start(model):
            trial["warm_start_from"] = nearest
        fitted[C], trials[C] = model, trial
        shown.set_status(f"C={C:g}: validation {trial['val_accuracy']:.2%}")
        shown.update(1)

    with progress_display.stage("SVM C search", total=len(grid), unit="C", enabled=progress) as shown:
        _search(grid, trials, widen, fit, progress)
        chosen = _best(trials)
        shown.set_status(f"best C={chosen:g}: validation {trials[chosen]['val_accuracy']:.2%}")
    tried = sorted(trials)
    best = _best(trials)
    record = {
        "parameter": "svm.C",
        "chosen": best,
        "grid": grid,
        "trials": [trials[c] for c in tried],
        "widened": [c for c in trials if c not in grid],
        "on_edge": bool(len(tried) > 1 and best in (tried[0], tried[-1])),
    }
    return fitted[best], record


def _search(grid: list[float], trials: dict[float, dict], widen: int, fit: Callable[[float], None],
            progress: bool | None) -> None:
    """Fit the grid, then step past its edge (by the grid's own ratio) while the best C sits on it."""
    for C in grid:
        fit(C)
    ratios = {"low": grid[1] / grid[0], "high": grid[-1] / grid[-2]} if len(grid) > 1 else {}
    added = {"low": 0, "high": 0}
    while True:
        tried = sorted(trials)
        best = _best(trials)
        side = "low" if best == tried[0] else "high" if best == tried[-1] else None
        if side is None or len(grid) < 2 or added[side] >= widen:
            return
        C = best / ratios[side] if side == "low" else best * ratios[side]
        C = float(f"{C:.12g}")  # 0.3 / 3 is 0.09999999999999999 in binary: record and show 0.1
        progress_display.note(f"SVM C search: the best C={best:g} is on the {side} edge of the values tried; "
                              f"trying C={C:g}", enabled=bool(progress))
        fit(C)
        added[side] += 1


def _best(trials: Mapping[float, dict]) -> float:
    """The C of highest validation accuracy; the smallest such C on ties (the simpler model)."""
    return max(sorted(trials), key=lambda c: (trials[c]["val_accuracy"], -c))


def _takes_warm_start(model: Any) -> bool:
    return isinstance(model, LinearSVM)
