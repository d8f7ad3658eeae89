"""ZCA-whitened pixels: raw pixels decorrelated by a linear map learned from the training images.

Neighbouring pixels of natural images are strongly correlated, so a network on raw pixels spends
its first layer (and many epochs) learning to take differences of neighbours. ZCA whitening
(Bell & Sejnowski 1997; the CIFAR-10 preprocessing of Krizhevsky 2009, Coates, Lee & Ng 2011 and
Lin, Memisevic & Konda 2015) rotates the centred pixels into the covariance's eigenbasis, scales
each direction by ``1 / sqrt(eigenvalue + eps)`` and rotates back. The result keeps the image
layout (each output is still "the pixel at (y, x, c)", now with its neighbours' average taken out,
i.e. edges), so the MLP's flips and crops can still be applied to it.

Flips: the covariance is fitted on the training images and their left-right mirror images, so the
whitening map commutes with a flip exactly and flipping whitened images is whitening flipped ones.
Crops (shifts) commute with it only approximately (the map is close to a filter that is the same
at every position, except near the borders).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..settings import Float, Section
from ._base import ImageFeatureExtractor
from ._images import chunk_starts

__all__ = ["ZcaSettings", "ZcaWhitening", "inverse_sqrt", "zca_matrix"]

_ROWS = 2048  # images per block: float64 covariance sums without a float64 copy of the data


class ZcaSettings(Section):
    """ZCA whitening of the pixels, fitted on the training images (and their mirror images)."""

    eps: Float = Field(
        0.01, gt=0, description="added to every eigenvalue, as a fraction of the mean eigenvalue "
        "(the mean pixel variance): larger keeps more of the image's smooth content, smaller whitens harder")


class ZcaWhitening(ImageFeatureExtractor):
    """Pixels / 255, centred and ZCA-whitened: ``(x - mean_) @ whitening_``, in (H, W, C) order.

    Parameters
    ----------
    eps : float > 0
        Regularization of the inverse square root, relative to the mean eigenvalue of the pixel
        covariance: directions with a variance well below ``eps`` times the average (noise, JPEG
        artefacts) are not amplified.

    Learned attributes: `mean_` float32 (D,), `whitening_` float32 (D, D) (symmetric),
    `image_shape_` (H, W, C), `n_features_in_` D = H * W * C.
    """

    Settings = ZcaSettings

    def __init__(self, *, eps: float = 0.01) -> None:
        self.eps = eps

    def _fit_images(self, images: np.ndarray) -> None:
        mean, covariance = _mirrored_moments(images)
        self.mean_ = mean.astype(np.float32)
        self.whitening_ = zca_matrix(covariance, self.eps).astype(np.float32)

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        n = len(images)
        out = np.empty((n, self.whitening_.shape[0]), dtype=np.float32)
        for start, stop in chunk_starts(n, _ROWS, "ZCA whitening"):
            block = images[start:stop].reshape(stop - start, -1).astype(np.float32)
            block /= np.float32(255.0)
            block -= self.mean_
            np.matmul(block, self.whitening_, out=out[start:stop])
        return out


def zca_matrix(covariance: np.ndarray, eps: float) -> np.ndarray:
    """``U diag(1 / sqrt(s + eps * mean(s))) U^T`` for the eigendecomposition ``U diag(s) U^T``."""
    return inverse_sqrt(covariance, eps * np.trace(covariance) / len(covariance))


def inverse_sqrt(covariance: np.ndarray, eps: float) -> np.ndarray:
    """``U diag(1 / sqrt(s + eps)) U^T`` (float64): the one ZCA map of featpipe, for these pixels
    (eps relative, through `zca_matrix`) and the bag of words' whitened patches (eps absolute)."""
    eigenvalues, vectors = np.linalg.eigh(covariance)
    eigenvalues = np.clip(eigenvalues, 0.0, None)  # rounding can leave tiny negative ones
    return (vectors / np.sqrt(eigenvalues + eps)) @ vectors.T


def _mirrored_moments(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64) of pixels / 255 over the images and their left-right mirrors.

    A mirror image's moments are the image's with the pixel order permuted, so the covariance of
    both is the average of the covariance and its permuted copy: one pass over the data. Sums are
    taken over centred rows (float32 products per block, accumulated in float64), so the small
    eigenvalues are not lost to cancellation.
    """
    n, h, w, c = images.shape
    d = h * w * c
    mirror = np.arange(d).reshape(h, w, c)[:, ::-1].ravel()
    total = np.zeros(d)
    for start, stop in chunk_starts(n, _ROWS, "ZCA mean"):
        total += images[start:stop].reshape(stop - start, d).sum(axis=0, dtype=np.float64)
    mean = total / n
    mean = 0.5 * (mean + mean[mirror]) / 255.0
    products = np.zeros((d, d))
    centre = mean.astype(np.float32)
    for start, stop in chunk_starts(n, _ROWS, "ZCA covariance"):
        block = images[start:stop].reshape(stop - start, d).astype(np.float32)
        block /= np.float32(255.0)
        block -= centre
        products += block.T @ block
    covariance = products / n
    covariance = 0.5 * (covariance + covariance[np.ix_(mirror, mirror)])
    return mean, covariance
