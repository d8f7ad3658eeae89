"""Tiny image batches for the feature tests: random noise, smooth synthetic scenes, real photo tiles."""

from __future__ import annotations

import numpy as np
import pytest


def smooth_images(rng: np.random.Generator, n: int, height: int, width: int, channels: int = 3) -> np.ndarray:
    """Real-looking images: bilinear upsampling of coarse random colour grids plus a little noise."""
    coarse = rng.uniform(0, 255, size=(n, 5, 5, channels))
    rows = np.linspace(0, 4, height)
    cols = np.linspace(0, 4, width)
    r0 = np.minimum(rows.astype(int), 3)
    c0 = np.minimum(cols.astype(int), 3)
    fr = (rows - r0)[None, :, None, None]
    fc = (cols - c0)[None, None, :, None]
    top = coarse[:, r0][:, :, c0] * (1 - fc) + coarse[:, r0][:, :, c0 + 1] * fc
    bottom = coarse[:, r0 + 1][:, :, c0] * (1 - fc) + coarse[:, r0 + 1][:, :, c0 + 1] * fc
    image = top * (1 - fr) + bottom * fr + rng.normal(0, 3, size=(n, height, width, channels))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def make_smooth():
    """The `smooth_images(rng, n, height, width, channels=3)` factory, for tests needing other sizes."""
    return smooth_images


@pytest.fixture
def random_images(rng) -> np.ndarray:
    return rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)


@pytest.fixture
def smooth(rng) -> np.ndarray:
    return smooth_images(rng, 6, 32, 32)


@pytest.fixture(scope="session")
def photo_tiles() -> np.ndarray:
    """Twelve 32x32 tiles cut from photographs bundled with scikit-image (no download)."""
    from skimage import data
    from skimage.transform import resize

    tiles = []
    for image in (data.astronaut(), data.chelsea(), data.coffee()):
        small = (resize(image, (128, 128), anti_aliasing=True) * 255).round().astype(np.uint8)
        tiles.extend(small[r:r + 32, c:c + 32] for r, c in ((0, 0), (40, 48), (90, 20), (64, 96)))
    return np.stack(tiles)
