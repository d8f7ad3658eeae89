"""Bag of visual words: a k-means codebook of small normalized patches, densely encoded and pooled.

Follows Coates, Lee & Ng, "An Analysis of Single-Layer Networks in Unsupervised Feature Learning"
(AISTATS 2011): random training patches are brightness/contrast normalized (subtract the patch
mean, divide by sqrt(variance + 10) on the 0..255 pixel scale), ZCA-whitened (eigenvalues
regularized by +0.1), clustered with k-means; images are then described by encoding every dense
patch against the K centroids and sum-pooling the codes over the four quadrants of the image.
Their "triangle" encoding f_k = max(0, mean_j(z_j) - z_k), with z_k the distance to centroid k,
beat hard assignment in their experiments; hard assignment gives the classic bag-of-words counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field, StrictBool, field_validator
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils.validation import check_is_fitted

from ..errors import InputError
from ..settings import Float, Int, Section, choice
from ._base import ImageFeatureExtractor
from ._images import check_int, check_min_size, chunk_starts

ENCODINGS = ("hard", "triangle")
POOLINGS = ("global", "quadrants", "pyramid")
KMEANS = ("full", "minibatch")
_REGIONS = {"global": 1, "quadrants": 4, "pyramid": 5}
_ROWS_PER_BLOCK = 16384  # patches encoded per matrix product; bounds the distance matrix to ~26 MB at K=400


class BovwSettings(Section):
    """Bag of visual words over a k-means codebook of normalized, whitened patches."""

    n_words: Int = Field(400, ge=2, description="codebook size K per patch size")
    patch_size: Int | list[Int] = Field(6, description="square patch side; a list learns one codebook per size")
    n_patches: Int = Field(100_000, ge=2, description="random training patches per patch size")
    stride: Int = Field(1, ge=1, description="step between dense patches when encoding")
    whiten: StrictBool = True
    whiten_eps: Float = Field(0.1, gt=0, description="added to the covariance eigenvalues before whitening")
    normalize_eps: Float = Field(10.0, gt=0, description="added to each patch's variance (0..255 scale)")
    encoding: choice(ENCODINGS) = "triangle"
    pooling: choice(POOLINGS) = "quadrants"
    kmeans: choice(KMEANS) = "minibatch"
    kmeans_iter: Int = Field(50, ge=1)

    @field_validator("patch_size")
    @classmethod
    def _positive_sizes(cls, value):
        sizes = value if isinstance(value, list) else [value]
        if not sizes or min(sizes) < 1:
            raise ValueError("expected a patch side >= 1 or a non-empty list of them")
        return value


class BagOfVisualWords(ImageFeatureExtractor):
    """Learned patch codebook + dense encoding + spatial sum-pooling (Coates et al., 2011).

    Parameters
    ----------
    n_words : int
        Codebook size K (per patch size).
    patch_size : int or list of int
        Square patch side in pixels; several sizes learn one codebook each and concatenate.
    n_patches : int
        Random training patches drawn (with replacement) per patch size in `fit`.
    stride : int
        Step between dense patches in `transform`.
    whiten : bool
        ZCA-whiten the normalized patches (Coates et al. found it matters for k-means).
    whiten_eps : float
        Added to the covariance eigenvalues before whitening (normalized-patch scale).
    normalize_eps : float
        Added to each patch's variance before dividing (0..255 pixel scale), as in the paper.
    encoding : {"hard", "triangle"}
        "hard": one-hot of the nearest word. "triangle": max(0, mean_k(z) - z_k).
    pooling : {"global", "quadrants", "pyramid"}
        Sum codes over the whole image (K features), its 2x2 quadrants (4K) or both (5K).
        A patch belongs to the quadrant of its top-left position in the grid of positions.
    kmeans : {"full", "minibatch"}
        scikit-learn KMeans (n_init=1) or MiniBatchKMeans.
    kmeans_iter : int
        max_iter of the k-means (epochs for MiniBatchKMeans).
    chunk_size : int
        Images encoded at once; with 32x32 images, stride 1 and 6x6 patches each image has 729
        patches, so memory is about chunk_size * 729 * (patch dims + K) * 4 bytes per chunk.
    random_state : int or None
        Seeds patch sampling and k-means.

    Learned attributes (lists, one entry per patch size in `patch_sizes_`): `codebook_` float32
    (K, p*p*C) in whitened space, patch vectors in (row, col, channel) order; `mean_` float32
    (p*p*C,) and `zca_` float32 (p*p*C, p*p*C) (empty lists when whiten=False).
    """

    CODE_VERSION = 1
    Settings = BovwSettings

    def __init__(self, *, n_words: int = 400, patch_size: Any = 6, n_patches: int = 100_000, stride: int = 1,
                 whiten: bool = True, whiten_eps: float = 0.1, normalize_eps: float = 10.0,
                 encoding: str = "triangle", pooling: str = "quadrants", kmeans: str = "minibatch",
                 kmeans_iter: int = 50, chunk_size: int = 32, random_state: int | None = None) -> None:
        self.n_words = n_words
        self.patch_size = patch_size
        self.n_patches = n_patches
        self.stride = stride
        self.whiten = whiten
        self.whiten_eps = whiten_eps
        self.normalize_eps = normalize_eps
        self.encoding = encoding
        self.pooling = pooling
        self.kmeans = kmeans
        self.kmeans_iter = kmeans_iter
        self.chunk_size = chunk_size
        self.random_state = random_state

    # ------------------------------------------------------------------ settings

    def _patch_sizes(self) -> list[int]:
        sizes = self.patch_size if isinstance(self.patch_size, (list, tuple)) else [self.patch_size]
        if len(sizes) == 0:
            raise InputError(f"{self._owner()}: patch_size={self.patch_size!r} must be an integer >= 1 or a non-empty list of them")
        return [check_int(self._owner(), "patch_size", size, 1) for size in sizes]

    def _check_settings(self, images: np.ndarray) -> None:
        owner = self._owner()
        n_words, n_patches = self.n_words, self.n_patches
        check_int(owner, "chunk_size", self.chunk_size, 1)
        if self.random_state is not None:
            check_int(owner, "random_state", self.random_state, 0)
        sizes = self._patch_sizes()
        largest = max(sizes)
        check_min_size(images, largest, largest, owner, f"patch_size={largest}")
        if self.pooling != "global":
            positions = [(images.shape[k] - largest) // self.stride + 1 for k in (1, 2)]
            if min(positions) < 2:
                raise InputError(
                    f"{owner}: pooling={self.pooling!r} needs at least 2x2 patch positions; images of "
                    f"{images.shape[1]}x{images.shape[2]} with patch_size={largest} and stride={self.stride} "
                    f"give {positions[0]}x{positions[1]}; use pooling='global', a smaller stride or larger images"
                )
        if n_words > n_patches:
            raise InputError(
                f"{owner}: n_words={n_words} is larger than the number of training patches "
                f"n_patches={n_patches}; k-means needs at least one patch per word"
            )
        for size in sizes:
            available = len(images) * (images.shape[1] - size + 1) * (images.shape[2] - size + 1)
            if n_words > available:
                raise InputError(
                    f"{owner}: n_words={n_words} is larger than the {available} distinct patch positions "
                    f"of size {size} in these {len(images)} images; use fewer words or more images"
                )

    # ------------------------------------------------------------------ fit

    def _fit_images(self, images: np.ndarray) -> None:
        rng = np.random.default_rng(self.random_state)
        self.patch_sizes_ = tuple(self._patch_sizes())
        self.codebook_, self.mean_, self.zca_ = [], [], []
        for size in self.patch_sizes_:
            patches = _normalize_patches(_random_patches(images, size, self.n_patches, rng), self.normalize_eps)
            if self.whiten:
                mean, zca = _zca(patches, self.whiten_eps)
                patches = _whiten(patches, mean, zca)
                self.mean_.append(mean)
                self.zca_.append(zca)
            seed = int(rng.integers(2**31 - 1))
            if self.kmeans == "full":
                model = KMeans(n_clusters=self.n_words, n_init=1, max_iter=self.kmeans_iter, random_state=seed)
            else:
                model = MiniBatchKMeans(n_clusters=self.n_words, n_init=1, max_iter=self.kmeans_iter,
                                        batch_size=4096, random_state=seed)
            model.fit(patches)
            self.codebook_.append(model.cluster_centers_.astype(np.float32))

    # ------------------------------------------------------------------ transform

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        n_regions = _REGIONS[self.pooling]
        per_size = n_regions * self.n_words
        out = np.empty((len(images), per_size * len(self.patch_sizes_)), dtype=np.float32)
        for k, size in enumerate(self.patch_sizes_):
            mean = self.mean_[k] if self.zca_ else None
            zca = self.zca_[k] if self.zca_ else None
            for start, stop in chunk_starts(len(images), self.chunk_size, f"BoVW {size}x{size}"):
                out[start:stop, k * per_size:(k + 1) * per_size] = _encode_images(
                    images[start:stop], size, self.stride, self.normalize_eps, mean, zca,
                    self.codebook_[k], self.encoding, self.pooling,
                )
        return out


def codebook_images(bovw: BagOfVisualWords, which: int = 0) -> np.ndarray:
    """The visual words of a fitted BagOfVisualWords as small images, for an image grid in reports.

    Words live in whitened, contrast-normalized patch space; they are mapped back through the
    inverse ZCA (the pseudo-inverse of `zca_`) and the whitening mean, which undoes the whitening
    but not the per-patch brightness/contrast normalization (lost for good), so each word is then
    min-max scaled to [0, 1] on its own: the pictures show patterns, not absolute colours.

    Parameters
    ----------
    bovw : fitted BagOfVisualWords
    which : int
        Index into `bovw.patch_sizes_`.

    Returns
    -------
    float32 ndarray (n_words, p, p, C) with values in [0, 1].
    """
    check_is_fitted(bovw, "codebook_")
    if not 0 <= which < len(bovw.patch_sizes_):
        raise InputError(f"codebook_images: which={which} must index patch_sizes_={bovw.patch_sizes_}")
    size = bovw.patch_sizes_[which]
    words = np.asarray(bovw.codebook_[which], dtype=np.float64)
    if bovw.zca_:
        words = words @ np.linalg.pinv(np.asarray(bovw.zca_[which], dtype=np.float64)) + bovw.mean_[which]
    low = words.min(axis=1, keepdims=True)
    span = words.max(axis=1, keepdims=True) - low
    scaled = (words - low) / np.where(span > 0, span, 1.0)
    n_channels = words.shape[1] // (size * size)
    return scaled.reshape(len(words), size, size, n_channels).astype(np.float32)


# ----------------------------------------------------------------------------- numerics


def _random_patches(images: np.ndarray, size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random size x size patches (with replacement) as float32 rows (row, col, channel order)."""
    n_images, height, width, _ = images.shape
    which = rng.integers(n_images, size=count)
    top = rng.integers(height - size + 1, size=count)
    left = rng.integers(width - size + 1, size=count)
    offsets = np.arange(size)
    rows = (top[:, None] + offsets)[:, :, None]
    cols = (left[:, None] + offsets)[:, None, :]
    patches = images[which[:, None, None], rows, cols]  # (count, size, size, C)
    return patches.reshape(count, -1).astype(np.float32)


def _normalize_patches(patches: np.ndarray, eps: float) -> np.ndarray:
    """Per-patch brightness/contrast normalization in place: (x - mean) / sqrt(var + eps)."""
    patches -= patches.mean(axis=1, keepdims=True)
    variance = np.einsum("ij,ij->i", patches, patches) / np.float32(patches.shape[1])
    patches /= np.sqrt(variance + np.float32(eps))[:, None]
    return patches


def _zca(patches: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ZCA matrix V diag(1 / sqrt(d + eps)) V^T of the patches' covariance (float64 maths)."""
    data = patches.astype(np.float64)
    mean = data.mean(axis=0)
    data -= mean
    covariance = data.T @ data / max(len(data) - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    zca = (eigenvectors / np.sqrt(eigenvalues + eps)) @ eigenvectors.T
    return mean.astype(np.float32), zca.astype(np.float32)


def _whiten(patches: np.ndarray, mean: np.ndarray, zca: np.ndarray) -> np.ndarray:
    return (patches - mean) @ zca


def _dense_patches(images: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, int, int]:
    """All size x size patches at `stride`: float32 (N * rows * cols, size*size*C), rows, cols."""
    windows = sliding_window_view(images, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    n_images, rows, cols, n_channels = windows.shape[:4]
    # windows is (N, rows, cols, C, size, size); reorder to the (row, col, channel) patch layout.
    # Copying the uint8 view first and converting after is ~3x faster than converting the view.
    patches = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n_images * rows * cols, -1)
    patches = patches.astype(np.float32)
    return patches, rows, cols


def _encode_images(images: np.ndarray, size: int, stride: int, normalize_eps: float, mean: np.ndarray | None,
                   zca: np.ndarray | None, codebook: np.ndarray, encoding: str, pooling: str) -> np.ndarray:
    """Pooled codes (N, regions * K) float32 of one chunk of images for one patch size."""
    patches, rows, cols = _dense_patches(images, size, stride)
    _normalize_patches(patches, normalize_eps)
    if zca is not None:
        patches = _whiten(patches, mean, zca)
    n_words = len(codebook)
    codebook_sq = np.einsum("ij,ij->i", codebook, codebook)
    codes = np.empty((len(patches), n_words), dtype=np.float32) if encoding == "triangle" else None
    nearest = np.empty(len(patches), dtype=np.int64) if encoding == "hard" else None
    for start in range(0, len(patches), _ROWS_PER_BLOCK):
        block = patches[start:start + _ROWS_PER_BLOCK]
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 does not change the nearest word.
        partial = block @ codebook.T
        partial *= np.float32(-2.0)
        partial += codebook_sq
        if encoding == "hard":
            nearest[start:start + len(block)] = partial.argmin(axis=1)
            continue
        partial += np.einsum("ij,ij->i", block, block)[:, None]
        np.maximum(partial, 0.0, out=partial)  # rounding can make a tiny squared distance negative
        np.sqrt(partial, out=partial)
        partial -= partial.mean(axis=1, keepdims=True)  # z_k - mean(z)
        np.negative(partial, out=partial)
        np.maximum(partial, 0.0, out=partial)
        codes[start:start + len(block)] = partial
    return _pool(images.shape[0], rows, cols, n_words, pooling, codes, nearest)


def _pool(n_images: int, rows: int, cols: int, n_words: int, pooling: str, codes: np.ndarray | None,
          nearest: np.ndarray | None) -> np.ndarray:
    """Sum-pool codes over the global image and/or its quadrants: (N, regions * K) float32."""
    quadrant_row = np.arange(rows) * 2 // rows
    quadrant_col = np.arange(cols) * 2 // cols
    quadrant = (quadrant_row[:, None] * 2 + quadrant_col[None, :]).ravel()  # (rows * cols,)
    if nearest is not None:
        slots = (np.arange(n_images)[:, None] * 4 + quadrant[None, :]) * n_words + nearest.reshape(n_images, -1)
        quadrants = np.bincount(slots.ravel(), minlength=n_images * 4 * n_words).astype(np.float32)
        quadrants = quadrants.reshape(n_images, 4, n_words)
    else:
        codes = codes.reshape(n_images, rows, cols, n_words)
        top, left = (rows + 1) // 2, (cols + 1) // 2  # the rows/cols with index * 2 // n == 0
        quadrants = np.stack(
            [codes[:, :top, :left].sum(axis=(1, 2)), codes[:, :top, left:].sum(axis=(1, 2)),
             codes[:, top:, :left].sum(axis=(1, 2)), codes[:, top:, left:].sum(axis=(1, 2))],
            axis=1,
        )
    if pooling == "quadrants":
        return quadrants.reshape(n_images, -1)
    total = quadrants.sum(axis=1)
    if pooling == "global":
        return total
    return np.concatenate([total, quadrants.reshape(n_images, -1)], axis=1)
