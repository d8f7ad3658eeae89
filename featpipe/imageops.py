"""Bring images to the shape a model was trained on: size and number of channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data.images import decode_image, resize_images
from .errors import DataError


def conform(images: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Resize uint8 images (N, H, W, C) to `shape` = (H', W', C'), converting channels 1 <-> 3."""
    height, width, channels = shape
    return resize_images(_match_channels(images, channels), (height, width))


def flip_horizontal(images: np.ndarray) -> np.ndarray:
    """Mirror every image left-right: a view of ``images`` (N, H, W, C) with the width axis reversed."""
    return images[:, :, ::-1, :]


def read_image(path: str | Path, shape: tuple[int, int, int]) -> np.ndarray:
    """Read one image file of any size and return it as uint8 with `shape` (H, W, C)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image not found: {path}")
    return conform(decode_image(path)[None], shape)[0]


def _match_channels(images: np.ndarray, channels: int) -> np.ndarray:
    have = images.shape[-1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return np.repeat(images, 3, axis=-1)
    if have == 3 and channels == 1:
        # ITU-R BT.601 luma, as Pillow's "L" conversion uses
        luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]
    raise DataError(f"cannot convert images with {have} channels to {channels}")
