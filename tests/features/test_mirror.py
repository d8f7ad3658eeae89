"""features.test_flips: each evaluated image scores with its mirror (mean features; an MLP's mean probabilities)."""

from __future__ import annotations

import numpy as np
import pytest

from featpipe import model_io, runner
from featpipe.config import validate
from featpipe.errors import ConfigError, InputError
from featpipe.features import HOG
from featpipe.features.mirror import MirrorAveraged, MirrorPaired, MirrorVote, mirror_mean
from featpipe.nn import MLPClassifier
from featpipe.report.pictures import extractors_of
from featpipe.svm import LinearSVM


def _images(n=12, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 16, 16, 3), dtype=np.uint8)


def test_features_are_the_mean_of_the_image_and_its_mirror():
    images = _images()
    hog = HOG(pixels_per_cell=4, cells_per_block=2).fit(images)
    own, mirror = hog.transform(images), hog.transform(np.ascontiguousarray(images[:, :, ::-1]))
    assert not np.allclose(own, mirror)  # random images are not symmetric: a real test
    averaged = MirrorAveraged(HOG(pixels_per_cell=4, cells_per_block=2)).fit(images).transform(images)
    np.testing.assert_allclose(averaged, (own + mirror) / 2, rtol=1e-6, atol=1e-7)


def test_a_mirror_symmetric_image_keeps_its_features():
    half = _images(4)[:, :, :8]
    symmetric = np.concatenate([half, half[:, :, ::-1]], axis=2)
    hog = HOG(pixels_per_cell=4, cells_per_block=2).fit(symmetric)
    np.testing.assert_allclose(MirrorAveraged(hog).transform(symmetric), hog.transform(symmetric), rtol=1e-5, atol=1e-6)


def test_for_a_linear_classifier_it_averages_the_two_images_scores():
    images, labels = _images(40), np.arange(40) % 3
    hog = HOG(pixels_per_cell=4, cells_per_block=2).fit(images)
    svm = LinearSVM(C=1.0).fit(hog.transform(images), labels)
    scores = svm.decision_function(MirrorAveraged(hog).transform(images))
    both = (svm.decision_function(hog.transform(images))
            + svm.decision_function(hog.transform(np.ascontiguousarray(images[:, :, ::-1])))) / 2
    np.testing.assert_allclose(scores, both, rtol=1e-5, atol=1e-6)


def test_mirror_mean_works_in_place():
    a, b = np.array([[1.0, 3.0]], np.float32), np.array([[3.0, 5.0]], np.float32)
    out = mirror_mean(a, b)
    assert out is a
    np.testing.assert_array_equal(out, [[2.0, 4.0]])


def test_non_images_are_refused_with_their_shape():
    with pytest.raises(InputError, match=r"\(N, H, W, C\).*\(3, 5\)"):
        MirrorAveraged(HOG()).transform(np.zeros((3, 5)))


def _config(tmp_path, test_flips=True, train_flips=False, classifier="svm"):
    return validate({"name": "mirror", "seed": 0, "classifier": classifier, "svm": {"C": 1.0},
                     "mlp": {"hidden_sizes": [16], "epochs": 3, "batch_size": 32},
                     "data": {"source": "digits", "n_train": 240, "val_fraction": 0.25, "cache_dir": str(tmp_path)},
                     "features": {"hog": {"pixels_per_cell": 2, "cells_per_block": 2}, "train_flips": train_flips,
                                  "test_flips": test_flips},
                     "output": {"plots": False}})


def test_validation_features_are_averaged_and_training_rows_are_not(tmp_path):
    config = _config(tmp_path, train_flips=True)
    splits = runner.load_splits(config, progress=False)
    computed = runner._compute_features(config, config.features, splits, progress=False)
    fitted, val = computed.fitted, splits.val.images
    expected = (fitted.transform(val) + fitted.transform(np.ascontiguousarray(val[:, :, ::-1]))) / 2
    np.testing.assert_allclose(computed.features["val"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(computed.features["train"], fitted.transform(splits.train.images))
    mirrored = fitted.transform(np.ascontiguousarray(splits.train.images[:, :, ::-1]))
    np.testing.assert_allclose(computed.features[runner.FLIPPED], mirrored, rtol=1e-6)
    assert set(computed.features) == {"train", "val", runner.FLIPPED}


def test_the_saved_model_predicts_what_the_run_scored_and_shares_the_cache(tmp_path):
    plain = runner.run_experiment(_config(tmp_path, test_flips=False), tmp_path / "runs" / "plain", progress=False)
    result = runner.run_experiment(_config(tmp_path), tmp_path / "runs" / "flips", progress=False)
    hits = result.metrics["feature_cache_hits"]
    assert hits["fit"] and hits["train"] and hits["val"] and hits["val_flipped"] is False
    model = model_io.load(result.run_dir)
    assert isinstance(model.named_steps["features"], MirrorAveraged)
    splits = runner.load_splits(_config(tmp_path), progress=False)
    saved = np.load(result.run_dir / "predictions.npy")  # (labels, predicted) of the validation images
    np.testing.assert_array_equal(model.predict(splits.val.images), saved[1])
    assert not np.array_equal(np.load(plain.run_dir / "predictions.npy")[1], saved[1])  # the mirrors took part


def test_test_flips_must_be_a_boolean(tmp_path):
    with pytest.raises(ConfigError, match="test_flips"):
        _config(tmp_path, test_flips="yes please")


def _fitted_mlp(images, labels, hog):
    return MLPClassifier(hidden_sizes=(8,), epochs=3, batch_size=16, random_state=0).fit(hog.transform(images), labels)


def test_for_an_mlp_the_pair_is_scored_by_its_mean_probabilities():
    images, labels = _images(40), np.arange(40) % 3
    hog = HOG(pixels_per_cell=4, cells_per_block=2).fit(images)
    mlp = _fitted_mlp(images, labels, hog)
    pairs = MirrorPaired(hog).transform(images)
    own, mirror = hog.transform(images), hog.transform(np.ascontiguousarray(images[:, :, ::-1]))
    np.testing.assert_array_equal(pairs, np.concatenate([own, mirror], axis=1))
    vote = MirrorVote(mlp)
    expected = (mlp.predict_proba(own) + mlp.predict_proba(mirror)) / 2
    np.testing.assert_allclose(vote.predict_proba(pairs), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(vote.predict(pairs), mlp.classes_[np.argmax(expected, axis=1)])
    np.testing.assert_allclose(vote.decision_function(pairs),
                               (mlp.decision_function(own) + mlp.decision_function(mirror)) / 2, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match=r"paired features \(N, 2 D\).*\(40, 3\)"):
        vote.predict(np.zeros((40, 3)))


def test_the_vote_of_a_classifier_without_probabilities_uses_its_decision_values():
    images, labels = _images(40), np.arange(40) % 2
    hog = HOG(pixels_per_cell=4, cells_per_block=2).fit(images)
    svm = LinearSVM(C=1.0).fit(hog.transform(images), labels)
    vote = MirrorVote(svm)
    assert not hasattr(vote, "predict_proba")
    pairs = MirrorPaired(hog).transform(images)
    margin = vote.decision_function(pairs)
    assert margin.ndim == 1  # two classes: one margin
    np.testing.assert_array_equal(vote.predict(pairs), svm.classes_[(margin > 0).astype(int)])


def test_an_mlp_run_scores_mirrors_and_its_saved_model_predicts_the_same(tmp_path):
    plain = runner.run_experiment(_config(tmp_path, test_flips=False, classifier="mlp"), tmp_path / "runs" / "plain",
                                  progress=False)
    result = runner.run_experiment(_config(tmp_path, classifier="mlp"), tmp_path / "runs" / "flips", progress=False)
    model = model_io.load(result.run_dir)
    assert isinstance(model.named_steps["features"], MirrorPaired)
    assert isinstance(model.named_steps["classifier"], MirrorVote)
    splits = runner.load_splits(_config(tmp_path, classifier="mlp"), progress=False)
    saved = np.load(result.run_dir / "predictions.npy")
    np.testing.assert_array_equal(model.predict(splits.val.images), saved[1])
    # the same training (mirrors only score), so the same network: the predictions differ by the mirrors alone
    mlp = model.named_steps["classifier"].classifier
    own = mlp.predict_proba(model.named_steps["features"].features.transform(splits.val.images))
    np.testing.assert_array_equal(np.load(plain.run_dir / "predictions.npy")[1], mlp.classes_[own.argmax(axis=1)])
    assert (result.run_dir / "history.json").exists()  # the network's own record, not the vote's
    assert list(extractors_of(model)) == ["hog"]  # the report sees through the wrappers
