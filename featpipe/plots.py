"""Plots a run leaves behind, as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

import os
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import atomic  # noqa: E402


def _save(fig, path: str | os.PathLike) -> None:
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def confusion_matrix(confusion: Sequence[Sequence[int]], class_names: Sequence[str], path, title: str = "") -> None:
    """Row-normalized confusion matrix: each row shows where one true class's images went."""
    counts = np.asarray(confusion, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    k = len(class_names)
    size = max(4.0, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_title(title or "confusion matrix")
    _save(fig, path)


def learning_curves(history: dict, path, title: str = "") -> None:
    """Training loss and train/validation accuracy per epoch."""
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(epochs, history.get("loss", []), marker=".")
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    left.grid(alpha=0.3)
    for key, label in (("train_acc", "train"), ("val_acc", "validation")):
        values = history.get(key) or []
        if len(values) == len(epochs) and any(v is not None for v in values):
            right.plot(epochs, [np.nan if v is None else v for v in values], marker=".", label=label)
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy")
    right.grid(alpha=0.3)
    right.legend()
    fig.suptitle(title or "learning curves")
    _save(fig, path)


def image_grid(images: np.ndarray, path, titles: Sequence[str] | None = None, ncols: int = 10,
               title: str = "", cell: float = 1.1) -> None:
    """Show images (N, H, W[, C]) with values in [0, 1] or uint8 as a grid, optionally titled."""
    images = np.asarray(images)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows + (0.4 if title else 0)), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= n:
            continue
        image = images[index]
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[index], fontsize=7)
    if title:
        fig.suptitle(title)
    _save(fig, path)
