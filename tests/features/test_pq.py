"""Product quantization: codes are nearest centroids, the reconstruction error is bounded by them."""

from __future__ import annotations

import numpy as np
import pytest

from featpipe.errors import InputError
from featpipe.features.pq import ProductQuantizer


@pytest.fixture
def vectors(rng):
    return rng.standard_normal((600, 24)).astype(np.float32)


def test_codes_are_the_nearest_centroid_of_every_piece(vectors):
    pq = ProductQuantizer(n_subvectors=6, n_centroids=16, random_state=0).fit(vectors)
    codes = pq.encode(vectors)
    assert codes.dtype == np.uint8 and codes.shape == (600, 6) and pq.bytes_per_vector == 6
    pieces = vectors.reshape(600, 6, 4)
    distances = ((pieces[:, :, None, :] - pq.codebooks_[None]) ** 2).sum(axis=3)  # (n, m, k)
    np.testing.assert_array_equal(codes, distances.argmin(axis=2))
    # so the squared error of each piece is its smallest distance to a centroid: the bound
    decoded = pq.decode(codes)
    error = ((vectors - decoded).reshape(600, 6, 4) ** 2).sum(axis=2)
    np.testing.assert_allclose(error, distances.min(axis=2), rtol=1e-4, atol=1e-5)


def test_reconstruction_error_falls_with_more_centroids_and_bytes(vectors):
    errors = []
    for m, k in [(2, 4), (6, 16), (12, 64)]:
        pq = ProductQuantizer(n_subvectors=m, n_centroids=k, random_state=0).fit(vectors)
        errors.append(float(((pq.decode(pq.encode(vectors)) - vectors) ** 2).sum(axis=1).mean()))
    total = float((vectors ** 2).sum(axis=1).mean())
    assert total > errors[0] > errors[1] > errors[2] > 0


def test_centroid_combinations_decode_exactly(vectors):
    pq = ProductQuantizer(n_subvectors=3, n_centroids=8, random_state=0).fit(vectors)
    codes = np.array([[0, 7, 3], [5, 5, 5]], dtype=np.uint8)
    np.testing.assert_array_equal(pq.encode(pq.decode(codes)), codes)
    wide = ProductQuantizer(n_subvectors=2, n_centroids=300, kmeans_iter=2, random_state=0).fit(vectors)
    assert wide.encode(vectors).dtype == np.uint16 and wide.bytes_per_vector == 4


def test_bad_input(vectors):
    with pytest.raises(InputError, match=r"n_subvectors=5 must divide the vector length 24"):
        ProductQuantizer(n_subvectors=5).fit(vectors)
    with pytest.raises(InputError, match=r"n_centroids=1000 is more than the 600 training vectors"):
        ProductQuantizer(n_subvectors=4, n_centroids=1000).fit(vectors)
    pq = ProductQuantizer(n_subvectors=4, n_centroids=4, random_state=0).fit(vectors)
    with pytest.raises(InputError, match=r"fitted on vectors of length 24, got length 12"):
        pq.encode(vectors[:, :12])
    with pytest.raises(InputError, match=r"code 9 is out of range for 4 centroids"):
        pq.decode(np.array([[9, 0, 0, 0]], dtype=np.uint8))


def test_batched_kmeans_reaches_a_lloyd_fixed_point(vectors):
    """Every centroid is the mean of the training pieces nearest to it (or kept, if none are)."""
    pq = ProductQuantizer(n_subvectors=6, n_centroids=8, kmeans_iter=100, random_state=0).fit(vectors)
    codes = pq.encode(vectors)
    pieces = vectors.reshape(600, 6, 4)
    for j in range(6):
        for c in np.unique(codes[:, j]):
            np.testing.assert_allclose(pq.codebooks_[j, c], pieces[codes[:, j] == c, j].mean(axis=0), atol=1e-5)


def test_encoding_in_blocks_equals_one_block(vectors, monkeypatch):
    import featpipe.features.pq as pq_module

    pq = ProductQuantizer(n_subvectors=6, n_centroids=16, random_state=0).fit(vectors)
    whole = pq.encode(vectors)
    monkeypatch.setattr(pq_module, "_SCORES_BYTES", 4 * 6 * 16 * 7)  # 7 vectors per block
    np.testing.assert_array_equal(pq.encode(vectors), whole)
