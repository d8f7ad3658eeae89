"""Bag of visual words: a k-means codebook of small normalized patches, densely encoded and pooled.

Follows Coates, Lee & Ng, "An Analysis of Single-Layer Networks in Unsupervised Feature Learning"
(AISTATS 2011): random training patches are brightness/contrast normalized (subtract the patch
mean, divide by sqrt(variance + 10) on the 0..255 pixel scale), ZCA-whitened (eigenvalues
regularized by +0.1), clustered with k-means; images are then described by encoding every dense
patch against the K centroids and sum-pooling the codes over the four quadrants of the image
(or a finer 3x3 grid of regions).
Their "triangle" encoding f_k = max(0, mean_j(z_j) - z_k), with z_k the distance to centroid k,
beat hard assignment in their experiments; hard assignment gives the classic bag-of-words counts.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from pydantic import Field, StrictBool, model_validator
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils.validation import check_is_fitted

from .. import progress
from ..errors import InputError
from ..nn.parallel import usable_cores
from ..settings import Float, Int, Section, Sizes, choice
from ._base import ImageFeatureExtractor
from ._images import check_int, check_min_size, show_progress
from .bovw_encode import BLOCK_ROWS, GRID, REGIONS, PatchEncoder, encode_images, normalize_patches
from .whiten import inverse_sqrt

ENCODINGS = ("hard", "triangle")
POOLINGS = tuple(REGIONS)
KMEANS = ("full", "minibatch")
KMEANS_INITS = ("k-means++", "random")
#: A word is counted dead when fewer training patches than this fraction of the mean cluster size
#: (n_patches / n_words) fall in it at the end of k-means.
DEAD_WORD_FRACTION = 0.05


class BovwSettings(Section):
    """Bag of visual words over a k-means codebook of normalized, whitened patches."""

    n_words: Int = Field(400, ge=2, description="codebook size K per patch size")
    patch_size: Sizes = Field(6, description="square patch side; a list learns one codebook per size")
    n_patches: Int = Field(100_000, ge=2, description="random training patches per patch size")
    stride: Int = Field(1, ge=1, description="step between dense patches when encoding")
    whiten: StrictBool = True
    whiten_eps: Float = Field(0.1, gt=0, description="added to the covariance eigenvalues before whitening")
    normalize_eps: Float = Field(10.0, gt=0, description="added to each patch's variance (0..255 scale)")
    encoding: choice(ENCODINGS) = "triangle"
    pooling: choice(POOLINGS) = "quadrants"
    kmeans: choice(KMEANS) = Field("minibatch", description="full: Lloyd's k-means (empty clusters re-seeded); minibatch: MiniBatchKMeans")
    kmeans_iter: Int = Field(50, ge=1)
    kmeans_init: choice(KMEANS_INITS) = Field("k-means++", description="k-means seeding; random: random patches, as Coates et al.")


    @model_validator(mode="after")
    def _a_patch_per_word(self):
        if self.n_words > self.n_patches:
            raise ValueError(
                f"n_words={self.n_words} is larger than the number of training patches n_patches="
                f"{self.n_patches}; k-means needs at least one patch per word: raise n_patches or lower n_words"
            )
        return self


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
    pooling : {"global", "quadrants", "pyramid", "grid3"}
        Sum codes over the whole image (K features), its 2x2 quadrants (4K), both (5K) or a 3x3
        grid of regions (9K). A patch belongs to the region of its top-left position in the grid
        of positions.
    kmeans : {"full", "minibatch"}
        scikit-learn KMeans (Lloyd, n_init=1; it re-seeds empty clusters with far points, the
        standard k-means of Coates et al.) or MiniBatchKMeans.
    kmeans_iter : int
        max_iter of the k-means (epochs for MiniBatchKMeans).
    kmeans_init : {"k-means++", "random"}
        Seeding of the k-means; "random" picks random training patches (cheap at large K).
    chunk_size : int
        Images encoded at once by each worker thread.
    n_jobs : int or None
        Worker threads for the encoding (None: every usable core).
    memory_limit_mb : int or None
        Budget checked against an estimate before anything large is allocated (None: 3/4 of the
        machine's RAM); the error says which setting to lower.
    random_state : int or None
        Seeds patch sampling and k-means.

    Learned attributes (one entry per patch size in `patch_sizes_`): `codebook_` float32
    (K, p*p*C) in whitened space, patch vectors in (row, col, channel) order; `mean_` float32
    (p*p*C,) and `zca_` float32 (p*p*C, p*p*C) (empty lists when whiten=False); `dead_words_`,
    the number of words holding fewer than DEAD_WORD_FRACTION of the mean cluster size of the
    training patches; `kmeans_inertia_`, k-means' final mean squared distance per patch.
    """

    CODE_VERSION = 1
    Settings = BovwSettings

    def __init__(self, *, n_words: int = 400, patch_size: Any = 6, n_patches: int = 100_000, stride: int = 1,
                 whiten: bool = True, whiten_eps: float = 0.1, normalize_eps: float = 10.0,
                 encoding: str = "triangle", pooling: str = "quadrants", kmeans: str = "minibatch",
                 kmeans_iter: int = 50, kmeans_init: str = "k-means++", chunk_size: int = 32,
                 n_jobs: int | None = None, memory_limit_mb: int | None = None,
                 random_state: int | None = None) -> None:
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
        self.kmeans_init = kmeans_init
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.memory_limit_mb = memory_limit_mb
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
        if self.n_jobs is not None:
            check_int(owner, "n_jobs", self.n_jobs, 1)
        if self.memory_limit_mb is not None:
            check_int(owner, "memory_limit_mb", self.memory_limit_mb, 1)
        if self.random_state is not None:
            check_int(owner, "random_state", self.random_state, 0)
        sizes = self._patch_sizes()
        largest = max(sizes)
        check_min_size(images, largest, largest, owner, f"patch_size={largest}")
        if self.pooling != "global":
            positions = [(images.shape[k] - largest) // self.stride + 1 for k in (1, 2)]
            grid = GRID[self.pooling]
            if min(positions) < grid:
                raise InputError(
                    f"{owner}: pooling={self.pooling!r} needs at least {grid}x{grid} patch positions; images of "
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
        self._check_memory(images.shape, len(images), fitting=True)

    def _n_jobs(self) -> int:
        return self.n_jobs if self.n_jobs is not None else usable_cores()

    def _memory_limit_mb(self) -> float:
        if self.memory_limit_mb is not None:
            return float(self.memory_limit_mb)
        return 0.75 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20

    def _check_memory(self, image_shape: tuple, n_images: int, *, fitting: bool) -> None:
        """InputError, before any large allocation, if the estimated peak exceeds the memory budget.

        The estimate counts the arrays this extractor allocates (not the images it is given): in fit,
        the training patches (float32, with the float64 copy the covariance takes) and k-means'
        distance blocks; in transform, each worker's chunk of dense patches and its fused blocks,
        plus the (N, features) output. fit checks the transform of its own images too, since a
        pipeline transforms them next: better to refuse before the k-means than after it.
        """
        height, width, channels = image_shape[1:]
        limit, words, jobs, sizes = self._memory_limit_mb(), self.n_words, self._n_jobs(), self._patch_sizes()
        output = n_images * REGIONS[self.pooling] * words * len(sizes) * 4
        for size in sizes:
            dims = size * size * channels
            positions = ((height - size) // self.stride + 1) * ((width - size) // self.stride + 1)
            # per patch: uint8 copy, float32 patches, reordered copy, augmented rows; per worker blocks
            working = jobs * (self.chunk_size * positions * (dims * 13 + 8) + BLOCK_ROWS * words * 8
                              + self.chunk_size * GRID[self.pooling] ** 2 * words * 4)
            fit = self.n_patches * (dims * 16 + 16) + 256 * words * 4 * jobs + words * dims * 12
            needed = max(fit if fitting else 0, working + output)
            if needed / 2**20 > limit:
                fit_part = f"fit {fit / 2**20:.0f} MB for n_patches={self.n_patches} x {dims} dims; " if fitting else ""
                raise InputError(
                    f"{self._owner()}: n_words={words}, patch_size={size}, chunk_size={self.chunk_size} and "
                    f"n_jobs={jobs} need about {needed / 2**20:.0f} MB ({fit_part}encoding {working / 2**20:.0f} MB "
                    f"of working buffers + {output / 2**20:.0f} MB of output for {n_images} images), more than "
                    f"memory_limit_mb={limit:.0f}; lower chunk_size or n_jobs (working buffers), n_patches "
                    f"(fit) or n_words, or transform fewer images at a time"
                )

    # ------------------------------------------------------------------ fit

    def _fit_images(self, images: np.ndarray) -> None:
        rng = np.random.default_rng(self.random_state)
        self.patch_sizes_ = tuple(self._patch_sizes())
        self.codebook_, self.mean_, self.zca_, self.dead_words_, self.kmeans_inertia_ = [], [], [], [], []
        for size in self.patch_sizes_:
            patches = normalize_patches(_random_patches(images, size, self.n_patches, rng), self.normalize_eps)
            if self.whiten:
                mean, zca = _zca(patches, self.whiten_eps)
                patches = _whiten(patches, mean, zca)
                self.mean_.append(mean)
                self.zca_.append(zca)
            seed = int(rng.integers(2**31 - 1))
            if self.kmeans == "full":
                model = KMeans(n_clusters=self.n_words, init=self.kmeans_init, n_init=1, max_iter=self.kmeans_iter,
                               random_state=seed)
            else:
                model = MiniBatchKMeans(n_clusters=self.n_words, init=self.kmeans_init, n_init=1,
                                        max_iter=self.kmeans_iter, batch_size=4096, random_state=seed)
            desc = f"BoVW {self.kmeans} k-means: {self.n_words} words from {len(patches):,} patches of {size}x{size}"
            with progress.stage(desc, enabled=show_progress.get()):  # a start line and a done line with the time
                model.fit(patches)
            self.codebook_.append(model.cluster_centers_.astype(np.float32))
            self.dead_words_.append(dead_words(model.labels_, self.n_words))
            self.kmeans_inertia_.append(float(model.inertia_) / len(patches))

    def fit_report(self) -> dict:
        """What the codebook fit left to know, for a run's metrics.json: dead words and k-means inertia."""
        check_is_fitted(self, "codebook_")
        return {"n_words": self.n_words, "patch_sizes": list(self.patch_sizes_), "dead_words": list(self.dead_words_),
                "dead_word_rule": f"fewer training patches than {DEAD_WORD_FRACTION:g} x the mean cluster size",
                "kmeans_inertia": [round(value, 6) for value in self.kmeans_inertia_]}

    # ------------------------------------------------------------------ transform

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        check_int(self._owner(), "chunk_size", self.chunk_size, 1)
        self._check_memory(images.shape, len(images), fitting=False)
        parts = []
        for k, size in enumerate(self.patch_sizes_):
            encoder = self._encoder(k)
            parts.append(encode_images(encoder, images, self.chunk_size, self._n_jobs(), f"BoVW {size}x{size}"))
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _encoder(self, which: int) -> PatchEncoder:
        mean = self.mean_[which] if self.zca_ else None
        zca = self.zca_[which] if self.zca_ else None
        return PatchEncoder(self.patch_sizes_[which], self.stride, self.normalize_eps, mean, zca,
                            self.codebook_[which], self.encoding, self.pooling)


def dead_words(labels: np.ndarray, n_words: int) -> int:
    """How many of `n_words` clusters hold fewer than DEAD_WORD_FRACTION of the mean cluster size."""
    counts = np.bincount(labels, minlength=n_words)
    return int(np.count_nonzero(counts < DEAD_WORD_FRACTION * len(labels) / n_words))


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


_normalize_patches = normalize_patches  # the name the tests and the Fisher-vector code know


def _zca(patches: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ZCA matrix V diag(1 / sqrt(d + eps)) V^T of the patches' covariance (float64 maths)."""
    data = patches.astype(np.float64)
    mean = data.mean(axis=0)
    data -= mean
    covariance = data.T @ data / max(len(data) - 1, 1)
    return mean.astype(np.float32), inverse_sqrt(covariance, eps).astype(np.float32)


def _whiten(patches: np.ndarray, mean: np.ndarray, zca: np.ndarray) -> np.ndarray:
    return (patches - mean) @ zca


def _encode_images(images: np.ndarray, size: int, stride: int, normalize_eps: float, mean: np.ndarray | None,
                   zca: np.ndarray | None, codebook: np.ndarray, encoding: str, pooling: str) -> np.ndarray:
    """Pooled codes (N, regions * K) float32 of one chunk of images for one patch size (single thread)."""
    return PatchEncoder(size, stride, normalize_eps, mean, zca, codebook, encoding, pooling).encode(images)
