"""The ImageNet 2011 winner's features: dense SIFT and colour descriptors -> PCA -> GMM -> Fisher vectors.

Perronnin, Sanchez & Mensink (ECCV 2010) and Sanchez, Perronnin, Mensink & Verbeek (IJCV 2013):
local descriptors on a dense multi-scale grid, reduced by PCA, soft-assigned to a diagonal
Gaussian mixture, encoded as improved Fisher vectors pooled over a spatial pyramid, one Fisher
vector per descriptor type, concatenated. `fit` learns one PCA and one GMM per descriptor type
from a random sample of descriptors; `transform` encodes a chunk of images at a time, with the
projection, the posteriors and the moment sums as matrix products over the whole chunk.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from pydantic import Field, StrictBool, field_validator, model_validator
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted

from ..errors import InputError
from ..settings import Float, Int, IntPair, Section, Sizes, choice
from ._base import ImageFeatureExtractor
from ._images import check_int, check_min_size, chunk_starts
from .color_stats import SPACES, _OPPONENT, color_planes, color_stats_dims, local_color_stats
from .dense_grid import CELLS, DenseGrid
from .fisher import CHUNK_IMAGES, fisher_coefficients, fisher_dims, fisher_from_moments, power_l2
from .mixture_stats import (Pyramid, fill_squares, log_likelihood_matrix, mixture_centre, mixture_moments,
                            nearest_mean_matrix, pyramid_regions, stacked_buffer)
from .sift import SIFT_DIMS, dense_sift, orientation_maps, sift_glyph
from .vlad import vlad_from_moments

DESCRIPTORS = ("sift", "color")
ENCODINGS = ("fisher", "vlad")
_DESCRIPTOR_DIMS_RGB = {"sift": SIFT_DIMS, "color": color_stats_dims(3)}
_WHITEN_EPS = 1e-6  # relative to the largest PCA eigenvalue


class FisherSettings(Section):
    """Dense SIFT / colour descriptors, PCA and a diagonal GMM, encoded as Fisher vectors (or VLAD)."""

    descriptors: list[choice(DESCRIPTORS)] = Field(["sift", "color"], description="descriptor types, one Fisher vector each")
    cell_size: Sizes = Field([2, 3], description="pixels per cell of the 4x4-cell patches; a list gives several scales")
    stride: Int = Field(2, ge=1, description="pixels between neighbouring patches")
    root_sift: StrictBool = Field(True, description="Hellinger mapping of SIFT (L1-normalize, square root)")
    color_space: choice(SPACES) = "rgb"
    pca_dims: Int = Field(32, ge=1, description="PCA dimensions per descriptor type")
    whiten: StrictBool = Field(False, description="divide each PCA dimension by its standard deviation")
    n_components: Int = Field(32, ge=1, description="GMM components K per descriptor type")
    n_samples: Int = Field(200_000, ge=2, description="random descriptors per type to fit PCA and the GMM")
    gmm_iter: Int = Field(100, ge=1, description="maximum EM iterations")
    reg_covar: Float = Field(1e-4, gt=0, description="added to every GMM variance (PCA-space units)")
    encoding: choice(ENCODINGS) = "fisher"
    include_weights: StrictBool = Field(False, description="fisher: include the K mixture-weight gradients")
    improved: StrictBool = Field(True, description="signed power and L2 normalization of every pyramid region")
    power: Float = Field(0.5, gt=0, le=1, description="exponent of the signed power normalization")
    pyramid: list[IntPair] = Field([(1, 1), (2, 2)], description="spatial pyramid levels (rows, cols) of the patch grid")


    @field_validator("descriptors", "pyramid")
    @classmethod
    def _non_empty(cls, value):
        if not value:
            raise ValueError("expected a non-empty list")
        if len(set(value)) != len(value):
            raise ValueError(f"lists {value} more than once")
        return value

    @model_validator(mode="after")
    def _dimensions_fit(self):
        for kind in self.descriptors:
            if self.pca_dims > _DESCRIPTOR_DIMS_RGB[kind]:
                raise ValueError(
                    f"pca_dims={self.pca_dims} is more than the {_DESCRIPTOR_DIMS_RGB[kind]} dimensions of the "
                    f"{kind!r} descriptor{' (RGB)' if kind == 'color' else ''}; use pca_dims <= {_DESCRIPTOR_DIMS_RGB[kind]}"
                )
        if self.n_components > self.n_samples:
            raise ValueError(f"n_components={self.n_components} is more than n_samples={self.n_samples}: "
                             "the GMM needs at least one descriptor per component")
        return self


class FisherVectors(ImageFeatureExtractor):
    """Improved Fisher vectors (or VLAD) of dense SIFT and local colour statistics, over a spatial pyramid.

    Parameters
    ----------
    descriptors : list of {"sift", "color"}
        Descriptor types; each gets its own PCA, GMM and Fisher vector, concatenated in this order.
    cell_size : int or list of int
        Cell side in pixels of the 4 x 4-cell patches (patch side 4 * cell_size); several sizes
        describe several scales, pooled into the same GMM.
    stride : int
        Pixels between neighbouring patches.
    root_sift : bool
        Root-SIFT (Hellinger) mapping of the SIFT descriptors.
    color_space : {"rgb", "opponent"}
        Space of the colour statistics ("opponent" needs RGB images).
    pca_dims : int
        PCA dimensions D per descriptor type (at most the descriptor's length).
    whiten : bool
        Scale PCA dimensions to unit variance.
    n_components : int
        GMM components K per descriptor type.
    n_samples : int
        Random descriptors (per type) the PCA and GMM are fitted on.
    gmm_iter, reg_covar : int, float
        GaussianMixture's max_iter and reg_covar (diagonal covariances, k-means initialization).
    encoding : {"fisher", "vlad"}
        Fisher vectors (2KD values per region, + K with `include_weights`) or VLAD (KD values
        per region, nearest GMM mean, Jegou et al. 2010).
    include_weights : bool
        Fisher: also the gradients with respect to the mixture weights.
    improved : bool
        Signed power (`power`) and L2 normalization of each (descriptor type, region) block; the
        concatenation is then divided by sqrt(number of blocks), so it has unit norm.
        False keeps the raw Fisher-information-normalized gradients.
    power : float
        Exponent of the signed power normalization (0.5: signed square root).
    pyramid : list of (rows, cols)
        Spatial pyramid levels over the patch grid: patch (i, j) of an r x c grid is in region
        (floor(i * rows / r), floor(j * cols / c)) of a level.
    chunk_size : int
        Images encoded at once.
    random_state : int or None
        Seeds descriptor sampling, k-means and EM.

    Learned attributes (lists with one entry per descriptor type): `pca_mean_` float32 (d,),
    `pca_components_` float32 (D, d) (rows scaled by 1/std when whitening: x -> (x - mean) @ C.T),
    `pca_variances_` float64 (D,), `gmm_weights_` (K,), `gmm_means_` and `gmm_covariances_`
    (K, D) float64 (the arrays of the fitted GaussianMixture), and `n_features_out_`.
    """

    CODE_VERSION = 1
    Settings = FisherSettings

    def __init__(self, *, descriptors: Any = ("sift", "color"), cell_size: Any = (2, 3), stride: int = 2,
                 root_sift: bool = True, color_space: str = "rgb", pca_dims: int = 32, whiten: bool = False,
                 n_components: int = 32, n_samples: int = 200_000, gmm_iter: int = 100, reg_covar: float = 1e-4,
                 encoding: str = "fisher", include_weights: bool = False, improved: bool = True,
                 power: float = 0.5, pyramid: Any = ((1, 1), (2, 2)), chunk_size: int = 64,
                 random_state: int | None = None) -> None:
        self.descriptors = descriptors
        self.cell_size = cell_size
        self.stride = stride
        self.root_sift = root_sift
        self.color_space = color_space
        self.pca_dims = pca_dims
        self.whiten = whiten
        self.n_components = n_components
        self.n_samples = n_samples
        self.gmm_iter = gmm_iter
        self.reg_covar = reg_covar
        self.encoding = encoding
        self.include_weights = include_weights
        self.improved = improved
        self.power = power
        self.pyramid = pyramid
        self.chunk_size = chunk_size
        self.random_state = random_state

    # ------------------------------------------------------------------ settings

    def _check_settings(self, images: np.ndarray) -> None:
        owner = self._owner()
        settings = self.settings()
        check_int(owner, "chunk_size", self.chunk_size, 1)
        if self.random_state is not None:
            check_int(owner, "random_state", self.random_state, 0)
        sizes = _sizes(settings.cell_size)
        largest = CELLS * max(sizes)
        check_min_size(images, largest, largest, owner,
                       f"cell_size={max(sizes)} (one descriptor of 4x4 cells of {max(sizes)} pixels)")
        coarsest = DenseGrid(images.shape[1:3], max(sizes), settings.stride).shape
        for rows, cols in settings.pyramid:
            if rows > coarsest[0] or cols > coarsest[1]:
                raise InputError(
                    f"{owner}: pyramid level {[rows, cols]} is finer than the {coarsest[0]}x{coarsest[1]} patch grid "
                    f"of cell_size={max(sizes)}, stride={settings.stride} on {images.shape[1]}x{images.shape[2]} "
                    f"images (some regions would hold no descriptor); use at most {list(coarsest)} rows and cols"
                )
        n_channels = images.shape[3]
        if "color" in settings.descriptors:
            if settings.color_space == "opponent" and n_channels != 3:
                raise InputError(f"{owner}: color_space='opponent' needs RGB images (3 channels); these have {n_channels}")
            dims = color_stats_dims(n_channels)
            if settings.pca_dims > dims:
                raise InputError(
                    f"{owner}: pca_dims={settings.pca_dims} is more than the {dims} dimensions of the 'color' "
                    f"descriptor of {n_channels}-channel images; use pca_dims <= {dims}"
                )
        available = len(images) * sum(DenseGrid(images.shape[1:3], s, settings.stride).n_patches for s in sizes)
        if available < settings.n_components:
            raise InputError(
                f"{owner}: n_components={settings.n_components} is more than the {available} descriptors of these "
                f"{len(images)} images; use fewer components, more images or a smaller stride"
            )

    # ------------------------------------------------------------------ fit

    def _fit_images(self, images: np.ndarray) -> None:
        settings = self.settings()
        rng = np.random.default_rng(self.random_state)
        sample_images = self._sample_images(images, settings, rng)
        self.pca_mean_, self.pca_components_, self.pca_variances_ = [], [], []
        self.gmm_weights_, self.gmm_means_, self.gmm_covariances_ = [], [], []
        for kind in settings.descriptors:
            descriptors = self._descriptors(sample_images, kind, settings)
            descriptors = descriptors.reshape(-1, descriptors.shape[2])
            if len(descriptors) > settings.n_samples:
                descriptors = descriptors[rng.choice(len(descriptors), settings.n_samples, replace=False)]
            mean, components, variances = _pca(descriptors, settings.pca_dims, settings.whiten)
            projected = (descriptors - mean) @ components.T
            gmm = _fit_gmm(projected, settings, int(rng.integers(2**31 - 1)), kind, self._owner())
            self.pca_mean_.append(mean)
            self.pca_components_.append(components)
            self.pca_variances_.append(variances)
            self.gmm_weights_.append(gmm.weights_)
            self.gmm_means_.append(gmm.means_)
            self.gmm_covariances_.append(gmm.covariances_)
        per_region = self._dims_per_region(settings)
        self.n_features_out_ = int(len(settings.descriptors) * _n_regions(settings.pyramid) * per_region)

    def _sample_images(self, images: np.ndarray, settings: FisherSettings, rng: np.random.Generator) -> np.ndarray:
        """Enough random images to draw `n_samples` descriptors from about twice as many."""
        per_image = sum(DenseGrid(images.shape[1:3], s, settings.stride).n_patches for s in _sizes(settings.cell_size))
        wanted = min(len(images), -(-2 * settings.n_samples // per_image))
        return images[np.sort(rng.choice(len(images), wanted, replace=False))]

    def _descriptors(self, images: np.ndarray, kind: str, settings: FisherSettings) -> np.ndarray:
        """All descriptors of one type for a batch, chunk by chunk: float32 (N, T, d)."""
        parts = [_describe(images[start:stop], kind, settings)[0]
                 for start, stop in chunk_starts(len(images), self.chunk_size, f"Fisher {kind} sample")]
        return np.concatenate(parts)

    def _dims_per_region(self, settings: FisherSettings) -> int:
        if settings.encoding == "vlad":
            return settings.n_components * settings.pca_dims
        return fisher_dims(settings.n_components, settings.pca_dims, settings.include_weights)

    # ------------------------------------------------------------------ transform

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        settings = self.settings()
        pyramid = _pyramid(images.shape[1:3], settings)
        n_blocks = len(settings.descriptors) * pyramid.n_regions
        per_type = pyramid.n_regions * self._dims_per_region(settings)
        out = np.empty((len(images), len(settings.descriptors) * per_type), dtype=np.float32)
        scale = 1.0 / np.sqrt(n_blocks)
        encoders = [self._encoder(k, pyramid, settings) for k in range(len(settings.descriptors))]
        for start, stop in chunk_starts(len(images), self.chunk_size, "Fisher vectors"):
            for k, kind in enumerate(settings.descriptors):
                descriptors, _ = _describe(images[start:stop], kind, settings, order=pyramid.order)
                # descriptors like chunks of 32-64 images, the encoding's buffers fit the L2 cache at 16
                for first in range(0, stop - start, CHUNK_IMAGES):
                    part = descriptors[first:first + CHUNK_IMAGES]
                    encoded = self._encode(part, k, pyramid, settings, encoders[k])
                    if settings.improved:
                        power_l2(encoded, settings.power, scale)
                    rows = slice(start + first, start + first + len(part))
                    out[rows, k * per_type:(k + 1) * per_type] = encoded.reshape(len(part), -1)
        return out

    def _encoder(self, k: int, pyramid: Pyramid, settings: FisherSettings) -> dict[str, Any]:
        """What encoding descriptors of type k needs, computed once per transform rather than per chunk.

        Descriptors are encoded centred on the mixture's mean (`mixture_centre`: exact float32
        moments), so the PCA mean and that centre are subtracted together, and the means shifted.
        """
        centre = mixture_centre(self.gmm_weights_[k], self.gmm_means_[k])
        means = np.asarray(self.gmm_means_[k], dtype=np.float64) - centre
        weights, variances = self.gmm_weights_[k], self.gmm_covariances_[k]
        fisher = settings.encoding == "fisher"
        return {
            "shift": (self.pca_components_[k] @ self.pca_mean_[k] + centre.astype(np.float32))[:, None],
            "means": means,
            "matrix": log_likelihood_matrix(weights, means, variances) if fisher else nearest_mean_matrix(means),
            "coefficients": fisher_coefficients(pyramid.counts, weights, means, variances) if fisher else None,
        }

    def _encode(self, descriptors: np.ndarray, k: int, pyramid: Pyramid, settings: FisherSettings,
                encoder: dict[str, Any]) -> np.ndarray:
        """Unnormalized (n, R, dims) encoding of one chunk's descriptors (n, T, d) of type k, in `pyramid.order`."""
        n_images, n_descriptors, dims = descriptors.shape
        flat = descriptors.reshape(n_images * n_descriptors, dims)
        # feature-major projection into the Y = [x; x^2; 1] buffer ([x; 1] for VLAD) mixture_moments takes
        soft = settings.encoding == "fisher"
        components = self.pca_components_[k]
        n_dims = len(components)
        stacked = stacked_buffer(n_dims, len(flat), second=soft)
        np.matmul(components, flat.T, out=stacked[:n_dims])
        stacked[:n_dims] -= encoder["shift"]
        if soft:
            fill_squares(stacked, n_dims)
        means = encoder["means"]
        moments = mixture_moments(stacked, n_images, pyramid, self.gmm_weights_[k], means,
                                  self.gmm_covariances_[k], soft=soft, matrix=encoder["matrix"])
        if not soft:
            return vlad_from_moments(*moments, means)
        return fisher_from_moments(*moments, pyramid.counts, self.gmm_weights_[k], means, self.gmm_covariances_[k],
                                   settings.include_weights, encoder["coefficients"])


# ----------------------------------------------------------------------------- pictures


def fisher_pictures(fitted: FisherVectors, n_components: int = 16) -> dict[str, np.ndarray]:
    """Pictures of what a fitted FisherVectors' mixture components look like, for a report.

    The `n_components` heaviest GMM means of each descriptor type are mapped back from PCA space
    to descriptor space (x = mean + mu @ components, undoing whitening) and drawn: SIFT means as
    glyphs (per cell, 8 rays whose lengths are the orientation-bin values; root-SIFT values are
    squared back to histograms), colour means as 4x4 cells of their mean colours (0..1 RGB).
    This shows what kinds of local structure the vocabulary of the Fisher vectors is made of.

    Returns
    -------
    {"sift": float32 (H, W) mosaic in [0, 1], "color": float32 (H, W, 3) mosaic in [0, 1]}, for
    the descriptor types the extractor uses; tiles are laid out in rows of 8, heaviest first.
    """
    check_is_fitted(fitted, "gmm_means_")
    settings = fitted.settings()
    pictures = {}
    for k, kind in enumerate(settings.descriptors):
        order = np.argsort(-np.asarray(fitted.gmm_weights_[k]), kind="stable")[:n_components]
        means = _to_descriptor_space(fitted, k, np.asarray(fitted.gmm_means_[k])[order])
        if kind == "sift":
            if settings.root_sift:
                means = np.maximum(means, 0.0) ** 2
            tiles = [sift_glyph(mean) for mean in means]
        else:
            tiles = [_color_tile(mean, settings.color_space) for mean in means]
        pictures[kind] = _mosaic(tiles)
    return pictures


def _to_descriptor_space(fitted: FisherVectors, k: int, points: np.ndarray) -> np.ndarray:
    components = np.asarray(fitted.pca_components_[k], dtype=np.float64)
    if fitted.whiten:
        components = components * np.sqrt(np.asarray(fitted.pca_variances_[k]))[:, None]
    return points @ components + fitted.pca_mean_[k]


def _color_tile(descriptor: np.ndarray, space: str, cell_pixels: int = 15) -> np.ndarray:
    """4x4 cells, each filled with the mean colour of its cell (standard deviations not shown)."""
    cells = descriptor.reshape(CELLS, CELLS, -1)
    n_channels = cells.shape[2] // 2
    mean = cells[..., :n_channels]
    if space == "opponent":
        mean = mean @ np.linalg.inv(_OPPONENT.astype(np.float64)).T
    if n_channels == 1:
        mean = np.repeat(mean, 3, axis=2)
    tile = np.repeat(np.repeat(np.clip(mean, 0.0, 1.0), cell_pixels, axis=0), cell_pixels, axis=1)
    return tile.astype(np.float32)


def _mosaic(tiles: list[np.ndarray], per_row: int = 8, gap: int = 2) -> np.ndarray:
    side = tiles[0].shape[0]
    n_rows = -(-len(tiles) // per_row)
    n_cols = min(per_row, len(tiles))
    shape = (n_rows * (side + gap) - gap, n_cols * (side + gap) - gap) + tiles[0].shape[2:]
    canvas = np.zeros(shape, dtype=np.float32)
    for index, tile in enumerate(tiles):
        row, col = divmod(index, per_row)
        canvas[row * (side + gap):row * (side + gap) + side, col * (side + gap):col * (side + gap) + side] = tile
    return canvas


# ----------------------------------------------------------------------------- helpers


def _sizes(cell_size: Any) -> list[int]:
    return list(cell_size) if isinstance(cell_size, (list, tuple)) else [cell_size]


def _n_regions(levels: list[tuple[int, int]]) -> int:
    return sum(rows * cols for rows, cols in levels)


def _describe(images: np.ndarray, kind: str, settings: FisherSettings,
              order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors (n, T, d) of one type at every scale, and each one's position in its grid as
    fractions (T, 2) in [0, 1) (row index / grid rows, col index / grid cols).

    With `order` (a permutation of the T descriptors, e.g. `Pyramid.order`), descriptor t of the
    output is descriptor order[t] of the scales concatenated (positions stay unsorted): the scales
    are copied straight to their sorted places, one copy instead of a concatenation and a gather.
    """
    parts, places = [], []
    # the per-pixel work (orientation maps, colour planes) is shared by every scale
    shared = orientation_maps(images) if kind == "sift" else color_planes(images, settings.color_space)
    for size in _sizes(settings.cell_size):
        if kind == "sift":
            descriptors, _ = dense_sift(images, size, settings.stride, settings.root_sift, maps=shared)
        else:
            descriptors, _ = local_color_stats(images, size, settings.stride, settings.color_space, planes=shared)
        parts.append(descriptors)
        places.append(_grid_fractions(DenseGrid(images.shape[1:3], size, settings.stride)))
    if order is None:
        return np.concatenate(parts, axis=1), np.concatenate(places)
    sorted_at = np.argsort(order)  # where each concatenated descriptor goes
    out = np.empty((len(images), len(order), parts[0].shape[2]), dtype=parts[0].dtype)
    offset = 0
    for part in parts:
        out[:, sorted_at[offset:offset + part.shape[1]]] = part
        offset += part.shape[1]
    return out, np.concatenate(places)


def _grid_fractions(grid: DenseGrid) -> np.ndarray:
    rows, cols = grid.shape
    r, c = np.meshgrid(np.arange(rows) / rows, np.arange(cols) / cols, indexing="ij")
    return np.stack([r.ravel(), c.ravel()], axis=1)


def _pyramid(image_hw: tuple[int, int], settings: FisherSettings) -> Pyramid:
    places = np.concatenate([_grid_fractions(DenseGrid(image_hw, size, settings.stride))
                             for size in _sizes(settings.cell_size)])
    return pyramid_regions(places, (1, 1), [tuple(level) for level in settings.pyramid])


def _pca(descriptors: np.ndarray, n_dims: int, whiten: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, the top `n_dims` principal axes (D, d) float32 (divided by their std if `whiten`) and their variances."""
    data = descriptors.astype(np.float64)
    mean = data.mean(axis=0)
    data -= mean
    covariance = data.T @ data / max(len(data) - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    top = np.argsort(eigenvalues)[::-1][:n_dims]
    variances = np.maximum(eigenvalues[top], 0.0)
    components = eigenvectors[:, top].T
    if whiten:
        components = components / np.sqrt(variances + _WHITEN_EPS * max(variances[0], 1e-30))[:, None]
    return mean.astype(np.float32), components.astype(np.float32), variances


def _fit_gmm(x: np.ndarray, settings: FisherSettings, seed: int, kind: str, owner: str) -> GaussianMixture:
    """A diagonal GaussianMixture fitted on `x`; InputError if EM does not converge or a component collapses."""
    gmm = GaussianMixture(n_components=settings.n_components, covariance_type="diag", max_iter=settings.gmm_iter,
                          reg_covar=settings.reg_covar, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported below as an error, with advice
        gmm.fit(x)
    if not gmm.converged_:
        raise InputError(
            f"{owner}: the GMM of the {kind!r} descriptors (n_components={settings.n_components}) did not converge "
            f"in gmm_iter={settings.gmm_iter} EM iterations; raise gmm_iter or use fewer components"
        )
    counts = gmm.weights_ * len(x)
    floor = np.all(gmm.covariances_ <= 1.5 * settings.reg_covar, axis=1)
    collapsed = np.flatnonzero((counts < 1.0) | floor)
    if len(collapsed):
        k = int(collapsed[0])
        raise InputError(
            f"{owner}: the GMM of the {kind!r} descriptors (n_components={settings.n_components}) collapsed "
            f"{len(collapsed)} component(s) (component {k}: weight {gmm.weights_[k]:.2g}, about {counts[k]:.1f} of "
            f"{len(x)} descriptors, largest variance {gmm.covariances_[k].max():.2g}); use fewer components, more "
            f"n_samples or a larger reg_covar={settings.reg_covar}"
        )
    return gmm
