"""On-the-fly data augmentation of whole image batches, shaped (N, H, W, C).

Each function draws its random choices for the whole batch from a generator the caller seeds,
so a training run is reproducible; the output has the input's shape and dtype and the input is
never modified. `augment_batch` applies the parts an `AugmentSettings` switches on, in a fixed
order: flip, pad-and-crop, affine deformation, cutout (mixup mixes labels too, so the training
loop applies it, through `mixup`).
"""

from __future__ import annotations

import numpy as np

from ..imageops import flip_horizontal  # re-exported: augmentation's flip is the one image op

__all__ = ["CROP_MODES", "augment_batch", "cutout", "flip_horizontal", "mixup", "random_affine",
           "random_crop", "random_flip"]

#: How `random_crop` fills the border it pads: with ``fill`` (``zero``) or the mirrored image (``reflect``).
CROP_MODES = ("zero", "reflect")


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


def random_crop(images: np.ndarray, pad: int, rng: np.random.Generator, fill=0.0, mode: str = "zero") -> np.ndarray:
    """Pad each image by ``pad`` pixels on every side, then cut a random H x W window.

    Equivalent to shifting each image by up to ``pad`` pixels in each direction (the standard
    CIFAR augmentation of He et al., 2016, with ``pad=4``). What comes in at the border is
    ``fill`` (``mode="zero"``) or the image mirrored at its edge without repeating the edge
    pixel (``mode="reflect"``, `numpy.pad`'s ``reflect``), which keeps the image statistics.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
    pad : int >= 0
    rng : numpy.random.Generator
    fill : float or ndarray of shape (C,)
        ``mode="zero"``: value of the padding pixels (per channel if an array). Use the
        normalized value of a zero pixel, ``(0 - mean) / std``, on images already normalized
        per channel.
    mode : {"zero", "reflect"}

    Returns
    -------
    ndarray, shape (N, H, W, C), dtype of ``images``
    """
    _check_batch(images)
    if pad < 0:
        raise ValueError(f"crop padding pad={pad!r} must be >= 0")
    if mode not in CROP_MODES:
        raise ValueError(f"crop mode={mode!r} is not one of {', '.join(CROP_MODES)}")
    if pad == 0:
        return images.copy()
    n, h, w, c = images.shape
    if mode == "reflect":
        # two whole-batch takes along the mirrored row and column indices: ~10x faster than np.pad
        padded = np.take(np.take(images, _reflected(h, pad), axis=1), _reflected(w, pad), axis=2)
    else:
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


def random_affine(
    images: np.ndarray,
    rng: np.random.Generator,
    *,
    rotation: float = 0.0,
    scale: tuple[float, float] = (1.0, 1.0),
    translate: float = 0.0,
    fill=0.0,
) -> np.ndarray:
    """Rotate, scale and shift each image by its own small random amount (bilinear resampling).

    The training deformations of Lin, Memisevic & Konda (2015): per image an angle drawn
    uniformly from ``[-rotation, rotation]`` degrees, a zoom factor log-uniformly from
    ``scale`` and a shift uniformly from ``[-translate, translate]`` pixels on each axis, all
    about the image centre. Each output pixel is mapped back into its source image and read
    by bilinear interpolation, the whole batch in one gather; source points outside the image
    read ``fill``.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
    rng : numpy.random.Generator
    rotation : float in [0, 180], degrees
    scale : (low, high), 0 < low <= high
        Zoom factors (> 1 enlarges the content).
    translate : float >= 0, pixels
    fill : float or ndarray of shape (C,)

    Returns
    -------
    ndarray, shape (N, H, W, C), dtype of ``images``
    """
    _check_batch(images)
    n = images.shape[0]
    low, high = scale
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    zoom = np.exp(rng.uniform(np.log(low), np.log(high), n))
    shift = rng.uniform(-translate, translate, (n, 2))  # (rows, columns)
    return affine_warp(images, angle, zoom, shift, fill)


def affine_warp(images: np.ndarray, angle: np.ndarray, zoom: np.ndarray, shift: np.ndarray, fill=0.0) -> np.ndarray:
    """Each image rotated by ``angle[i]`` radians and zoomed by ``zoom[i]`` about its centre,
    then shifted by ``shift[i]`` = (rows, columns) pixels; bilinear, ``fill`` outside.

    The deterministic half of `random_affine`: output pixel ``p`` reads the source at
    ``A^-1 (p - c - shift) + c``, where ``A`` is the rotation-and-zoom matrix and ``c`` the
    centre. Angle 0, zoom 1 and shift 0 give back the images exactly.
    """
    if images.shape[0] > _WARP_CHUNK:
        # chunks keep the temporaries in cache: ~1.5x less CPU time than the whole batch at once
        return np.concatenate([_warp(images[i : i + _WARP_CHUNK], angle[i : i + _WARP_CHUNK],
                                     zoom[i : i + _WARP_CHUNK], shift[i : i + _WARP_CHUNK], fill)
                               for i in range(0, images.shape[0], _WARP_CHUNK)])
    return _warp(images, angle, zoom, shift, fill)


#: Images warped at a time by `affine_warp`.
_WARP_CHUNK = 64


def _warp(images, angle, zoom, shift, fill):
    n, h, w, c = images.shape
    dtype = images.dtype
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    dy = rows[None] - (cy + shift[:, 0, None, None]).astype(np.float32)  # (N, H, W)
    dx = cols[None] - (cx + shift[:, 1, None, None]).astype(np.float32)
    cos = (np.cos(angle) / zoom).astype(np.float32)[:, None, None]
    sin = (np.sin(angle) / zoom).astype(np.float32)[:, None, None]
    # Source coordinates in an image with a one-pixel border of `fill` (hence the + 1): every
    # source point clipped into that border reads `fill` from both bilinear neighbours, so no
    # point needs a separate out-of-bounds mask.
    src_y = np.clip(cos * dy - sin * dx + np.float32(cy + 1), 0, h + 1)
    src_x = np.clip(sin * dy + cos * dx + np.float32(cx + 1), 0, w + 1)
    y0 = np.minimum(src_y.astype(np.intp), h)  # floor: the coordinates are >= 0
    x0 = np.minimum(src_x.astype(np.intp), w)
    fy = (src_y - y0).astype(dtype).reshape(-1, 1)
    fx = (src_x - x0).astype(dtype).reshape(-1, 1)
    # Work on channel planes (C, N, H, W): numpy's loops are slow over an innermost axis of 3.
    padded = np.empty((c, n, h + 2, w + 2), dtype=dtype)
    padded[...] = np.reshape(fill, (-1, 1, 1, 1))
    padded[:, :, 1:-1, 1:-1] = images.transpose(3, 0, 1, 2)
    # Each pixel beside its right, lower and lower-right neighbours, as rows of 4C values, so
    # that one gather of rows reads all four bilinear corners (~4x faster than four gathers).
    quad = np.stack([padded[:, :, :-1, :-1], padded[:, :, :-1, 1:], padded[:, :, 1:, :-1], padded[:, :, 1:, 1:]])
    quad = np.ascontiguousarray(quad.reshape(4 * c, -1).T)
    top_left = ((np.arange(n)[:, None, None] * (h + 1) + y0) * (w + 1) + x0).reshape(-1)
    corners = np.ascontiguousarray(np.take(quad, top_left, axis=0).T).reshape(4, c, -1)
    v00, v01, v10, v11 = corners
    fx, fy = fx.reshape(-1), fy.reshape(-1)
    top = v01 - v00
    top *= fx
    top += v00  # the top row, interpolated across
    bottom = v11 - v10
    bottom *= fx
    bottom += v10
    bottom -= top
    bottom *= fy
    top += bottom
    return np.ascontiguousarray(top.reshape(c, n, h, w).transpose(1, 2, 3, 0))


def cutout(images: np.ndarray, size: int, rng: np.random.Generator, fill=0.0) -> np.ndarray:
    """Blank one ``size`` x ``size`` square per image, centred on a random pixel, with ``fill``.

    Cutout (DeVries & Taylor, 2017): the square may reach past the border, so edges are cut
    as often as the middle. ``size=0`` returns a copy of the images.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
    size : int >= 0, at most min(H, W)
    rng : numpy.random.Generator
    fill : float or ndarray of shape (C,)
        The value of a blank pixel (the normalized zero, or 0 = the mean after standardizing).

    Returns
    -------
    ndarray, shape (N, H, W, C), dtype of ``images``
    """
    _check_batch(images)
    n, h, w, _ = images.shape
    if not 0 <= size <= min(h, w):
        raise ValueError(f"cutout size={size!r} must be in [0, {min(h, w)}] for {h} x {w} images")
    out = images.copy()
    if size == 0:
        return out
    cy = rng.integers(0, h, n)[:, None]
    cx = rng.integers(0, w, n)[:, None]
    top, left = cy - size // 2, cx - size // 2
    in_rows = (np.arange(h)[None] >= top) & (np.arange(h)[None] < top + size)  # (N, H)
    in_cols = (np.arange(w)[None] >= left) & (np.arange(w)[None] < left + size)  # (N, W)
    mask = in_rows[:, :, None] & in_cols[:, None, :]
    out[mask] = fill
    return out


def mixup(x: np.ndarray, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Blend the batch with a shuffled copy of itself (mixup, Zhang et al., 2018).

    One weight ``lam`` ~ Beta(alpha, alpha) for the batch, folded to ``lam >= 1/2`` so each
    row stays mostly its own example (its label then names the larger part). The loss of the
    mixed rows is ``lam * loss(y) + (1 - lam) * loss(y[partner])``.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
    alpha : float > 0
    rng : numpy.random.Generator

    Returns
    -------
    mixed : ndarray, shape and dtype of ``x``
        ``lam * x + (1 - lam) * x[partner]``.
    partner : ndarray, shape (N,), int
        The row each row was mixed with.
    lam : float in [1/2, 1]
    """
    if not alpha > 0:
        raise ValueError(f"mixup alpha={alpha!r} must be > 0")
    lam = float(rng.beta(alpha, alpha))
    partner = rng.permutation(x.shape[0])
    return mix(x, partner, max(lam, 1.0 - lam)), partner, max(lam, 1.0 - lam)


def mix(x: np.ndarray, partner: np.ndarray, lam: float) -> np.ndarray:
    """``lam * x + (1 - lam) * x[partner]`` in the dtype of ``x`` (``lam=1``: ``x`` itself, copied)."""
    out = x * x.dtype.type(lam)
    out += x.dtype.type(1.0 - lam) * x[partner]
    return out


def augment_batch(images: np.ndarray, rng: np.random.Generator, settings, fill=0.0) -> np.ndarray:
    """Apply the image augmentations ``settings`` (an `AugmentSettings`) switches on.

    Order: flip, pad-and-crop, affine deformation, cutout; ``fill`` is the value of a blank
    (zero) pixel in the images' units. Returns ``images`` itself when nothing is on.
    """
    if settings.flip:
        images = random_flip(images, rng)
    if settings.crop:
        images = random_crop(images, settings.crop, rng, fill, mode=settings.crop_mode)
    if settings.affine is not None:
        a = settings.affine
        images = random_affine(images, rng, rotation=a.rotation, scale=a.scale, translate=a.translate, fill=fill)
    if settings.cutout:
        images = cutout(images, settings.cutout, rng, fill)
    return images


def _reflected(size: int, pad: int) -> np.ndarray:
    """Indices of a length-``size`` axis padded by ``pad`` on each side by reflection (numpy's ``reflect``)."""
    period = 2 * (size - 1) if size > 1 else 1
    index = np.abs(np.arange(-pad, size + pad)) % period
    return np.where(index < size, index, period - index)


def _check_batch(images: np.ndarray) -> None:
    if images.ndim != 4:
        raise ValueError(f"expected a batch of images shaped (N, H, W, C), got shape {images.shape}")
