"""Shared plotting for the demos: atomic PNG output and decision regions of 2-D classifiers."""

from __future__ import annotations

import io
import os
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from PIL import Image  # noqa: E402

from featpipe import atomic  # noqa: E402

#: Class colours (points) and their light versions (regions), shared by every 2-D demo.
CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
REGION_COLORS = ("#c6dbef", "#fcbba1", "#c7e9c0", "#dadaeb")

#: Resolution of the gallery PNGs: readable text, and each file stays well under 150 KB.
DPI = 90


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` as a 256-colour PNG to ``path`` atomically and close it.

    A palette (median cut, no dithering) cannot be told apart from full colour for these
    plots, and it makes the files 2-3 times smaller: noisy weight images compress badly in
    24-bit PNG, and the gallery figures are committed to the repository.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, bbox_inches="tight", format="png", facecolor="white")
    plt.close(fig)
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    with atomic.atomic_path(path, suffix=".png") as tmp:
        palette.save(tmp, format="PNG", optimize=True)


def grid(bounds: tuple[float, float, float, float], resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular grid over ``(xmin, xmax, ymin, ymax)``.

    Returns
    -------
    xx, yy : ndarray, shape (resolution, resolution)
    points : ndarray, shape (resolution**2, 2), float64
        The grid's points as rows ``(x, y)``.
    """
    xmin, xmax, ymin, ymax = bounds
    xx, yy = np.meshgrid(np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution))
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def plot_regions(
    ax,
    predict: Callable[[np.ndarray], np.ndarray],
    bounds: tuple[float, float, float, float],
    *,
    resolution: int = 200,
    n_classes: int = 2,
    boundary: bool = True,
) -> np.ndarray:
    """Shade the class each point of the plane gets and draw the boundaries between classes.

    Parameters
    ----------
    predict : callable ``(M, 2) points -> (M,) int labels``
        Receives points in the coordinates of this axes (map them to a classifier's feature
        space inside ``predict`` to draw its regions in another space).
    bounds : (xmin, xmax, ymin, ymax)

    Returns
    -------
    labels : ndarray, shape (resolution, resolution), the predicted class per grid point
    """
    xx, yy, points = grid(bounds, resolution)
    labels = np.asarray(predict(points)).reshape(xx.shape)
    cmap = ListedColormap(REGION_COLORS[:n_classes])
    ax.pcolormesh(xx, yy, labels, cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5, shading="auto", rasterized=True)
    if boundary and labels.min() != labels.max():
        ax.contour(xx, yy, labels, levels=np.arange(n_classes - 1) + 0.5, colors="k", linewidths=1.2)
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    return labels


def scatter_classes(ax, X: np.ndarray, y: np.ndarray, *, size: float = 9.0, labels=None) -> None:
    """Scatter 2-D points ``X`` (N, 2) coloured by class ``y`` (N,)."""
    for k in np.unique(y):
        mask = y == k
        name = None if labels is None else labels[int(k)]
        ax.scatter(X[mask, 0], X[mask, 1], s=size, c=CLASS_COLORS[int(k) % len(CLASS_COLORS)],
                   edgecolors="white", linewidths=0.3, label=name, rasterized=True)


def boundary_length(labels: np.ndarray) -> int:
    """Number of neighbouring grid-cell pairs whose predicted classes differ.

    A grid-resolution measure of how long (how wiggly, how fragmented) a decision boundary is:
    a straight boundary across an R x R grid scores about R, a tangled one much more.
    """
    return int((labels[1:, :] != labels[:-1, :]).sum() + (labels[:, 1:] != labels[:, :-1]).sum())
