"""A deep network without activations is one matrix: depth alone adds nothing.

Composing affine maps gives an affine map, ``(x W1 + b1) W2 + b2 = x (W1 W2) + (b1 W2 + b2)``,
so a stack of layers with the identity activation computes exactly what a single layer with the
product matrix computes, and it can draw only straight decision boundaries, however deep.
The demo trains the same 5-layer network twice, with identity and with ReLU activations, on
XOR and on concentric rings, and checks the collapse to one matrix numerically.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from featpipe.nn import MLPClassifier

from .figures import plot_regions, save_figure, scatter_classes
from .result import DemoResult
from .toy_data import rings, xor


def collapse(coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The single affine map ``x -> x @ W + b`` equal to a stack of affine layers, in float64.

    Parameters
    ----------
    coefs : list of ndarray, shapes (d_i, d_{i+1})
    intercepts : list of ndarray, shapes (d_{i+1},)

    Returns
    -------
    W : ndarray, shape (d_0, d_L), float64
    b : ndarray, shape (d_L,), float64
    """
    W = np.asarray(coefs[0], dtype=np.float64)
    b = np.asarray(intercepts[0], dtype=np.float64)
    for w_next, b_next in zip(coefs[1:], intercepts[1:]):
        w_next = np.asarray(w_next, dtype=np.float64)
        W, b = W @ w_next, b @ w_next + b_next
    return W, b


def run(
    out_dir: Path,
    *,
    seed: int = 0,
    n_samples: int = 400,
    hidden_sizes: tuple[int, ...] = (16, 16, 16, 16),
    epochs: int = 100,
) -> DemoResult:
    """Train identity and ReLU networks of equal shape on XOR and rings; collapse the linear one.

    Parameters
    ----------
    out_dir : Path
        Folder that receives ``deep-linear.png``.
    seed : int
        Seeds the data and the networks.
    n_samples : int
        Points per data set.
    hidden_sizes : tuple of int
        Hidden widths; depth (weight matrices) is ``len(hidden_sizes) + 1``.
    epochs : int
        Training epochs (Adam, minibatches of 64).
    """
    rng = np.random.default_rng(seed)
    datasets = {"xor": xor(n_samples, rng), "rings": rings(n_samples, rng)}
    accuracy, collapse_error, models, single = {}, {}, {}, {}
    for data_name, (X, y) in datasets.items():
        for activation in ("identity", "relu"):
            model = MLPClassifier(
                hidden_sizes=tuple(hidden_sizes), activation=activation, optimizer="adam",
                learning_rate=0.01, batch_size=64, epochs=epochs, weight_decay=0.0,
                normalize="none", random_state=seed,
            ).fit(X, y)
            models[data_name, activation] = model
            accuracy.setdefault(data_name, {})[activation] = float(model.score(X, y))
        linear = models[data_name, "identity"]
        W, b = collapse(linear.coefs_, linear.intercepts_)
        single[data_name] = (W, b)
        # Compare on the data and on a wide grid around it (the identity holds everywhere).
        probe = np.concatenate([X, rng.uniform(-4, 4, (2000, 2))])
        network_margin = linear.decision_function(probe).astype(np.float64)
        single_margin = probe @ (W[:, 1] - W[:, 0]) + (b[1] - b[0])
        diff = np.abs(network_margin - single_margin)
        collapse_error[data_name] = {
            "max_abs_difference": float(diff.max()),
            "max_abs_margin": float(np.abs(single_margin).max()),
            "max_relative_difference": float(diff.max() / np.abs(single_margin).max()),
            "same_predictions": bool(np.array_equal(linear.predict(probe), np.argmax(probe @ W + b, axis=1))),
        }

    figure = Path(out_dir) / "deep-linear.png"
    _plot(datasets, models, single, accuracy, collapse_error, hidden_sizes, rng, figure)

    numbers = {
        "depth": len(hidden_sizes) + 1,
        "hidden_sizes": list(hidden_sizes),
        "train_accuracy": accuracy,
        "collapse_check": collapse_error,
    }
    claims = {
        "the identity network equals one matrix (max difference <= 1e-5 of the largest margin)": all(
            c["max_relative_difference"] <= 1e-5 for c in collapse_error.values()
        ),
        "without activations it cannot fit XOR (accuracy <= 0.75)": accuracy["xor"]["identity"] <= 0.75,
        "without activations it cannot fit the rings (accuracy <= 0.75)": accuracy["rings"]["identity"] <= 0.75,
        "with ReLU it fits XOR (accuracy >= 0.95)": accuracy["xor"]["relu"] >= 0.95,
        "with ReLU it fits the rings (accuracy >= 0.95)": accuracy["rings"]["relu"] >= 0.95,
    }
    return DemoResult("deep-linear", numbers, claims, [figure])


def _plot(datasets, models, single, accuracy, collapse_error, hidden_sizes, rng, path: Path) -> None:
    depth = len(hidden_sizes) + 1
    fig, axes = plt.subplots(2, 3, figsize=(12.0, 8.0))
    for row, (data_name, (X, y)) in zip(axes, datasets.items()):
        lim = float(np.abs(X).max()) * 1.1
        bounds = (-lim, lim, -lim, lim)
        for ax, activation in zip(row[:2], ("identity", "relu")):
            plot_regions(ax, models[data_name, activation].predict, bounds, resolution=160)
            scatter_classes(ax, X, y, size=7)
            ax.set_aspect("equal")
            label = "no activation (identity)" if activation == "identity" else "ReLU"
            ax.set_title(f"{data_name}: {depth} layers, {label}\ntraining accuracy "
                         f"{accuracy[data_name][activation]:.1%}", fontsize=10)
        W, b = single[data_name]
        model = models[data_name, "identity"]
        probe = rng.uniform(-lim, lim, (400, 2))
        row[2].scatter(probe @ (W[:, 1] - W[:, 0]) + (b[1] - b[0]), model.decision_function(probe), s=5)
        lo, hi = row[2].get_xlim()
        row[2].plot([lo, hi], [lo, hi], "k--", lw=0.8)
        row[2].set_xlabel(f"x @ (W1 ... W{depth}) + b: one matrix, one bias")
        row[2].set_ylabel(f"{depth}-layer identity network output")
        row[2].set_title(f"{data_name}: the deep linear network is one matrix\n"
                         f"(class-1 minus class-0 score; max |difference| {collapse_error[data_name]['max_abs_difference']:.1e})",
                         fontsize=10)
    fig.suptitle(f"Depth without activations adds nothing: a {depth}-layer linear network draws one straight line")
    fig.tight_layout()
    save_figure(fig, path)
