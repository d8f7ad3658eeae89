"""Bag of visual words: planted patch clusters are found and counted; encodings match a direct
computation; settings are validated."""

from __future__ import annotations

import numpy as np
import pytest

from featpipe.errors import InputError
from featpipe.features import BagOfVisualWords, codebook_images
from featpipe.features.bovw import _encode_images, _normalize_patches, _whiten


def three_patterns() -> np.ndarray:
    """Three distinct 4x4 RGB patterns: vertical stripes, horizontal stripes, a checkerboard."""
    stripes = np.tile(np.array([0, 255, 0, 255], np.uint8), (4, 1))
    checker = np.indices((4, 4)).sum(axis=0) % 2 * 255
    patterns = np.stack([stripes, stripes.T, checker]).astype(np.uint8)
    colours = np.array([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0]])
    return (patterns[..., None] * colours[:, None, None, :]).astype(np.uint8)  # (3, 4, 4, 3)


def noisy_copies(patterns: np.ndarray, rng: np.random.Generator, per_pattern: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(len(patterns)), per_pattern)
    noise = rng.normal(0, 4, size=(len(labels), *patterns.shape[1:]))
    return np.clip(patterns[labels] + noise, 0, 255).astype(np.uint8), labels


def fitted_on_patterns(rng, **params) -> tuple[BagOfVisualWords, np.ndarray, np.ndarray]:
    patterns = three_patterns()
    images, labels = noisy_copies(patterns, rng, 40)
    settings = dict(n_words=3, patch_size=4, n_patches=600, encoding="hard", pooling="global", kmeans="full",
                    kmeans_iter=50, random_state=0)
    settings.update(params)
    return BagOfVisualWords(**settings).fit(images), images, labels


def word_of_pattern(bovw: BagOfVisualWords, patterns: np.ndarray) -> np.ndarray:
    vectors = _normalize_patches(patterns.reshape(len(patterns), -1).astype(np.float32), bovw.normalize_eps)
    if bovw.zca_:
        vectors = _whiten(vectors, bovw.mean_[0], bovw.zca_[0])
    distances = ((vectors[:, None, :] - bovw.codebook_[0][None]) ** 2).sum(axis=2)
    return distances.argmin(axis=1), distances.min(axis=1), distances


@pytest.mark.parametrize("whiten", [True, False])
@pytest.mark.parametrize("kmeans", ["full", "minibatch"])
def test_codebook_finds_the_planted_patterns(whiten, kmeans, rng):
    bovw, _, _ = fitted_on_patterns(rng, whiten=whiten, kmeans=kmeans)
    words, nearest, distances = word_of_pattern(bovw, three_patterns())
    assert sorted(words) == [0, 1, 2]  # every pattern has its own word
    # ...and sits much closer to it than to any other word
    second = np.sort(distances, axis=1)[:, 1]
    assert np.all(nearest < 0.05 * second)


def test_hard_encoding_counts_the_patterns(rng):
    bovw, images, labels = fitted_on_patterns(rng)
    words, _, _ = word_of_pattern(bovw, three_patterns())
    counts = bovw.transform(images)
    assert counts.shape == (len(images), 3) and counts.dtype == np.float32
    np.testing.assert_array_equal(counts, np.eye(3, dtype=np.float32)[words[labels]])
    # tiled 8x8 images, one pattern per quadrant: stride 4 visits exactly the four tiles
    patterns = three_patterns()
    layout = np.array([[0, 1, 2, 2], [2, 2, 2, 2], [1, 0, 0, 1]])
    tiled = np.stack([
        np.concatenate([np.concatenate([patterns[a], patterns[b]], axis=1),
                        np.concatenate([patterns[c], patterns[d]], axis=1)], axis=0)
        for a, b, c, d in layout
    ])
    state = (bovw.mean_[0], bovw.zca_[0], bovw.codebook_[0])
    quadrants = _encode_images(tiled, 4, 4, bovw.normalize_eps, *state, "hard", "quadrants").reshape(3, 4, 3)
    np.testing.assert_array_equal(quadrants, np.eye(3)[words[layout]])
    pyramid = _encode_images(tiled, 4, 4, bovw.normalize_eps, *state, "hard", "pyramid")
    expected_global = np.stack([np.bincount(words[row], minlength=3) for row in layout])
    np.testing.assert_array_equal(pyramid[:, :3], expected_global)
    np.testing.assert_array_equal(pyramid[:, 3:], quadrants.reshape(3, -1))


def test_triangle_encoding_equals_a_direct_computation(rng, make_smooth):
    images = make_smooth(rng, 4, 10, 10)
    bovw = BagOfVisualWords(n_words=6, patch_size=3, n_patches=500, encoding="triangle", pooling="global",
                            stride=1, kmeans_iter=10, random_state=3).fit(images)
    features = bovw.transform(images)
    expected = np.zeros((4, 6))
    for n, image in enumerate(images.astype(np.float64)):
        for r in range(8):
            for c in range(8):
                x = image[r:r + 3, c:c + 3].ravel()
                x = (x - x.mean()) / np.sqrt(x.var() + 10.0)
                x = (x - bovw.mean_[0]) @ bovw.zca_[0].astype(np.float64)
                z = np.sqrt(((x - bovw.codebook_[0]) ** 2).sum(axis=1))
                expected[n] += np.maximum(0.0, z.mean() - z)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-3)


def test_several_patch_sizes_and_poolings(rng, make_smooth):
    images = make_smooth(rng, 5, 12, 12)
    base = dict(n_words=4, n_patches=200, kmeans_iter=5, random_state=0)
    assert BagOfVisualWords(patch_size=[3, 5], pooling="quadrants", **base).fit(images).transform(images).shape == (5, 2 * 4 * 4)
    assert BagOfVisualWords(patch_size=3, pooling="pyramid", **base).fit(images).transform(images).shape == (5, 5 * 4)
    bovw = BagOfVisualWords(patch_size=[3, 5], pooling="global", **base).fit(images)
    assert bovw.patch_sizes_ == (3, 5) and [c.shape for c in bovw.codebook_] == [(4, 27), (4, 75)]
    pictures = codebook_images(bovw, which=1)
    assert pictures.shape == (4, 5, 5, 3) and pictures.min() >= 0 and pictures.max() <= 1


def test_same_seed_same_codebook_and_no_nan_on_flat_images(rng, make_smooth):
    images = np.concatenate([make_smooth(rng, 4, 12, 12), np.zeros((2, 12, 12, 3), np.uint8)])
    a = BagOfVisualWords(n_words=4, patch_size=3, n_patches=200, kmeans_iter=5, random_state=7).fit(images)
    b = BagOfVisualWords(n_words=4, patch_size=3, n_patches=200, kmeans_iter=5, random_state=7).fit(images)
    np.testing.assert_array_equal(a.codebook_[0], b.codebook_[0])
    assert np.isfinite(a.transform(images)).all()


def test_chunking_does_not_change_features(rng, make_smooth):
    images = make_smooth(rng, 7, 12, 12)
    bovw = BagOfVisualWords(n_words=4, patch_size=3, n_patches=200, kmeans_iter=5, random_state=0, chunk_size=100).fit(images)
    whole = bovw.transform(images)
    # float32 matrix products may round differently for other block shapes: equal to ~1e-6
    np.testing.assert_allclose(bovw.set_params(chunk_size=2).transform(images), whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "params, shape, match",
    [
        ({"n_words": 50, "n_patches": 20}, (4, 12, 12, 3), r"n_words=50 is larger than the number of training patches n_patches=20"),
        ({"n_words": 30, "n_patches": 100, "patch_size": 6, "pooling": "global"}, (1, 8, 8, 3), r"n_words=30 is larger than the 9 distinct patch positions"),
        ({"patch_size": 8}, (4, 6, 12, 3), r"patch_size=8 needs images of at least 8x8 pixels.*these are 6x12"),
        ({"patch_size": [3, 13]}, (4, 12, 12, 3), r"patch_size=13 needs images of at least 13x13"),
        ({"patch_size": []}, (4, 12, 12, 3), r"non-empty list"),
        ({"patch_size": 6, "stride": 8}, (4, 12, 12, 3), r"pooling='quadrants' needs at least 2x2 patch positions"),
        ({"encoding": "soft"}, (4, 12, 12, 3), r"encoding='soft'.*'hard', 'triangle'"),
        ({"pooling": "max"}, (4, 12, 12, 3), r"pooling='max'.*'global', 'quadrants', 'pyramid'"),
        ({"kmeans": "elkan"}, (4, 12, 12, 3), r"kmeans='elkan'.*'full', 'minibatch'"),
        ({"normalize_eps": 0}, (4, 12, 12, 3), r"normalize_eps=0 must be a finite number > 0"),
        ({"random_state": "seed"}, (4, 12, 12, 3), r"random_state='seed'"),
    ],
)
def test_bad_settings_are_rejected_clearly(params, shape, match):
    settings = dict(n_words=4, patch_size=3, n_patches=100, kmeans_iter=3, random_state=0)
    settings.update(params)
    with pytest.raises(InputError, match=match):
        BagOfVisualWords(**settings).fit(np.zeros(shape, np.uint8))


def test_gray_images_and_shape_mismatch(rng, make_smooth):
    gray = make_smooth(rng, 4, 12, 12)[..., 0]
    bovw = BagOfVisualWords(n_words=4, patch_size=3, n_patches=100, kmeans_iter=3, random_state=0).fit(gray)
    assert bovw.codebook_[0].shape == (4, 9) and bovw.transform(gray).shape == (4, 16)
    with pytest.raises(InputError, match=r"fitted on images of shape"):
        bovw.transform(make_smooth(rng, 2, 12, 12))


def test_kmeans_reports_its_start_and_end_when_progress_is_on(capsys):
    from featpipe.features._images import show_progress

    images = np.random.default_rng(0).integers(0, 256, (20, 12, 12, 3), dtype=np.uint8)
    token = show_progress.set(True)
    try:
        BagOfVisualWords(n_words=4, patch_size=3, n_patches=100, random_state=0).fit(images)
    finally:
        show_progress.reset(token)
    err = capsys.readouterr().err
    assert "BoVW minibatch k-means: 4 words from 100 patches of 3x3: started" in err and ": done: in " in err
    show_progress.set(False)
    try:
        BagOfVisualWords(n_words=4, patch_size=3, n_patches=100, random_state=0).fit(images)
    finally:
        show_progress.set(None)
    assert capsys.readouterr().err == ""


def test_a_run_records_the_dead_words_in_metrics_also_when_the_codebook_comes_from_the_cache(tmp_path):
    from featpipe.config import validate
    from featpipe.runner import run_experiment

    config = validate({"name": "dead", "seed": 0, "classifier": "svm", "svm": {"C": 1.0},
                       "data": {"source": "digits", "n_train": 200, "val_fraction": 0.25, "cache_dir": str(tmp_path)},
                       "features": {"bovw": {"n_words": 40, "patch_size": 3, "n_patches": 400, "kmeans": "full",
                                             "kmeans_init": "random", "kmeans_iter": 5}},
                       "output": {"plots": False}})
    first = run_experiment(config, tmp_path / "runs" / "first", progress=False)
    second = run_experiment(config, tmp_path / "runs" / "second", progress=False).metrics
    report = first.metrics["feature_fit"]["bovw"]
    assert report["n_words"] == 40 and report["patch_sizes"] == [3] and len(report["kmeans_inertia"]) == 1
    from featpipe import model_io

    fitted = model_io.load(first.run_dir).named_steps["features"].extractors[0][1]  # the saved model's codebook
    assert report["dead_words"] == fitted.dead_words_ and report["kmeans_inertia"][0] == pytest.approx(fitted.kmeans_inertia_[0])
    assert second["feature_cache_hits"]["fit"] and second["feature_fit"] == first.metrics["feature_fit"]
    import json
    assert json.loads((first.run_dir / "metrics.json").read_text())["feature_fit"] == first.metrics["feature_fit"]
