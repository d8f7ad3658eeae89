"""Many small images as one picture: tiles pasted into a single array, drawn with one imshow.

`featpipe.plots.image_grid` gives every image its own axes, which costs about a tenth of a second
per tile to draw; a report with 50 templates, 100 visual words and 50 misclassified images per
data set would spend most of its time there. One array and one axes draw in a fraction of that.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..plots import plt


def as_float_tiles(images: np.ndarray) -> np.ndarray:
    """Images (N, H, W[, C]) as float32 in [0, 1], C squeezed away when it is 1.

    uint8 images are divided by 255; float images are clipped to [0, 1].
    """
    tiles = np.asarray(images)
    tiles = tiles.astype(np.float32) / 255.0 if tiles.dtype == np.uint8 else np.clip(tiles.astype(np.float32), 0, 1)
    if tiles.ndim == 4 and tiles.shape[-1] == 1:
        tiles = tiles[..., 0]
    return tiles


def mosaic_figure(images: np.ndarray, ncols: int, titles: Sequence[str] | None = None,
                  row_labels: Sequence[str] | None = None, title: str = "", cell: float = 1.0):
    """A matplotlib figure showing `images` in a grid of `ncols` columns, one tile `cell` inches wide.

    Parameters
    ----------
    images : array (N, H, W) or (N, H, W, C), uint8 or float in [0, 1]
    ncols : tiles per row; rows are filled left to right.
    titles : optional text over each tile (may hold a line break).
    row_labels : optional text left of each row.
    """
    tiles = as_float_tiles(images)
    n, height, width = tiles.shape[:3]
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    pad = max(1, height // 8)
    points_per_pixel = cell * 72.0 / width
    lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles else 0
    gap = pad + (math.ceil(lines * 8.0 / points_per_pixel) if lines else 0)  # room for the titles
    canvas_shape = (nrows * (height + gap) + pad, ncols * (width + pad) + pad) + tiles.shape[3:]
    canvas = np.ones(canvas_shape, dtype=np.float32)
    corners = []
    for index, tile in enumerate(tiles):
        row, col = divmod(index, ncols)
        top, left = row * (height + gap) + gap, col * (width + pad) + pad
        canvas[top:top + height, left:left + width] = tile
        corners.append((top, left))
    fig_width = canvas.shape[1] * points_per_pixel / 72.0
    fig_height = canvas.shape[0] * points_per_pixel / 72.0
    fig, ax = plt.subplots(figsize=(max(fig_width, 2.0), fig_height + (0.4 if title else 0.0)))
    ax.imshow(canvas, cmap="gray" if canvas.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if titles:
        for (top, left), text in zip(corners, titles):
            ax.text(left + width / 2, top - pad / 2, text, ha="center", va="bottom", fontsize=6.5)
    if row_labels:
        for row, text in enumerate(row_labels):
            ax.text(-pad, row * (height + gap) + gap + height / 2, text, ha="right", va="center", fontsize=7)
    if title:
        ax.set_title(title)
    return fig
