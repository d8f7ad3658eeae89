"""Product quantization (Jegou, Douze & Schmid, PAMI 2011): compact codes for long feature vectors.

A D-dimensional vector is cut into `n_subvectors` consecutive pieces of D / m values; each piece
is replaced by the index of its nearest centroid in a k-means codebook learned for that piece,
so a vector costs m bytes with 256 centroids instead of 4 D bytes as float32. The ImageNet 2011
winner stored its Fisher vectors this way and decoded them on the fly while training the
linear SVMs (Sanchez & Perronnin, CVPR 2011). `decode` gives the reconstruction the classifier
then sees; the squared error of every piece is its distance to the nearest centroid.

A 20,480-value Fisher vector at one byte per 8 values has 2,560 pieces: one scikit-learn `KMeans`
per piece took ~0.3 s each here (13 minutes), so the pieces' k-means run together instead, as
batched Lloyd iterations over groups of pieces (one batched product per group and iteration).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..errors import InputError
from ._images import check_int

_SCORES_BYTES = 64 * 2**20  # bound on one block of (piece, vector, centroid) float32 distances


class ProductQuantizer(BaseEstimator):
    """Learn per-piece k-means codebooks, then encode float vectors as small integer codes.

    Parameters
    ----------
    n_subvectors : int
        m: pieces per vector (must divide its length).
    n_centroids : int
        Centroids per piece (<= 256 gives one byte per piece, <= 65536 two).
    kmeans_iter : int
        Lloyd iterations of each piece's k-means (started from distinct random training pieces;
        a centroid left without points keeps its place).
    random_state : int or None

    Learned attributes: `codebooks_` float32 (m, n_centroids, D / m), `n_features_in_`.
    """

    def __init__(self, *, n_subvectors: int = 64, n_centroids: int = 256, kmeans_iter: int = 20,
                 random_state: int | None = None) -> None:
        self.n_subvectors = n_subvectors
        self.n_centroids = n_centroids
        self.kmeans_iter = kmeans_iter
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> "ProductQuantizer":
        """Learn one codebook per piece from the rows of X (N, D)."""
        data = self._check_vectors(X)
        owner = type(self).__name__
        m = check_int(owner, "n_subvectors", self.n_subvectors, 1)
        k = check_int(owner, "n_centroids", self.n_centroids, 1, 65536)
        check_int(owner, "kmeans_iter", self.kmeans_iter, 1)
        n, dims = data.shape
        if dims % m:
            raise InputError(f"{owner}: n_subvectors={m} must divide the vector length {dims}; "
                             f"choose a divisor of {dims}")
        if k > n:
            raise InputError(f"{owner}: n_centroids={k} is more than the {n} training vectors")
        rng = np.random.default_rng(self.random_state)
        pieces = data.reshape(n, m, dims // m).transpose(1, 0, 2)  # (m, n, sub) view
        codebooks = np.empty((m, k, dims // m), dtype=np.float32)
        group = _pieces_per_block(n, k)
        for start in range(0, m, group):
            stop = min(start + group, m)
            codebooks[start:stop] = _batched_kmeans(np.ascontiguousarray(pieces[start:stop]), k,
                                                    self.kmeans_iter, rng)
        self.codebooks_ = codebooks
        self.n_features_in_ = dims
        return self

    @property
    def code_dtype(self) -> type:
        return np.uint8 if self.n_centroids <= 256 else np.uint16

    @property
    def bytes_per_vector(self) -> int:
        return self.n_subvectors * np.dtype(self.code_dtype).itemsize

    def encode(self, X: Any) -> np.ndarray:
        """Codes (N, m) uint8 (uint16 above 256 centroids): the nearest centroid of each piece."""
        check_is_fitted(self, "codebooks_")
        data = self._check_vectors(X)
        if data.shape[1] != self.n_features_in_:
            raise InputError(f"{type(self).__name__}: fitted on vectors of length {self.n_features_in_}, "
                             f"got length {data.shape[1]}")
        m, k, sub = self.codebooks_.shape
        codes = np.empty((len(data), m), dtype=self.code_dtype)
        rows = max(1, _SCORES_BYTES // (4 * m * k))
        for start in range(0, len(data), rows):
            pieces = data[start:start + rows].reshape(-1, m, sub).transpose(1, 0, 2)  # (m, n, sub)
            codes[start:start + rows] = _nearest(pieces, self.codebooks_).T
        return codes

    def decode(self, codes: Any) -> np.ndarray:
        """Reconstructions float32 (N, D) of codes (N, m)."""
        check_is_fitted(self, "codebooks_")
        codes = np.asarray(codes)
        m, k, sub = self.codebooks_.shape
        if codes.ndim != 2 or codes.shape[1] != m or codes.dtype.kind not in "ui":
            raise InputError(f"{type(self).__name__}: codes must be unsigned integers shaped (N, {m}), "
                             f"got {codes.dtype} {codes.shape}")
        if codes.size and codes.max() >= k:
            raise InputError(f"{type(self).__name__}: code {int(codes.max())} is out of range for {k} centroids")
        return self.codebooks_[np.arange(m), codes].reshape(len(codes), m * sub)

    def _check_vectors(self, X: Any) -> np.ndarray:
        data = np.asarray(X, dtype=np.float32)
        if data.ndim != 2 or len(data) == 0 or not np.isfinite(data).all():
            raise InputError(f"{type(self).__name__}: expected a non-empty finite 2-D array of vectors, "
                             f"got shape {data.shape}")
        return data


def _pieces_per_block(n_vectors: int, n_centroids: int) -> int:
    """How many pieces' distance blocks (n_vectors x n_centroids float32) fit in _SCORES_BYTES."""
    return max(1, _SCORES_BYTES // (4 * n_vectors * n_centroids))


def _nearest(pieces: np.ndarray, codebooks: np.ndarray) -> np.ndarray:
    """Index (g, n) of the nearest centroid of codebooks (g, k, sub) for each of pieces (g, n, sub)."""
    # argmin |x - c|^2 = argmin (|c|^2 - 2 x.c), one batched product over the pieces
    scores = np.matmul(pieces, codebooks.transpose(0, 2, 1))  # (g, n, k)
    scores *= np.float32(-2.0)
    scores += np.einsum("gkd,gkd->gk", codebooks, codebooks)[:, None, :]
    return scores.argmin(axis=2)


def _batched_kmeans(pieces: np.ndarray, k: int, n_iter: int, rng: np.random.Generator) -> np.ndarray:
    """Lloyd's k-means run on g pieces at once: pieces (g, n, sub) float32 -> centroids (g, k, sub)."""
    g, n, sub = pieces.shape
    start = np.stack([rng.choice(n, size=k, replace=False) for _ in range(g)])  # (g, k)
    centroids = np.take_along_axis(pieces, start[:, :, None], axis=1)
    slot_base = (np.arange(g) * k)[:, None]
    for _ in range(n_iter):
        slots = (_nearest(pieces, centroids) + slot_base).ravel()
        counts = np.bincount(slots, minlength=g * k).reshape(g, k)
        sums = np.stack([np.bincount(slots, weights=pieces[:, :, d].ravel(), minlength=g * k)
                         for d in range(sub)], axis=1).reshape(g, k, sub)
        filled = counts > 0
        centroids[filled] = (sums[filled] / counts[filled][:, None]).astype(np.float32)
    return centroids
