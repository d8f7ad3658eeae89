"""Loss slices: the training loss of a deep ReLU network along lines through weight space.

A function is convex when every secant (chord) lies on or above its graph:
``f(a t1 + (1 - a) t2) <= a f(t1) + (1 - a) f(t2)`` for all ``t1, t2`` and ``a`` in [0, 1].
``x**2`` passes, ``cos x`` fails. The loss of a linear classifier is convex in its weights; the
loss of a deep network is not, and 1-D slices of it (move one weight, or all weights along a
random direction, keep the rest fixed) show both bowl-like and clearly non-convex shapes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from featpipe.nn import MLPClassifier
from featpipe.nn.layers import affine_forward, relu_forward
from featpipe.nn.losses import softmax_cross_entropy

from .figures import save_figure
from .result import DemoResult
from .toy_data import two_moons

#: A secant may lie below the function by this fraction of the function's range before the
#: function counts as non-convex (float64 rounding is far below it).
CONVEX_TOLERANCE = 1e-6
#: Non-convex slices whose worst secant is below the curve by less than this fraction of its
#: range look like bowls to the eye (kinks where a ReLU switches); above it they are labelled
#: "far from convex". A plotting label only: the claims use `CONVEX_TOLERANCE`.
BOWL_TOLERANCE = 0.01
#: The "far from convex" claim asks for a secant this far below the curve (fraction of range).
FAR_FROM_CONVEX = 0.1


def max_secant_violation(t: np.ndarray, values: np.ndarray) -> tuple[float, tuple[int, int]]:
    """How far the sampled function rises above its worst secant, and that secant's endpoints.

    Checks the definition of convexity on the samples: for every pair ``i < j`` and every
    ``k`` between them, ``values[k]`` should lie on or below the chord from ``(t[i], values[i])``
    to ``(t[j], values[j])``.

    Parameters
    ----------
    t : ndarray, shape (N,), increasing
    values : ndarray, shape (N,)

    Returns
    -------
    violation : float >= 0
        ``max(values[k] - chord_ij(t[k]))`` over all such triples (0 when convex on the samples).
    endpoints : (int, int)
        Indices ``(i, j)`` of the worst chord.
    """
    t = np.asarray(t, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n = t.size
    worst, endpoints = 0.0, (0, n - 1)
    k = np.arange(n)
    for i in range(n - 2):
        j = np.arange(i + 2, n)
        # chord from i to each j, evaluated at every k: shape (len(j), n)
        slope = (values[j] - values[i]) / (t[j] - t[i])
        chord = values[i] + slope[:, None] * (t[None, :] - t[i])
        above = values[None, :] - chord
        between = (k[None, :] > i) & (k[None, :] < j[:, None])
        above = np.where(between, above, -np.inf)
        flat = int(np.argmax(above))
        if above.flat[flat] > worst:
            worst = float(above.flat[flat])
            endpoints = (i, int(j[flat // n]))
    return worst, endpoints


def is_convex(t: np.ndarray, values: np.ndarray) -> bool:
    """Whether no secant of the samples lies below them by more than `CONVEX_TOLERANCE` of their range."""
    violation, _ = max_secant_violation(t, values)
    scale = float(np.ptp(values)) or 1.0
    return violation <= CONVEX_TOLERANCE * scale


def network_loss(X: np.ndarray, y: np.ndarray, weights, biases) -> float:
    """Mean softmax cross-entropy of a ReLU network on ``(X, y)``, in float64 (no weight decay)."""
    h = X
    for i, (w, b) in enumerate(zip(weights, biases)):
        h, _ = affine_forward(h, w, b)
        if i < len(weights) - 1:
            h, _ = relu_forward(h)
    loss, _ = softmax_cross_entropy(h, y)
    return loss


def run(
    out_dir: Path,
    *,
    seed: int = 0,
    n_samples: int = 300,
    hidden_sizes: tuple[int, ...] = (32, 32, 32, 32),
    epochs: int = 60,
    n_points: int = 121,
    weight_range: float = 2.5,
) -> DemoResult:
    """Train a 5-layer ReLU network, then slice its loss along single weights and a random direction.

    Parameters
    ----------
    out_dir : Path
        Folder that receives ``loss-slices.png``.
    seed : int
        Seeds the data, the network and the choice of weights and direction.
    n_samples : int
        Training points (two moons).
    hidden_sizes : tuple of int
        Hidden widths; the network has ``len(hidden_sizes) + 1`` weight layers.
    epochs : int
        Adam epochs before slicing (the slices pass through the trained weights).
    n_points : int
        Samples per slice.
    weight_range : float
        Each single-weight slice moves the weight by ``[-weight_range, +weight_range]``; the
        weight moved in each layer is the one of largest magnitude.
    """
    rng = np.random.default_rng(seed)
    X, y = two_moons(n_samples, rng, noise=0.2)
    model = MLPClassifier(
        hidden_sizes=tuple(hidden_sizes), optimizer="adam", learning_rate=0.01, batch_size=64,
        epochs=epochs, weight_decay=0.0, normalize="none", random_state=seed,
    ).fit(X, y)
    weights = [w.astype(np.float64) for w in model.coefs_]
    biases = [b.astype(np.float64) for b in model.intercepts_]
    y_idx = np.searchsorted(model.classes_, y)

    slices = []
    t_weight = np.linspace(-weight_range, weight_range, n_points)
    for layer, w in enumerate(weights):
        # The layer's largest weight: a connection the trained network relies on (a random one
        # often feeds a dead unit, and its slice is flat).
        row, col = (int(i) for i in np.unravel_index(np.argmax(np.abs(w)), w.shape))
        values = []
        for step in t_weight:
            moved = [v.copy() for v in weights]
            moved[layer][row, col] += step
            values.append(network_loss(X, y_idx, moved, biases))
        slices.append((f"layer {layer + 1} W[{row},{col}]", t_weight, np.array(values)))
    # A random direction over all weight matrices, each part scaled to its matrix's norm
    # (so every layer moves by a comparable relative amount).
    direction = [rng.standard_normal(w.shape) for w in weights]
    direction = [d * (np.linalg.norm(w) / np.linalg.norm(d)) for d, w in zip(direction, weights)]
    t_direction = np.linspace(-1.0, 1.0, n_points)
    values = [network_loss(X, y_idx, [w + s * d for w, d in zip(weights, direction)], biases) for s in t_direction]
    slices.append(("random direction", t_direction, np.array(values)))

    t_square, t_cos = np.linspace(-2, 2, n_points), np.linspace(-np.pi, np.pi, n_points)
    reference = [("x^2", t_square, t_square**2), ("cos x", t_cos, np.cos(t_cos))]
    checks = {}
    for name, t, values in reference + slices:
        violation, endpoints = max_secant_violation(t, values)
        checks[name] = {
            "convex": is_convex(t, values),
            "max_secant_violation": violation,
            "relative_violation": violation / (float(np.ptp(values)) or 1.0),
            "endpoints": endpoints,
        }

    figure = Path(out_dir) / "loss-slices.png"
    _plot(reference + slices, checks, float(network_loss(X, y_idx, weights, biases)), figure)

    slice_names = [name for name, _, _ in slices]
    last_layer = slice_names[len(weights) - 1]
    numbers = {
        "depth": len(weights),
        "training_accuracy": float(model.score(X, y)),
        "training_loss_at_center": float(network_loss(X, y_idx, weights, biases)),
        "slices": {name: {k: v for k, v in checks[name].items() if k != "endpoints"} for name, _, _ in reference + slices},
        "network_slices_convex": sum(checks[name]["convex"] for name in slice_names),
        "network_slices_total": len(slice_names),
    }
    claims = {
        "x^2 passes the secant test of convexity": checks["x^2"]["convex"],
        "cos x fails it": not checks["cos x"]["convex"],
        "at least one slice of the network's loss is not convex": not all(checks[n]["convex"] for n in slice_names),
        f"at least one is far from convex (a secant {FAR_FROM_CONVEX:.0%} of its range below the curve)": any(
            checks[n]["relative_violation"] >= FAR_FROM_CONVEX for n in slice_names
        ),
        "the last layer's slice is convex (cross-entropy is convex in the last layer's weights)": (
            checks[last_layer]["convex"]
        ),
    }
    return DemoResult("loss-slices", numbers, claims, [figure])


def _plot(curves, checks, center_loss: float, path: Path) -> None:
    ncols = 4
    nrows = -(-len(curves) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.0 * nrows), squeeze=False)
    for ax in axes.flat[len(curves):]:
        ax.axis("off")
    for ax, (name, t, values) in zip(axes.flat, curves):
        ax.plot(t, values, color="k", lw=1.6)
        check = checks[name]
        below = f"worst secant {check['relative_violation']:.2%} of range below"
        if check["convex"]:
            # Any secant will do: show one between the quarter points.
            i, j = len(t) // 4, 3 * len(t) // 4
            color, verdict = "C2", "convex: every secant on or above"
        elif check["relative_violation"] < BOWL_TOLERANCE:
            i, j = len(t) // 4, 3 * len(t) // 4
            color, verdict = "C1", f"bowl-like, not quite convex:\n{below}"
        else:
            i, j = check["endpoints"]
            color, verdict = "C3", f"not convex: {below}"
        ax.plot([t[i], t[j]], [values[i], values[j]], color=color, lw=1.4, marker="o", ms=4)
        label = {"x^2": "x²", "random direction": "random direction (all weights)"}.get(name, name)
        if name.startswith("layer"):
            label = label.replace(" W[", " weight W[")
        ax.set_title(f"{label}\n{verdict}", fontsize=9)
        ax.ticklabel_format(axis="y", useOffset=False)
        if name.startswith(("layer", "random")):
            ax.axvline(0.0, color="gray", lw=0.6, ls=":")
            ax.set_xlabel("step from the trained weights" if name.startswith("layer") else "step (× weight norms)", fontsize=8)
            ax.set_ylabel("training loss", fontsize=8)
    fig.suptitle(f"Training loss of a {len(curves) - 3}-layer ReLU network (trained: {center_loss:.3f}) along single "
                 "weights and a random direction, beside a convex and a non-convex function")
    fig.tight_layout()
    save_figure(fig, path)
