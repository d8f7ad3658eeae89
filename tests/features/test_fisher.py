"""Fisher vectors and VLAD: skimage and direct-loop references, the FisherVectors extractor, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.feature import fisher_vector as skimage_fisher_vector
from sklearn.mixture import GaussianMixture

from featpipe import model_io
from featpipe.config import load_config
from featpipe.errors import ConfigError, InputError
from featpipe.features import FisherVectors, fisher_pictures
from featpipe.features.fisher import fisher_from_moments, fisher_vector
from featpipe.features.fisher_extractor import _describe, _pyramid
from featpipe.features.mixture_stats import mixture_moments, nearest_means, posteriors, pyramid_regions, stack_powers
from featpipe.features.vlad import vlad_vector


@pytest.fixture(scope="module")
def gmm_and_descriptors():
    """A diagonal GMM fitted on skewed, offset data and descriptor sets of several images."""
    rng = np.random.default_rng(7)
    scale, offset = rng.uniform(0.3, 2.0, 12), rng.uniform(-2.0, 2.0, 12)
    train = rng.standard_normal((4000, 12)) * scale + offset
    gmm = GaussianMixture(6, covariance_type="diag", random_state=0).fit(train)
    sets = (rng.standard_normal((5, 70, 12)) * scale + offset).astype(np.float32)
    return gmm, sets


def test_posteriors_equal_predict_proba(gmm_and_descriptors):
    gmm, sets = gmm_and_descriptors
    x = sets.reshape(-1, 12)
    ours = posteriors(x, gmm.weights_, gmm.means_, gmm.covariances_)
    assert ours.dtype == np.float32 and ours.shape == (6, len(x))
    np.testing.assert_allclose(ours.T, gmm.predict_proba(x.astype(np.float64)), rtol=0, atol=1e-5)


@pytest.mark.parametrize("improved", [False, True])
def test_fisher_vector_equals_skimage(improved, gmm_and_descriptors):
    gmm, sets = gmm_and_descriptors
    expected = np.stack([skimage_fisher_vector(d.astype(np.float64), gmm, improved=improved) for d in sets])
    ours = fisher_vector(sets, gmm.weights_, gmm.means_, gmm.covariances_, improved=improved)
    assert ours.dtype == np.float32 and ours.shape == expected.shape == (5, 6 + 2 * 6 * 12)
    # float32 precision relative to each vector's size
    scale = np.abs(expected).max(axis=1, keepdims=True)
    np.testing.assert_allclose(ours / scale, expected / scale, rtol=0, atol=1e-5)
    single = fisher_vector(sets[0], gmm.weights_, gmm.means_, gmm.covariances_, improved=improved)
    np.testing.assert_allclose(single / scale[0], ours[0] / scale[0], rtol=0, atol=1e-5)  # other BLAS blocking


def test_fisher_vector_of_data_far_from_the_origin_keeps_float32_precision():
    """Raw float32 moments about 0 lose digits (S2 - 2 mu S1 + mu^2 S0 with mu = 30 sigma); centred ones do not."""
    rng = np.random.default_rng(7)
    scale = rng.uniform(0.3, 2.0, 12)
    gmm = GaussianMixture(6, covariance_type="diag", random_state=0).fit(rng.standard_normal((4000, 12)) * scale + 30)
    sets = (rng.standard_normal((5, 70, 12)) * scale + 30).astype(np.float32)
    expected = np.stack([skimage_fisher_vector(d.astype(np.float64), gmm) for d in sets])
    ours = fisher_vector(sets, gmm.weights_, gmm.means_, gmm.covariances_)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5 * np.abs(expected).max())  # 4e-3 uncentred
    vlad = vlad_vector(sets, gmm.means_, improved=False)
    nearest = np.argmin(((sets[..., None, :] - gmm.means_) ** 2).sum(axis=-1), axis=-1)
    expected_vlad = np.stack([[(d[nearest[i] == k] - gmm.means_[k]).sum(axis=0) for k in range(6)]
                              for i, d in enumerate(sets.astype(np.float64))]).reshape(5, -1)
    np.testing.assert_allclose(vlad, expected_vlad, rtol=0, atol=1e-5 * np.abs(expected_vlad).max())


def test_fisher_vector_without_weights_is_skimages_without_its_first_block(gmm_and_descriptors):
    gmm, sets = gmm_and_descriptors
    expected = skimage_fisher_vector(sets[1].astype(np.float64), gmm)[6:]  # drop d_pi (K values)
    ours = fisher_vector(sets[1], gmm.weights_, gmm.means_, gmm.covariances_, include_weights=False)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_pyramid_regions_pool_their_own_descriptors(gmm_and_descriptors):
    """Each region's moments give the Fisher vector of exactly the descriptors placed in it."""
    gmm, sets = gmm_and_descriptors
    rng = np.random.default_rng(3)
    places = rng.uniform(0, 1, size=(70, 2))
    pyramid = pyramid_regions(places, (1, 1), [(1, 1), (2, 2), (3, 1)])
    assert pyramid.n_regions == 8 and pyramid.counts[0] == 70 and pyramid.counts[1:5].sum() == 70
    stacked = stack_powers(sets[:, pyramid.order].reshape(-1, 12))
    mass, first, second = mixture_moments(stacked, 5, pyramid, gmm.weights_, gmm.means_, gmm.covariances_)
    fv = fisher_from_moments(mass, first, second, pyramid.counts, gmm.weights_, gmm.means_, gmm.covariances_)
    regions = [(0, np.ones(70, bool))]
    for r in range(2):
        for c in range(2):
            regions.append((1 + 2 * r + c, (np.floor(places[:, 0] * 2) == r) & (np.floor(places[:, 1] * 2) == c)))
    for r in range(3):
        regions.append((5 + r, np.floor(places[:, 0] * 3) == r))
    for index, members in regions:
        for image in (0, 4):
            expected = skimage_fisher_vector(sets[image][members].astype(np.float64), gmm)
            np.testing.assert_allclose(fv[image, index], expected, rtol=0, atol=2e-5 * np.abs(expected).max())


def test_vlad_equals_a_direct_loop(gmm_and_descriptors):
    gmm, sets = gmm_and_descriptors
    means = gmm.means_
    for improved in (False, True):
        ours = vlad_vector(sets, means, improved=improved)
        for image in range(len(sets)):
            expected = np.zeros_like(means)
            for x in sets[image].astype(np.float64):
                k = np.argmin(((x - means) ** 2).sum(axis=1))
                expected[k] += x - means[k]
            expected = expected.ravel()
            if improved:
                expected = np.sign(expected) * np.sqrt(np.abs(expected))
                expected /= np.linalg.norm(expected)
            np.testing.assert_allclose(ours[image], expected, rtol=0, atol=2e-5 * np.abs(expected).max())


def test_nearest_means_is_one_hot_of_the_closest():
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = np.array([[1.0, 1.0], [9.0, 2.0], [1.0, 8.0], [6.0, 0.1]], dtype=np.float32)
    np.testing.assert_array_equal(nearest_means(x, means).argmax(axis=0), [0, 1, 2, 1])


# ----------------------------------------------------------------------------- the extractor


def small_fisher(**params) -> FisherVectors:
    settings = dict(cell_size=2, stride=4, pca_dims=8, n_components=3, n_samples=1500, pyramid=[(1, 1), (2, 2)],
                    random_state=0)
    settings.update(params)
    return FisherVectors(**settings)


@pytest.fixture
def scenes(make_smooth):
    return make_smooth(np.random.default_rng(5), 16, 24, 24)


def test_extractor_output_layout_and_norm(scenes):
    fitted = small_fisher().fit(scenes)
    features = fitted.transform(scenes)
    # 2 descriptor types x 5 regions x 2 K D
    assert features.dtype == np.float32 and features.shape == (16, 2 * 5 * 2 * 3 * 8) == (16, fitted.n_features_out_)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)
    blocks = features.reshape(16, 10, -1)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), 1 / np.sqrt(10), rtol=1e-5)
    assert [m.shape for m in fitted.gmm_means_] == [(3, 8), (3, 8)]
    assert [c.shape for c in fitted.pca_components_] == [(8, 128), (8, 96)]


@pytest.mark.parametrize("params", [dict(), dict(whiten=True, cell_size=[2, 3], root_sift=False, include_weights=True)])
def test_extractor_equals_skimage_on_its_own_descriptors(params, scenes):
    """The whole-image block of each descriptor type is skimage's improved FV of the PCA-projected descriptors."""
    fitted = small_fisher(pyramid=[(1, 1)], **params).fit(scenes)
    features = fitted.transform(scenes[:3])
    settings = fitted.settings()
    n_blocks = 2
    for k, kind in enumerate(settings.descriptors):
        gmm = GaussianMixture(3, covariance_type="diag")
        gmm.weights_, gmm.means_, gmm.covariances_ = fitted.gmm_weights_[k], fitted.gmm_means_[k], fitted.gmm_covariances_[k]
        gmm.precisions_cholesky_ = 1 / np.sqrt(gmm.covariances_)
        descriptors, _ = _describe(scenes[:3], kind, settings)
        width = features.shape[1] // n_blocks
        for image in range(3):
            projected = (descriptors[image] - fitted.pca_mean_[k]).astype(np.float64) @ fitted.pca_components_[k].T
            expected = skimage_fisher_vector(projected, gmm, improved=True)
            if not settings.include_weights:
                expected = expected[3:]
                expected /= np.linalg.norm(expected)
            ours = features[image, k * width:(k + 1) * width] * np.sqrt(n_blocks)
            np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)


def test_vlad_encoding_of_the_extractor(scenes):
    fitted = small_fisher(encoding="vlad", descriptors=["sift"], pyramid=[(1, 1)]).fit(scenes)
    features = fitted.transform(scenes[:2])
    assert features.shape == (2, 3 * 8)
    descriptors, _ = _describe(scenes[:2], "sift", fitted.settings())
    projected = (descriptors - fitted.pca_mean_[0]) @ fitted.pca_components_[0].T
    np.testing.assert_allclose(features, vlad_vector(projected, fitted.gmm_means_[0]), rtol=0, atol=1e-6)


def test_extractor_is_seeded_and_deterministic(scenes):
    a = small_fisher(random_state=3).fit(scenes).transform(scenes)
    b = small_fisher(random_state=3).fit(scenes).transform(scenes)
    c = small_fisher(random_state=4).fit(scenes).transform(scenes)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_model_round_trip(scenes, tmp_path):
    fitted = small_fisher(color_space="opponent").fit(scenes)
    model_io.save(fitted, tmp_path)
    restored = model_io.load(tmp_path)
    assert type(restored) is FisherVectors
    np.testing.assert_array_equal(restored.transform(scenes), fitted.transform(scenes))


def test_pictures_of_the_mixture(scenes):
    fitted = small_fisher().fit(scenes)
    pictures = fisher_pictures(fitted)
    assert set(pictures) == {"sift", "color"}
    assert pictures["sift"].shape == (60, 3 * 60 + 2 * 2) and pictures["sift"].max() == 1.0
    assert pictures["color"].shape == (60, 3 * 60 + 2 * 2, 3)
    assert 0 <= pictures["color"].min() and pictures["color"].max() <= 1


def test_describe_in_pyramid_order_is_the_gathered_concatenation(scenes):
    settings = small_fisher(cell_size=[2, 3], stride=2, pyramid=[(1, 1), (2, 2)]).settings()
    pyramid = _pyramid(scenes.shape[1:3], settings)
    for kind in ("sift", "color"):
        plain, places = _describe(scenes[:3], kind, settings)
        ordered, ordered_places = _describe(scenes[:3], kind, settings, order=pyramid.order)
        np.testing.assert_array_equal(ordered, plain[:, pyramid.order])
        np.testing.assert_array_equal(ordered_places, places)


def test_posteriors_of_far_descriptors_are_clipped_not_lost(gmm_and_descriptors):
    """Log-likelihood gaps beyond exp's float32 range give 0, and the nearest component still gets 1."""
    gmm, _ = gmm_and_descriptors
    far = gmm.means_[2] + 40 * np.sqrt(gmm.covariances_[2])  # thousands of nats from every component
    x = np.stack([gmm.means_[2], far]).astype(np.float32)
    ours = posteriors(x, gmm.weights_, gmm.means_, gmm.covariances_)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours.sum(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ours.T, gmm.predict_proba(x.astype(np.float64)), rtol=0, atol=1e-5)


def test_pyramid_uses_grid_positions_so_no_region_is_empty():
    settings = small_fisher(cell_size=[2, 3], stride=2, pyramid=[(1, 1), (3, 3)]).settings()
    pyramid = _pyramid((24, 24), settings)
    assert pyramid.n_regions == 10 and pyramid.counts.min() > 0
    assert pyramid.counts[0] == 9 * 9 + 7 * 7


# ----------------------------------------------------------------------------- bad input


def test_pca_to_more_dims_than_the_descriptor(scenes):
    with pytest.raises(InputError, match=r"pca_dims=100 is more than the 96 dimensions of the 'color' descriptor"):
        small_fisher(pca_dims=100).fit(scenes)
    with pytest.raises(InputError, match=r"pca_dims=130 is more than the 128 dimensions of the 'sift'"):
        small_fisher(pca_dims=130, descriptors=["sift"]).fit(scenes)
    gray = scenes[..., :1]
    with pytest.raises(InputError, match=r"pca_dims=40 is more than the 32 dimensions of the 'color' descriptor of 1-channel"):
        small_fisher(pca_dims=40).fit(gray)


def test_config_rejects_pca_dims_when_read(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nfeatures:\n  fisher:\n    pca_dims: 200\n    descriptors: [sift]\n")
    with pytest.raises(ConfigError, match=r"pca_dims=200 is more than the 128 dimensions"):
        load_config(path)


def test_images_too_small_for_one_descriptor(scenes):
    with pytest.raises(InputError, match=r"cell_size=7 \(one descriptor of 4x4 cells of 7 pixels\) needs images of "
                                         r"at least 28x28 pixels.*these are 24x24"):
        small_fisher(cell_size=[2, 7]).fit(scenes)


def test_pyramid_finer_than_the_patch_grid(scenes):
    # cell 3, stride 4 on 24 px: (24 - 12) // 4 + 1 = 4 positions per side
    with pytest.raises(InputError, match=r"pyramid level \[5, 1\] is finer than the 4x4 patch grid of cell_size=3.*"
                                         r"at most \[4, 4\]"):
        small_fisher(cell_size=3, pyramid=[(1, 1), (5, 1)]).fit(scenes)


def test_gmm_that_does_not_converge(scenes):
    with pytest.raises(InputError, match=r"GMM of the 'sift' descriptors \(n_components=3\) did not converge in "
                                         r"gmm_iter=1 EM iterations; raise gmm_iter"):
        small_fisher(gmm_iter=1).fit(scenes)


def test_gmm_that_collapses_a_component():
    # a flat image has all-zero SIFT and constant colour descriptors: every component sits on one point
    flat = np.full((4, 24, 24, 3), 90, dtype=np.uint8)
    flat[0, :12] = 200
    with pytest.raises(InputError, match=r"collapsed .* component\(s\).*use fewer components, more n_samples "
                                         r"or a larger reg_covar"):
        small_fisher(descriptors=["sift"]).fit(flat)


def test_opponent_colours_need_rgb(scenes):
    with pytest.raises(InputError, match=r"color_space='opponent' needs RGB images \(3 channels\); these have 1"):
        small_fisher(color_space="opponent", pca_dims=8).fit(scenes[..., :1])


@pytest.mark.parametrize("params, message", [
    (dict(descriptors=[]), r"descriptors=\[\] expected a non-empty list"),
    (dict(descriptors=["sift", "sift"]), r"lists \['sift', 'sift'\] more than once"),
    (dict(descriptors=["surf"]), r"choose one of 'sift', 'color'"),
    (dict(encoding="bow"), r"encoding='bow' is not allowed; choose one of 'fisher', 'vlad'"),
    (dict(n_components=2000, n_samples=1000), r"n_components=2000 is more than n_samples=1000"),
    (dict(power=1.5), r"power=1.5 must be <= 1"),
    (dict(cell_size=[]), r"expected a size >= 1"),
])
def test_bad_settings(params, message, scenes):
    with pytest.raises(InputError, match=message):
        small_fisher(**params).fit(scenes)
