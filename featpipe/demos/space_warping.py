"""Space warping: what one hidden layer of 2 ReLU units does to the plane.

A linear layer ``h = W x + b`` only shears and rotates the plane, so data a line cannot split
stays that way. Adding ReLU, ``h = max(W x + b, 0)``, folds it: of the four regions the two
units' lines cut the input into (the quadrants of the hidden space), one is kept, two are
flattened onto the axes and one is crushed into the origin. Data labelled by a line in that
folded space is not linearly separable in the input, yet one line separates it after the layer.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .figures import save_figure, scatter_classes
from .linear import fit_linear, linearly_separable
from .result import DemoResult
from .toy_data import uniform_square

#: The hidden layer, fixed by hand (any W with two independent rows shows the same thing).
W = np.array([[1.0, 0.4], [-0.5, 1.0]])
B = np.array([0.3, -0.2])
#: The line ``h1 + h2 = THRESHOLD`` in the ReLU hidden space that labels the data.
THRESHOLD = 1.5

#: Sign pattern of the two pre-activations -> region name, as on the lecture slide.
REGIONS = {(True, True): "A", (False, True): "B", (False, False): "C", (True, False): "D"}
REGION_COLORS = {"A": "#4daf4a", "B": "#377eb8", "C": "#e41a1c", "D": "#ff7f00"}


def hidden(X: np.ndarray, relu: bool) -> np.ndarray:
    """The 2-unit layer: ``X @ W.T + B`` (N, 2), followed by ReLU when ``relu``."""
    pre = X @ W.T + B
    return np.maximum(pre, 0.0) if relu else pre


def region_names(X: np.ndarray) -> np.ndarray:
    """Region ``A``..``D`` of each input point (N, 2), from the signs of its pre-activations."""
    pre = hidden(X, relu=False)
    return np.array([REGIONS[(bool(a > 0), bool(b > 0))] for a, b in pre])


def run(out_dir: Path, *, seed: int = 0, n_samples: int = 400, margin: float = 0.2) -> DemoResult:
    """Map the plane through the layer with and without ReLU; test separability in each space.

    Parameters
    ----------
    out_dir : Path
        Folder that receives ``space-warping.png``.
    seed : int
        Seeds the sampled points.
    n_samples : int
        Size of the labelled data set.
    margin : float
        Points closer than this to the labelling line (in hidden space) are left out, so the
        separation after the layer has a visible gap.
    """
    rng = np.random.default_rng(seed)
    X, y = _labelled_points(n_samples, margin, rng)
    spaces = {"input": X, "hidden_linear": hidden(X, relu=False), "hidden_relu": hidden(X, relu=True)}
    separable = {name: linearly_separable(Z, y) for name, Z in spaces.items()}
    models = {name: fit_linear(Z, y) for name, Z in spaces.items()}
    accuracy = {name: float((models[name].predict(Z) == y).mean()) for name, Z in spaces.items()}

    cloud = uniform_square(2000, rng)
    names = region_names(cloud)
    relu_cloud = hidden(cloud, relu=True)
    counts = {name: int((names == name).sum()) for name in "ABCD"}
    on_origin = int(np.all(relu_cloud == 0, axis=1).sum())
    on_one_axis = int((np.sum(relu_cloud == 0, axis=1) == 1).sum())

    figure = Path(out_dir) / "space-warping.png"
    _plot(cloud, names, X, y, spaces, models, accuracy, separable, figure)

    numbers = {
        "n_samples": len(y),
        "class_1_fraction": float(y.mean()),
        "linearly_separable": separable,
        "logistic_regression_accuracy": accuracy,
        "grid_points": len(cloud),
        "grid_points_per_input_region": counts,
        "grid_points_relu_maps_to_origin": on_origin,
        "grid_points_relu_maps_onto_one_axis": on_one_axis,
    }
    claims = {
        "the data are not linearly separable in the input": not separable["input"],
        "a linear layer alone does not make them separable": not separable["hidden_linear"],
        "after the ReLU layer one line separates them": separable["hidden_relu"],
        "ReLU sends region C to the origin and B, D onto the axes": (
            on_origin == counts["C"] and on_one_axis == counts["B"] + counts["D"]
        ),
    }
    return DemoResult("space-warping", numbers, claims, [figure])


def _labelled_points(n: int, margin: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of the square labelled by ``h1 + h2 > THRESHOLD`` in the ReLU hidden space."""
    chunks, total = [], 0
    while total < n:
        X = uniform_square(2 * n, rng)
        score = hidden(X, relu=True).sum(axis=1) - THRESHOLD
        X = X[np.abs(score) > margin]
        chunks.append(X)
        total += len(X)
    X = np.concatenate(chunks)[:n]
    y = (hidden(X, relu=True).sum(axis=1) > THRESHOLD).astype(np.int64)
    return X, y


def _plot(cloud, names, X, y, spaces, models, accuracy, separable, path: Path) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(12.5, 8.4))
    titles = {
        "input": "input space x",
        "hidden_linear": "hidden space h = Wx + b (no ReLU)",
        "hidden_relu": "hidden space h = ReLU(Wx + b)",
    }
    top = {"input": cloud, "hidden_linear": hidden(cloud, relu=False), "hidden_relu": hidden(cloud, relu=True)}
    for ax, (name, Z) in zip(axes[0], top.items()):
        ax.axhline(0, color="k", lw=0.6, zorder=0)
        ax.axvline(0, color="k", lw=0.6, zorder=0)
        # C last and larger: after ReLU it is a single point at the origin.
        for region in "ABDC":
            mask = names == region
            ax.scatter(Z[mask, 0], Z[mask, 1], s=2 if region != "C" or name != "hidden_relu" else 40,
                       c=REGION_COLORS[region], label=f"region {region}", rasterized=True)
        ax.set_title(titles[name], fontsize=10)
        _fit_limits(ax, Z)
    # In the input, the axes of the hidden space are the lines where each unit's input is 0.
    _draw_unit_lines(axes[0][0])
    handles, labels = axes[0][0].get_legend_handles_labels()
    order = sorted(range(len(labels)), key=labels.__getitem__)
    axes[0][0].legend([handles[i] for i in order], [labels[i] for i in order], loc="lower right",
                      fontsize=7, markerscale=3, framealpha=0.9)
    axes[0][2].annotate("all of C", xy=(0.05, 0.05), xytext=(1.5, 3.6), fontsize=9, arrowprops={"arrowstyle": "->"})
    axes[0][2].set_title(titles["hidden_relu"] + "\nB, D flattened onto the axes, C onto the origin", fontsize=10)

    short = {"input": "input x", "hidden_linear": "h = Wx + b", "hidden_relu": "h = ReLU(Wx + b)"}
    for ax, (name, Z) in zip(axes[1], spaces.items()):
        scatter_classes(ax, Z, y, size=8)
        _fit_limits(ax, Z)
        _draw_line(ax, models[name])
        verdict = "linearly separable" if separable[name] else "NOT linearly separable"
        ax.set_title(f"data in {short[name]}: {verdict}\n"
                     f"logistic-regression line gets {accuracy[name]:.1%} right", fontsize=10)
    # The separating line of the ReLU space, pulled back into the input: a bent line.
    xx, yy = np.meshgrid(np.linspace(-3, 3, 300), np.linspace(-3, 3, 300))
    score = hidden(np.column_stack([xx.ravel(), yy.ravel()]), relu=True).sum(axis=1) - THRESHOLD
    axes[1][0].contour(xx, yy, score.reshape(xx.shape), levels=[0.0], colors="k", linestyles="--", linewidths=1.2)
    axes[1][0].plot([], [], "k-", label="logistic-regression line")
    axes[1][0].plot([], [], "k--", label="ReLU layer + line")
    axes[1][0].legend(loc="lower left", fontsize=7, framealpha=0.9)
    fig.suptitle("A 2-unit layer with and without ReLU: the ReLU folds the plane, and the folded data become separable")
    fig.tight_layout()
    save_figure(fig, path)


def _fit_limits(ax, Z: np.ndarray) -> None:
    """Square axes with equal scales, framing the points ``Z`` with a small margin."""
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    center, half = (lo + hi) / 2, 0.55 * float(np.max(hi - lo))
    ax.set_xlim(center[0] - half, center[0] + half)
    ax.set_ylim(center[1] - half, center[1] + half)
    ax.set_aspect("equal", adjustable="box")


def _draw_unit_lines(ax) -> None:
    """Draw the two lines ``w_i . x + b_i = 0`` (where each hidden unit switches on) in the input."""
    xs = np.linspace(-3, 3, 2)
    for (w1, w2), b in zip(W, B):
        ax.plot(xs, -(w1 * xs + b) / w2, color="k", lw=1.2, ls="--")


def _draw_line(ax, model) -> None:
    """Draw a fitted linear classifier's boundary across the current limits of ``ax``."""
    scaler, logistic = model[0], model[-1]
    w = logistic.coef_[0] / scaler.scale_
    b = logistic.intercept_[0] - np.dot(w, scaler.mean_)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    xs = np.linspace(*xlim, 2)
    ax.plot(xs, -(w[0] * xs + b) / w[1], color="k", lw=1.5)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
