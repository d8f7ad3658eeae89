"""Fused dense encoding for the bag of visual words: distances, activation and pooling per cache-sized block.

The direct way to encode a chunk of images builds the whole (patches x words) distance matrix and
then walks it with half a dozen elementwise passes, each one a round trip to main memory (16,384 x
1,600 float32 is 105 MB). Here every block of `BLOCK_ROWS` patches goes through one matrix product
and its elementwise steps while it is still in cache, and is pooled at once into its images'
regions, so the (patches x words) matrix never exists. Two tricks keep the passes few:

- the squared norms ride inside the product: with x' = [x, ||x||^2, 1] and c' = [-2c, 1, ||c||^2]
  the product x'.c' is the squared distance ||x - c||^2 itself;
- the patches of each image are reordered so that each pooling region (a quadrant, or a cell of
  the 3x3 grid) is one contiguous run of rows, cut into blocks that never straddle two regions,
  so a block is pooled by one matrix-vector product.

Chunks of images are spread over worker threads with BLAS held to one thread each: numpy's
elementwise passes are single-threaded, so threads over chunks use every core for the whole
pipeline where BLAS threads would only parallelize the product.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from ._images import chunk_starts

#: Most patches per fused block. At 256, each pooling region of a 32x32 image's 27x27 positions
#: (169-196 rows) is one block. Measured 2026-12-01 (AMD EPYC, AVX2, one thread, K=1600, quiet,
#: a scratch timing of PatchEncoder.encode on 1,000 images, best of 3): 100 rows (the
#: old value, chosen on a Xeon) 44-49% of the 2048^3 SGEMM rate, 196-256 rows 51-54%.
BLOCK_ROWS = 256
REGIONS = {"global": 1, "quadrants": 4, "pyramid": 5, "grid3": 9}
#: Side of the grid of regions each pooling sums over first ("global" and "pyramid" add up quadrants).
GRID = {"global": 2, "quadrants": 2, "pyramid": 2, "grid3": 3}


def quadrant_order(rows: int, cols: int, grid: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Patch positions sorted by region (stable) and the number of positions in each region.

    A position (r, c) in the rows x cols grid belongs to region (grid r // rows) * grid +
    (grid c // cols) of the grid x grid regions (grid=2: the quadrants of the direct implementation).
    """
    region = ((np.arange(rows) * grid // rows)[:, None] * grid + (np.arange(cols) * grid // cols)[None, :]).ravel()
    return np.argsort(region, kind="stable"), np.bincount(region, minlength=grid * grid)


def dense_patches(images: np.ndarray, size: int, stride: int,
                  order: np.ndarray | None = None) -> tuple[np.ndarray, int, int]:
    """All size x size patches at `stride` as float32 (N * rows * cols, size*size*C) rows, plus rows, cols.

    Patch vectors are in (row, col, channel) order; patches of one image are consecutive, in
    raster order of their top-left positions, or in the position `order` given.
    """
    windows = sliding_window_view(images, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    n_images, rows, cols = windows.shape[:3]
    # windows is (N, rows, cols, C, size, size): copying the uint8 view into the (row, col, channel)
    # layout first, reordering it and converting last is ~3x faster than converting the strided view.
    patches = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n_images, rows * cols, -1)
    if order is not None:
        patches = np.take(patches, order, axis=1)
    return patches.reshape(n_images * rows * cols, -1).astype(np.float32), rows, cols


def normalize_patches(patches: np.ndarray, eps: float) -> np.ndarray:
    """Per-patch brightness/contrast normalization in place: (x - mean) / sqrt(var + eps)."""
    patches -= patches.mean(axis=1, keepdims=True)
    variance = np.einsum("ij,ij->i", patches, patches) / np.float32(patches.shape[1])
    patches /= np.sqrt(variance + np.float32(eps))[:, None]
    return patches


class PatchEncoder:
    """Encodes and pools the dense patches of image chunks against one codebook (one patch size).

    Parameters
    ----------
    size, stride : int
        Patch side and step between patch positions.
    normalize_eps : float
        Added to each patch's variance before dividing (0..255 scale).
    mean, zca : float32 ndarray or None
        Whitening mean (D,) and matrix (D, D), or None for no whitening.
    codebook : float32 ndarray (K, D)
    encoding : {"hard", "triangle"}
    pooling : {"global", "quadrants", "pyramid", "grid3"}
    """

    def __init__(self, size: int, stride: int, normalize_eps: float, mean: np.ndarray | None,
                 zca: np.ndarray | None, codebook: np.ndarray, encoding: str, pooling: str,
                 block_rows: int = BLOCK_ROWS) -> None:
        self.size, self.stride, self.normalize_eps = size, stride, normalize_eps
        self.mean, self.zca = mean, zca
        self.encoding, self.pooling, self.block_rows = encoding, pooling, block_rows
        codebook = np.asarray(codebook, dtype=np.float32)
        self.n_words, dims = codebook.shape
        # c' = [-2c, 1, ||c||^2] as a (D + 2, K) matrix, so that [x, ||x||^2, 1] @ c' = ||x - c||^2
        augmented = np.empty((dims + 2, self.n_words), dtype=np.float32)
        augmented[:dims] = -2.0 * codebook.T
        augmented[dims] = 1.0
        augmented[dims + 1] = np.einsum("ij,ij->i", codebook, codebook)
        self.codebook_t = augmented

    @property
    def n_features(self) -> int:
        return REGIONS[self.pooling] * self.n_words

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Pooled codes (N, regions * K) float32 of one chunk of images."""
        n_images, grid = len(images), GRID[self.pooling]
        order, counts = quadrant_order(*self._grid(images.shape), grid)
        patches, _, _ = dense_patches(images, self.size, self.stride, order)
        normalize_patches(patches, self.normalize_eps)
        augmented = self._augment(patches)
        pooled = np.zeros((n_images * grid * grid, self.n_words), dtype=np.float32)
        pool = self._pool_hard if self.encoding == "hard" else self._pool_triangle
        pool(augmented, self._blocks(n_images, counts), pooled)
        if self.pooling in ("quadrants", "grid3"):
            return pooled.reshape(n_images, -1)
        quadrants = pooled.reshape(n_images, 4, self.n_words)
        total = quadrants.sum(axis=1)
        if self.pooling == "global":
            return total
        return np.concatenate([total, quadrants.reshape(n_images, -1)], axis=1)

    def _grid(self, shape: tuple) -> tuple[int, int]:
        """Rows and columns of patch positions in images of `shape` (N, H, W, C)."""
        return (shape[1] - self.size) // self.stride + 1, (shape[2] - self.size) // self.stride + 1

    def _augment(self, patches: np.ndarray) -> np.ndarray:
        """[whitened x, ||x||^2, 1] rows (n, D + 2) float32."""
        dims = patches.shape[1]
        augmented = np.empty((len(patches), dims + 2), dtype=np.float32)
        if self.zca is not None:
            patches -= self.mean
            np.matmul(patches, self.zca, out=augmented[:, :dims])
        else:
            augmented[:, :dims] = patches
        augmented[:, dims] = np.einsum("ij,ij->i", augmented[:, :dims], augmented[:, :dims])
        augmented[:, dims + 1] = 1.0
        return augmented

    def _blocks(self, n_images: int, counts: np.ndarray) -> list[tuple[int, int, int]]:
        """(first row, stop row, pooled row) of each block: every block lies inside one region of one image.

        Each image's run of rows of one region is cut into the fewest nearly equal blocks of at most
        `block_rows` rows, so a block pools into a single (image, quadrant) row with one product.
        """
        one_image, start, n_regions = [], 0, len(counts)
        for region, count in enumerate(counts.tolist()):
            edges = np.linspace(start, start + count, -(-count // self.block_rows) + 1).round().astype(int).tolist()
            one_image.extend((a, b, region) for a, b in zip(edges[:-1], edges[1:]))
            start += count
        return [(a + image * start, b + image * start, image * n_regions + region)
                for image in range(n_images) for a, b, region in one_image]

    def _pool_triangle(self, augmented: np.ndarray, blocks: list, pooled: np.ndarray) -> None:
        """pooled[region] += sum over the region's patches of max(0, mean_k(z) - z_k)."""
        buffer = np.empty((self.block_rows, self.n_words), dtype=np.float32)
        zeros = np.zeros_like(buffer)  # same-shape operands take numpy's fast loops, broadcasts do not
        ones_words = np.ones(self.n_words, dtype=np.float32)
        ones_rows = np.ones(self.block_rows, dtype=np.float32)
        inverse_k = np.float32(1.0 / self.n_words)
        for start, stop, region in blocks:
            n = stop - start
            z = buffer[:n]
            np.matmul(augmented[start:stop], self.codebook_t, out=z)  # squared distances
            # a squared distance can come out a rounding error below zero: |d| is as close to the
            # truth as max(d, 0) and takes a faster loop
            np.abs(z, out=z)
            np.sqrt(z, out=z)
            mean = z @ ones_words
            mean *= inverse_k
            np.subtract(mean[:, None], z, out=z)  # mean(z) - z_k
            np.maximum(z, zeros[:n], out=z)
            pooled[region] += ones_rows[:n] @ z

    def _pool_hard(self, augmented: np.ndarray, blocks: list, pooled: np.ndarray) -> None:
        """pooled[region, k] += the number of the region's patches whose nearest word is k."""
        buffer = np.empty((self.block_rows, self.n_words), dtype=np.float32)
        for start, stop, region in blocks:
            z = buffer[:stop - start]
            np.matmul(augmented[start:stop], self.codebook_t, out=z)
            pooled[region] += np.bincount(z.argmin(axis=1), minlength=self.n_words)


def encode_images(encoder: PatchEncoder, images: np.ndarray, chunk_size: int, n_jobs: int, desc: str) -> np.ndarray:
    """Pooled codes (N, encoder.n_features) of all `images`, chunk by chunk on `n_jobs` threads."""
    out = np.empty((len(images), encoder.n_features), dtype=np.float32)

    def run(bounds: tuple[int, int]) -> None:
        start, stop = bounds
        out[start:stop] = encoder.encode(images[start:stop])

    chunks = chunk_starts(len(images), chunk_size, desc)
    # BLAS threads on these small blocks only add synchronization: one thread per worker always
    with threadpool_limits(limits=1, user_api="blas"):
        if n_jobs <= 1:
            for bounds in chunks:
                run(bounds)
            return out
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            # at most 2 chunks queued per worker, so the progress bar follows the real progress
            pending = []
            for bounds in chunks:
                pending.append(pool.submit(run, bounds))
                if len(pending) >= 2 * n_jobs:
                    pending.pop(0).result()
            for future in pending:
                future.result()
    return out
