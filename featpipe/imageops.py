"""Bring images to the shape a model was trained on: size and number of channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError


def conform(images: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Resize uint8 images (N, H, W, C) to `shape` = (H', W', C'), converting channels 1 <-> 3."""
    height, width, channels = shape
    images = _match_channels(images, channels)
    if images.shape[1:3] == (height, width):
        return images
    out = np.empty((len(images), height, width, channels), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = _resize(image, height, width)
    return out


def read_image(path: str | Path, shape: tuple[int, int, int]) -> np.ndarray:
    """Read one image file of any size and return it as uint8 with `shape` (H, W, C)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            image = image.convert("L" if shape[2] == 1 else "RGB")
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None
    if array.ndim == 2:
        array = array[..., None]
    return conform(array[None], shape)[0]


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


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    mode_image = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    resized = np.asarray(mode_image.resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)
    return resized[..., None] if resized.ndim == 2 else resized
