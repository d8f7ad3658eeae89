"""Feature transforms: rings no line can split in (x, y) split cleanly in polar (r, theta).

The lecture's first argument for learned features: a linear classifier is only as good as the
space it sees. Two concentric rings are hopeless for a line in cartesian coordinates; the polar
transform turns "inside versus outside" into "small r versus large r", a straight cut, and that
cut drawn back in the plane is a circle.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .figures import plot_regions, save_figure, scatter_classes
from .linear import fit_linear
from .result import DemoResult
from .toy_data import rings


def to_polar(X: np.ndarray) -> np.ndarray:
    """Map cartesian points ``X`` (N, 2) to polar ``(r, theta)`` (N, 2), theta in (-pi, pi]."""
    return np.column_stack([np.hypot(X[:, 0], X[:, 1]), np.arctan2(X[:, 1], X[:, 0])])


def to_cartesian(P: np.ndarray) -> np.ndarray:
    """Map polar points ``(r, theta)`` (N, 2) back to cartesian ``(x, y)`` (N, 2)."""
    return np.column_stack([P[:, 0] * np.cos(P[:, 1]), P[:, 0] * np.sin(P[:, 1])])


def run(out_dir: Path, *, seed: int = 0, n_samples: int = 600, noise: float = 0.15) -> DemoResult:
    """Fit a linear classifier on rings in (x, y) and in (r, theta); plot both in both spaces.

    Parameters
    ----------
    out_dir : Path
        Folder that receives ``feature-transform.png``.
    seed : int
        Seeds the data and the train/test split.
    n_samples : int
        Points in total; two thirds train, one third test.
    noise : float
        Radial noise of the rings (radii 1 and 2).
    """
    rng = np.random.default_rng(seed)
    X, y = rings(n_samples, rng, noise=noise)
    order = rng.permutation(n_samples)
    train, test = order[: 2 * n_samples // 3], order[2 * n_samples // 3 :]
    P = to_polar(X)

    cartesian = fit_linear(X[train], y[train])
    polar = fit_linear(P[train], y[train])
    acc = {
        "linear_on_xy": {"train": _accuracy(cartesian, X[train], y[train]), "test": _accuracy(cartesian, X[test], y[test])},
        "linear_on_r_theta": {"train": _accuracy(polar, P[train], y[train]), "test": _accuracy(polar, P[test], y[test])},
    }
    radius = _boundary_radius(polar)

    figure = Path(out_dir) / "feature-transform.png"
    _plot(X, P, y, cartesian, polar, acc, figure)

    numbers = {
        "n_train": len(train),
        "n_test": len(test),
        "accuracy": acc,
        "polar_boundary_radius": {"min_over_theta": radius.min(), "max_over_theta": radius.max()},
    }
    claims = {
        "a line in (x, y) fails on the rings: test accuracy < 0.70": acc["linear_on_xy"]["test"] < 0.70,
        "a line in (r, theta) separates them: test accuracy > 0.95": acc["linear_on_r_theta"]["test"] > 0.95,
    }
    return DemoResult("feature-transform", numbers, claims, [figure])


def _accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    return float((model.predict(X) == y).mean())


def _boundary_radius(model, n_angles: int = 361) -> np.ndarray:
    """Radius r(theta) where the polar classifier's score is zero, for theta over the circle.

    The score is affine in (r, theta), so the zero set is ``r = (-b - w_theta * theta) / w_r``
    once the standardization is folded into the weights. A constant r(theta) is a circle.
    """
    scaler, logistic = model[0], model[-1]
    w = logistic.coef_[0] / scaler.scale_
    b = logistic.intercept_[0] - np.dot(w, scaler.mean_)
    theta = np.linspace(-np.pi, np.pi, n_angles)
    return (-b - w[1] * theta) / w[0]


def _plot(X, P, y, cartesian, polar, acc, path: Path) -> None:
    lim = float(np.abs(X).max()) * 1.05
    xy_bounds = (-lim, lim, -lim, lim)
    polar_bounds = (0.0, lim, -np.pi, np.pi)  # r on the horizontal axis, theta on the vertical
    fig, axes = plt.subplots(2, 2, figsize=(8.4, 8.0))
    rows = (("(x, y)", cartesian, lambda pts: pts), ("(r, θ)", polar, to_polar))
    for row, (name, model, features) in zip(axes, rows):
        xy_ax, polar_ax = row
        # The classifier sees `features(point)`; draw its regions in both coordinate systems.
        plot_regions(xy_ax, lambda pts: model.predict(features(pts)), xy_bounds)
        scatter_classes(xy_ax, X, y, size=7)
        xy_ax.set_aspect("equal")
        xy_ax.set_xlabel("x")
        xy_ax.set_ylabel("y")
        key = "linear_on_xy" if model is cartesian else "linear_on_r_theta"
        xy_ax.set_title(f"linear on {name}, seen in (x, y)\ntest accuracy {acc[key]['test']:.1%}", fontsize=10)
        plot_regions(polar_ax, lambda pts: model.predict(features(to_cartesian(pts))), polar_bounds)
        scatter_classes(polar_ax, P, y, size=7)
        polar_ax.set_xlabel("r")
        polar_ax.set_ylabel("θ (radians)")
        polar_ax.set_title(f"linear on {name}, seen in (r, θ)", fontsize=10)
    fig.suptitle("Same linear classifier, different features: rings are separable in polar coordinates")
    fig.tight_layout()
    save_figure(fig, path)
