"""Dense SIFT and local colour statistics: values against direct per-patch loops, invariances, glyphs."""

from __future__ import annotations

import numpy as np
import pytest

from featpipe.features.color_stats import local_color_stats
from featpipe.features.sift import dense_sift, sift_glyph


def reference_sift(image: np.ndarray, cell_size: int, stride: int, root: bool) -> np.ndarray:
    """Lowe's descriptor written out patch by patch, from float64 gradients and arctan2 angles."""
    planes = image.astype(np.float64)
    height, width, _ = planes.shape
    g_row = np.zeros_like(planes)
    g_col = np.zeros_like(planes)
    g_row[1:-1] = planes[2:] - planes[:-2]
    g_col[:, 1:-1] = planes[:, 2:] - planes[:, :-2]
    magnitude = np.hypot(g_row, g_col)
    best = np.argmax(magnitude, axis=2)[..., None]  # first channel on ties
    g_row = np.take_along_axis(g_row, best, 2)[..., 0]
    g_col = np.take_along_axis(g_col, best, 2)[..., 0]
    magnitude = np.take_along_axis(magnitude, best, 2)[..., 0]
    position = (np.degrees(np.arctan2(g_row, g_col)) % 360.0) / 45.0
    patch = 4 * cell_size
    centre = (patch - 1) / 2
    descriptors = []
    for top in range(0, height - patch + 1, stride):
        for left in range(0, width - patch + 1, stride):
            hist = np.zeros((4, 4, 8))
            for y in range(patch):
                for x in range(patch):
                    weight = np.exp(-((y - centre) ** 2 + (x - centre) ** 2) / (2 * (patch / 2) ** 2))
                    vote = weight * magnitude[top + y, left + x]
                    low = int(np.floor(position[top + y, left + x])) % 8
                    share = position[top + y, left + x] - np.floor(position[top + y, left + x])
                    hist[y // cell_size, x // cell_size, low] += vote * (1 - share)
                    hist[y // cell_size, x // cell_size, (low + 1) % 8] += vote * share
            v = hist.ravel()
            if np.linalg.norm(v) > 0:
                v = np.minimum(v / np.linalg.norm(v), 0.2)
                v = v / np.linalg.norm(v)
                if root:
                    v = np.sqrt(v / v.sum())
            descriptors.append(v)
    return np.array(descriptors)


@pytest.mark.parametrize("cell_size, stride, root", [(2, 3, False), (3, 5, True), (4, 8, False)])
def test_sift_equals_per_patch_reference(cell_size, stride, root, photo_tiles):
    images = photo_tiles[[0, 5, 9]]
    ours, centres = dense_sift(images, cell_size, stride, root)
    n_positions = (32 - 4 * cell_size) // stride + 1
    assert ours.dtype == np.float32 and ours.shape == (3, n_positions ** 2, 128)
    assert centres.shape == (n_positions ** 2, 2)
    np.testing.assert_allclose(centres[1], [(4 * cell_size - 1) / 2, (4 * cell_size - 1) / 2 + stride])
    for image, descriptors in zip(images, ours):
        np.testing.assert_allclose(descriptors, reference_sift(image, cell_size, stride, root), rtol=0, atol=2e-6)


def test_sift_of_gray_images_and_flat_patches(rng):
    gray = rng.integers(0, 256, size=(2, 20, 20, 1), dtype=np.uint8)
    ours, _ = dense_sift(gray, 2, 2)
    np.testing.assert_allclose(ours[1], reference_sift(gray[1], 2, 2, False), rtol=0, atol=2e-6)
    flat, _ = dense_sift(np.full((1, 16, 16, 3), 77, dtype=np.uint8), 2, 4, root=True)
    assert np.all(flat == 0)  # no gradient: a zero descriptor, not NaN


def test_sift_unit_norms(photo_tiles):
    plain, _ = dense_sift(photo_tiles, 2, 2)
    norms = np.linalg.norm(plain, axis=2)
    textured = norms > 0
    np.testing.assert_allclose(norms[textured], 1.0, rtol=1e-5)
    assert plain.min() >= 0 and plain.max() <= 1
    root, _ = dense_sift(photo_tiles, 2, 2, root=True)
    np.testing.assert_allclose((root ** 2).sum(axis=2)[textured], 1.0, rtol=1e-5)  # L1 of the squares


def test_sift_ignores_a_brightness_shift(rng, make_smooth):
    images = (make_smooth(rng, 4, 24, 24) * 0.6).astype(np.uint8)  # 0..153, room to brighten
    base, _ = dense_sift(images, 2, 2)
    shifted, _ = dense_sift(images + np.uint8(60), 2, 2)
    np.testing.assert_array_equal(shifted, base)


def test_sift_ignores_a_contrast_change(rng, make_smooth):
    images = (make_smooth(rng, 4, 24, 24) // 2).astype(np.uint8)  # 0..127: doubling stays exact
    base, _ = dense_sift(images, 3, 2, root=True)
    stretched, _ = dense_sift(images * np.uint8(2), 3, 2, root=True)
    np.testing.assert_allclose(stretched, base, rtol=0, atol=1e-6)


def test_sift_glyph_draws_the_strongest_bin_as_a_ray():
    descriptor = np.zeros((4, 4, 8))
    descriptor[0, 3, 0] = 1.0  # top-right cell, gradient pointing right (+col)
    glyph = sift_glyph(descriptor.ravel(), cell_pixels=11)
    assert glyph.shape == (44, 44) and glyph.dtype == np.float32
    rows, cols = np.nonzero(glyph)
    assert set(rows) == {5} and cols.min() == 3 * 11 + 5 and cols.max() == 3 * 11 + 10
    assert not sift_glyph(np.zeros(128)).any()


def reference_color_stats(image: np.ndarray, cell_size: int, stride: int, space: str) -> np.ndarray:
    values = image.astype(np.float64) / 255.0
    if space == "opponent":
        r, g, b = values[..., 0], values[..., 1], values[..., 2]
        values = np.stack([(r - g) / np.sqrt(2), (r + g - 2 * b) / np.sqrt(6), (r + g + b) / np.sqrt(3)], axis=2)
    patch = 4 * cell_size
    out = []
    for top in range(0, image.shape[0] - patch + 1, stride):
        for left in range(0, image.shape[1] - patch + 1, stride):
            cells = []
            for i in range(4):
                for j in range(4):
                    pixels = values[top + i * cell_size:top + (i + 1) * cell_size,
                                    left + j * cell_size:left + (j + 1) * cell_size].reshape(-1, values.shape[2])
                    cells.append(np.concatenate([pixels.mean(axis=0), pixels.std(axis=0)]))
            out.append(np.concatenate(cells))
    return np.array(out)


@pytest.mark.parametrize("space", ["rgb", "opponent"])
@pytest.mark.parametrize("cell_size, stride", [(2, 2), (3, 4)])
def test_color_stats_equal_per_patch_reference(space, cell_size, stride, photo_tiles):
    images = photo_tiles[[1, 7]]
    ours, centres = local_color_stats(images, cell_size, stride, space)
    n_positions = (32 - 4 * cell_size) // stride + 1
    assert ours.dtype == np.float32 and ours.shape == (2, n_positions ** 2, 96) and len(centres) == n_positions ** 2
    for image, descriptors in zip(images, ours):
        # std from E[x^2] - E[x]^2 in float32: absolute error ~1e-4 where the std is near 0
        np.testing.assert_allclose(descriptors, reference_color_stats(image, cell_size, stride, space), rtol=0, atol=3e-4)
