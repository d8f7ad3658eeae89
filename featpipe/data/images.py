"""Decoding and resizing single images with Pillow into uint8 arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from featpipe.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# Modes Pillow can hand us that carry no colour; everything else is converted to RGB.
_GRAY_MODES = {"1", "L", "LA", "La"}
_GRAY16_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
# Antialiased when shrinking (Pillow filters the whole support), sharp when enlarging.
_RESAMPLE = Image.Resampling.LANCZOS


def decode_image(path: str | Path, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode one PNG/JPEG file to a uint8 array of shape (H, W, 1) or (H, W, 3).

    Grayscale files (modes 1, L, LA, 16-bit I;16) give one channel (16-bit values keep their
    high byte); every other mode is converted to RGB, dropping any alpha channel. With
    `image_size` = (H, W) the image is resized with Pillow's antialiased Lanczos filter.
    Raises DataError naming the file if it is not a readable image (corrupt, truncated).
    """
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in _GRAY16_MODES:
                array = (np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8)
                img = Image.fromarray(array)  # 2-D uint8 -> mode L
            elif img.mode in _GRAY_MODES:
                img = img.convert("L")
            else:
                img = img.convert("RGB")
            if image_size is not None and img.size != (image_size[1], image_size[0]):
                img = img.resize((image_size[1], image_size[0]), _RESAMPLE)
            array = np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot decode image {path}: {exc} (corrupt, truncated or not a PNG/JPEG?)") from exc
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    return array


def resize_images(images: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 images (N, H, W, C) to (N, image_size[0], image_size[1], C) with Pillow.

    Returns `images` unchanged when they already have that size.
    """
    height, width = image_size
    if images.shape[1:3] == (height, width):
        return images
    out = np.empty((images.shape[0], height, width, images.shape[3]), dtype=np.uint8)
    for i, image in enumerate(images):
        squeezed = image[:, :, 0] if image.shape[2] == 1 else image
        resized = Image.fromarray(squeezed).resize((width, height), _RESAMPLE)
        out[i] = np.asarray(resized, dtype=np.uint8).reshape(height, width, images.shape[3])
    return out


def check_image_size(image_size, where: str = "data.image_size") -> tuple[int, int] | None:
    """Validate an (H, W) pair of positive ints (or None) and return it as a tuple."""
    if image_size is None:
        return None
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise DataError(f"{where}={image_size!r} must be a pair (height, width) of positive integers") from None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in (height, width)):
        raise DataError(f"{where}={image_size!r} must be a pair (height, width) of positive integers")
    return int(height), int(width)
