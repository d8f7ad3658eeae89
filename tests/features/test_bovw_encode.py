"""The fused BoVW encoder against two independent references: the unfused whole-matrix computation
it replaced, and a per-patch loop; threads, blocks and chunks must not change the result."""

from __future__ import annotations

import numpy as np
import pytest

from featpipe.errors import InputError
from featpipe.features import BagOfVisualWords
from featpipe.features.bovw import dead_words
from featpipe.features.bovw_encode import PatchEncoder, encode_images, quadrant_order


def unfused_reference(images, size, stride, eps, mean, zca, codebook, encoding, pooling):
    """The whole (patches x words) matrix at once, in float64, pooled by the quadrant (or 3x3 grid) rule."""
    n, height, width, _ = images.shape
    rows, cols = (height - size) // stride + 1, (width - size) // stride + 1
    patches = np.stack([images[:, r * stride:r * stride + size, c * stride:c * stride + size].reshape(n, -1)
                        for r in range(rows) for c in range(cols)], axis=1).astype(np.float64)  # (N, P, D)
    patches -= patches.mean(axis=2, keepdims=True)
    patches /= np.sqrt(patches.var(axis=2, keepdims=True) + eps)
    if zca is not None:
        patches = (patches - mean) @ zca.astype(np.float64)
    distances = np.sqrt(((patches[:, :, None, :] - codebook.astype(np.float64)) ** 2).sum(axis=3))  # (N, P, K)
    if encoding == "hard":
        codes = np.eye(len(codebook))[distances.argmin(axis=2)]
    else:
        codes = np.maximum(0.0, distances.mean(axis=2, keepdims=True) - distances)
    def regions(grid):
        region = ((np.arange(rows) * grid // rows)[:, None] * grid + (np.arange(cols) * grid // cols)[None, :]).ravel()
        return np.stack([codes[:, region == q].sum(axis=1) for q in range(grid * grid)], axis=1)

    quadrants = regions(2)
    total = quadrants.sum(axis=1)
    if pooling == "grid3":
        return regions(3).reshape(n, -1)
    return {"global": total, "quadrants": quadrants.reshape(n, -1),
            "pyramid": np.concatenate([total, quadrants.reshape(n, -1)], axis=1)}[pooling]


def random_state(rng, dims, n_words, whiten=True):
    codebook = rng.normal(size=(n_words, dims)).astype(np.float32)
    if not whiten:
        return None, None, codebook
    mixing = rng.normal(size=(dims, dims)) / np.sqrt(dims) + np.eye(dims)
    return rng.normal(0, 0.1, size=dims).astype(np.float32), mixing.astype(np.float32), codebook


@pytest.mark.parametrize("encoding", ["triangle", "hard"])
@pytest.mark.parametrize("pooling", ["global", "quadrants", "pyramid", "grid3"])
@pytest.mark.parametrize("stride, shape", [(1, (11, 13)), (2, (12, 9))])
def test_fused_encoder_equals_the_unfused_computation(encoding, pooling, stride, shape, rng, make_smooth):
    images = make_smooth(rng, 5, *shape)
    mean, zca, codebook = random_state(rng, 3 * 3 * 3, 7)
    expected = unfused_reference(images, 3, stride, 10.0, mean, zca, codebook, encoding, pooling)
    # 4 rows per block: every quadrant run is cut into several blocks of uneven size
    encoder = PatchEncoder(3, stride, 10.0, mean, zca, codebook, encoding, pooling, block_rows=4)
    got = encoder.encode(images)
    assert got.dtype == np.float32 and got.shape == expected.shape
    if encoding == "hard":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4 * np.abs(expected).max())


def test_per_patch_reference_with_quadrants_and_no_whitening(rng, make_smooth):
    images = make_smooth(rng, 3, 9, 10)
    _, _, codebook = random_state(rng, 4 * 4 * 3, 5, whiten=False)
    got = PatchEncoder(4, 1, 10.0, None, None, codebook, "triangle", "quadrants").encode(images)
    expected = np.zeros((3, 4, 5))
    rows, cols = 6, 7
    for n, image in enumerate(images.astype(np.float64)):
        for r in range(rows):
            for c in range(cols):
                x = image[r:r + 4, c:c + 4].ravel()
                x = (x - x.mean()) / np.sqrt(x.var() + 10.0)
                z = np.sqrt(((x - codebook) ** 2).sum(axis=1))
                expected[n, (2 * r // rows) * 2 + 2 * c // cols] += np.maximum(0.0, z.mean() - z)
    np.testing.assert_allclose(got, expected.reshape(3, -1), rtol=1e-5, atol=1e-4)


def test_threads_and_chunks_do_not_change_the_codes(rng, make_smooth):
    images = make_smooth(rng, 9, 12, 12)
    mean, zca, codebook = random_state(rng, 27, 6)
    encoder = PatchEncoder(3, 1, 10.0, mean, zca, codebook, "triangle", "pyramid")
    whole = encoder.encode(images)
    # the blocks are the same whatever the chunk; only BLAS's rounding may differ with the product sizes
    np.testing.assert_allclose(encode_images(encoder, images, 2, 1, "test"), whole, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(encode_images(encoder, images, 3, 2, "test"), whole, rtol=1e-5, atol=1e-5)


def test_quadrant_order_groups_positions_by_quadrant():
    order, counts = quadrant_order(3, 5)  # rows 0,1 | 2 and cols 0,1,2 | 3,4 (index * 2 // n)
    assert counts.tolist() == [6, 4, 3, 2]
    positions = np.arange(15).reshape(3, 5)
    assert sorted(order[:6].tolist()) == sorted(positions[:2, :3].ravel().tolist())
    assert sorted(order[-2:].tolist()) == positions[2, 3:].tolist()


def test_a_3x3_grid_splits_positions_into_nine_runs():
    order, counts = quadrant_order(7, 5, grid=3)  # rows 0-2 | 3-4 | 5-6 and cols 0-1 | 2-3 | 4 (index * 3 // n)
    assert counts.tolist() == [6, 6, 3, 4, 4, 2, 4, 4, 2]
    positions = np.arange(35).reshape(7, 5)
    assert sorted(order[:6].tolist()) == sorted(positions[:3, :2].ravel().tolist())
    assert order[-2:].tolist() == positions[5:, 4].tolist()


def test_grid3_pooling_needs_three_positions_a_side(rng, make_smooth):
    images = make_smooth(rng, 4, 7, 7)  # 6x6 patches: 2x2 positions
    with pytest.raises(InputError, match=r"pooling='grid3' needs at least 3x3 patch positions.*give 2x2"):
        BagOfVisualWords(n_words=2, n_patches=20, patch_size=6, pooling="grid3").fit(images)


def test_dead_words_counts_near_empty_clusters():
    labels = np.repeat(np.arange(4), [500, 485, 8, 7])  # 6 words: mean cluster 166.7, 5% of it 8.3
    assert dead_words(labels, 6) == 4  # two near-empty words and two words that got nothing
    assert dead_words(np.arange(100) % 4, 4) == 0


@pytest.mark.parametrize("kmeans", ["full", "minibatch"])
def test_random_seeding_and_dead_word_attributes(kmeans, rng, make_smooth):
    images = make_smooth(rng, 6, 12, 12)
    bovw = BagOfVisualWords(n_words=5, patch_size=3, n_patches=400, kmeans=kmeans, kmeans_init="random",
                            kmeans_iter=20, random_state=0).fit(images)
    assert len(bovw.dead_words_) == 1 and 0 <= bovw.dead_words_[0] <= 5
    assert bovw.kmeans_inertia_[0] > 0
    again = BagOfVisualWords(n_words=5, patch_size=3, n_patches=400, kmeans=kmeans, kmeans_init="random",
                             kmeans_iter=20, random_state=0).fit(images)
    np.testing.assert_array_equal(bovw.codebook_[0], again.codebook_[0])


def test_bad_kmeans_init_is_rejected(rng, make_smooth):
    with pytest.raises(InputError, match=r"kmeans_init='forgy'.*'k-means\+\+', 'random'"):
        BagOfVisualWords(n_words=4, patch_size=3, n_patches=100, kmeans_init="forgy").fit(make_smooth(rng, 4, 12, 12))


def test_memory_budget_is_checked_before_fit_and_transform(rng, make_smooth):
    images = make_smooth(rng, 4, 32, 32)
    big = BagOfVisualWords(n_words=50, patch_size=6, n_patches=200_000, chunk_size=64, memory_limit_mb=100)
    with pytest.raises(InputError, match=r"n_words=50, patch_size=6, chunk_size=64.*memory_limit_mb=100; lower chunk_size"):
        big.fit(images)
    assert not hasattr(big, "codebook_")  # refused before anything was learned
    bovw = BagOfVisualWords(n_words=8, patch_size=6, n_patches=500, kmeans_iter=3, random_state=0,
                            memory_limit_mb=500).fit(images)
    many = np.repeat(images, 500, axis=0)  # 2,000 images x 32 features fit; a 1 MB budget does not
    with pytest.raises(InputError, match=r"of output for 2000 images\), more than memory_limit_mb=1;"):
        bovw.set_params(memory_limit_mb=1).transform(many)


def test_a_config_with_more_words_than_patches_is_refused_when_read():
    from featpipe.config import parse_config
    from featpipe.errors import ConfigError

    text = "name: t\ndata: {source: folder, root: x.tar.gz}\nfeatures:\n  bovw: {n_words: 5000, n_patches: 1000}\n"
    with pytest.raises(ConfigError, match=r"features\.bovw: n_words=5000 is larger than .* n_patches=1000"):
        parse_config(text, "t.yaml")
