"""Capacity versus regularization: more hidden units bend the boundary, more L2 straightens it.

The lecture's advice (CS231n, "Neural Networks Part 1"): do not use the size of the network as
a regularizer; use a network as big as you can afford and control overfitting with L2 weight
decay. The demo trains one-hidden-layer networks on noisy two moons, first with a growing
number of units and no penalty, then with many units and a growing L2 strength, and measures
how complex each decision boundary is.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from featpipe.nn import MLPClassifier

from .figures import boundary_length, grid, plot_regions, save_figure, scatter_classes
from .result import DemoResult
from .toy_data import two_moons

BOUNDS = (-2.0, 3.0, -1.8, 2.3)
RESOLUTION = 150


def run(
    out_dir: Path,
    *,
    seed: int = 0,
    n_train: int = 120,
    hidden_sizes: tuple[int, ...] = (2, 8, 32, 256),
    weight_decays: tuple[float, ...] = (1e-3, 1e-2, 3e-2, 1e-1),
    epochs: int = 600,
) -> DemoResult:
    """Train networks of several widths (no L2) and one wide network at several L2 strengths.

    Parameters
    ----------
    out_dir : Path
        Folder that receives ``capacity-vs-regularization.png``.
    seed : int
        Seeds the data and every network.
    n_train : int
        Training points (few, so that a big unregularized network can overfit them).
    hidden_sizes : tuple of int
        Widths of the one hidden layer, trained with ``weight_decay=0``.
    weight_decays : tuple of float
        L2 strengths for a network of width ``max(hidden_sizes)``.
    epochs : int
        Full-batch Adam steps.
    """
    rng = np.random.default_rng(seed)
    X, y = two_moons(n_train, rng, noise=0.35)
    X_val, y_val = two_moons(2000, rng, noise=0.35)
    _, _, points = grid(BOUNDS, RESOLUTION)
    widest = max(hidden_sizes)

    runs = [("units", h, 0.0) for h in hidden_sizes] + [("l2", widest, wd) for wd in weight_decays]
    results = []
    for kind, width, decay in runs:
        model = MLPClassifier(
            hidden_sizes=(int(width),), optimizer="adam", learning_rate=0.02, batch_size=n_train,
            epochs=epochs, weight_decay=float(decay), random_state=seed,
        ).fit(X, y)
        labels = model.predict(points).reshape(RESOLUTION, RESOLUTION)
        results.append({
            "kind": kind,
            "hidden_units": int(width),
            "weight_decay": float(decay),
            "train_accuracy": float(model.score(X, y)),
            "val_accuracy": float(model.score(X_val, y_val)),
            "boundary_length": boundary_length(labels),
            "sum_squared_weights": float(sum(np.vdot(w, w) for w in model.coefs_)),
            "model": model,
        })

    figure = Path(out_dir) / "capacity-vs-regularization.png"
    _plot(X, y, results, figure)

    by_units = [r for r in results if r["kind"] == "units"]
    by_l2 = [r for r in results if r["kind"] == "l2"]
    unregularized_widest = next(r for r in by_units if r["hidden_units"] == widest)
    public = ("train_accuracy", "val_accuracy", "boundary_length", "sum_squared_weights")
    numbers = {
        "n_train": n_train,
        "n_val": len(y_val),
        "by_hidden_units": {f"{r['hidden_units']}_units": {k: r[k] for k in public} for r in by_units},
        f"by_l2_with_{widest}_units": {f"l2={r['weight_decay']:g}": {k: r[k] for k in public} for r in by_l2},
        "best_val_accuracy_shrinking_network": max(r["val_accuracy"] for r in by_units),
        "best_val_accuracy_l2_on_widest": max(r["val_accuracy"] for r in by_l2),
    }
    norms = [unregularized_widest["sum_squared_weights"]] + [r["sum_squared_weights"] for r in by_l2]
    claims = {
        "more units, more complex boundary: the widest network's boundary is longer than the narrowest's": (
            by_units[-1]["boundary_length"] > by_units[0]["boundary_length"]
        ),
        "more units fit the training points better (widest >= narrowest training accuracy)": (
            by_units[-1]["train_accuracy"] >= by_units[0]["train_accuracy"]
        ),
        "stronger L2 shrinks the weights (sum of squares falls strictly)": bool(np.all(np.diff(norms) < 0)),
        "strongest L2 smooths the widest network's boundary (shorter than without L2)": (
            by_l2[-1]["boundary_length"] < unregularized_widest["boundary_length"]
        ),
    }
    return DemoResult("capacity-vs-regularization", numbers, claims, [figure])


def _plot(X, y, results, path: Path) -> None:
    n_units = sum(r["kind"] == "units" for r in results)
    n_l2 = len(results) - n_units
    ncols = max(n_units, n_l2)
    fig, axes = plt.subplots(2, ncols, figsize=(3.0 * ncols, 6.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    rows = {"units": iter(axes[0]), "l2": iter(axes[1])}
    for r in results:
        ax = next(rows[r["kind"]])
        ax.axis("on")
        plot_regions(ax, r["model"].predict, BOUNDS, resolution=RESOLUTION)
        scatter_classes(ax, X, y, size=10)
        ax.set_xticks([])
        ax.set_yticks([])
        setting = (f"{r['hidden_units']} hidden units" if r["kind"] == "units"
                   else f"{r['hidden_units']} units, L2 = {r['weight_decay']:g}")
        ax.set_title(f"{setting}\ntrain {r['train_accuracy']:.0%}, val {r['val_accuracy']:.0%}, "
                     f"boundary {r['boundary_length']}", fontsize=9)
    axes[0][0].set_ylabel("more units, no L2", fontsize=10)
    axes[1][0].set_ylabel("most units, more L2", fontsize=10)
    fig.suptitle("More hidden units give more complex boundaries; more L2 smooths them "
                 "(boundary = its length in grid cells)")
    fig.tight_layout()
    save_figure(fig, path)
