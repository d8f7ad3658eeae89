"""features.train_flips: the mirror image of every training image becomes a training row too; its
features are those of the mirrored images, cached apart from the originals, and validation is unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from featpipe import runner
from featpipe.config import validate
from featpipe.errors import ConfigError


def _config(tmp_path, flips=True):
    return validate({"name": "flips", "seed": 0, "classifier": "svm", "svm": {"C": 1.0},
                     "data": {"source": "digits", "n_train": 200, "val_fraction": 0.25, "cache_dir": str(tmp_path)},
                     "features": {"hog": {"pixels_per_cell": 2, "cells_per_block": 2}, "train_flips": flips},
                     "output": {"plots": False}})


def test_flipped_rows_are_the_features_of_the_mirrored_training_images(tmp_path):
    config = _config(tmp_path)
    splits = runner.load_splits(config, progress=False)
    computed = runner._compute_features(config, config.features, splits, progress=False)
    mirrored = np.ascontiguousarray(splits.train.images[:, :, ::-1])
    assert not np.array_equal(mirrored, splits.train.images)  # digits are not symmetric: a real test
    np.testing.assert_allclose(computed.features[runner.FLIPPED], computed.fitted.transform(mirrored), rtol=1e-6)
    np.testing.assert_array_equal(computed.features["train"], computed.fitted.transform(splits.train.images))
    assert set(computed.features) == {"train", "val", runner.FLIPPED}


def test_the_classifier_trains_on_both_copies_and_the_second_run_reads_them_from_the_cache(tmp_path, monkeypatch):
    seen = []
    real_search = runner.search_c

    def recording(make, c_values, X, y, X_val, y_val, **kwargs):
        seen.append((X.shape, np.bincount(y), X_val.shape))
        return real_search(make, c_values, X, y, X_val, y_val, **kwargs)

    monkeypatch.setattr(runner, "search_c", recording)
    config = _config(tmp_path)
    first = runner.run_experiment(config, tmp_path / "runs" / "first", progress=False).metrics
    plain = runner.run_experiment(_config(tmp_path, flips=False), tmp_path / "runs" / "plain", progress=False).metrics
    second = runner.run_experiment(config, tmp_path / "runs" / "second", progress=False).metrics
    n_train, n_val = first["data"]["sizes"]["train"], first["data"]["sizes"]["val"]
    (flipped, counts, val), (unflipped, plain_counts, _), _ = seen
    assert flipped[0] == 2 * n_train and unflipped[0] == n_train and val[0] == n_val
    np.testing.assert_array_equal(counts, 2 * plain_counts)  # every label twice
    assert first["feature_cache_hits"][runner.FLIPPED] is False
    assert plain["feature_cache_hits"]["train"] is True  # the originals are shared with the flipped run
    assert all(second["feature_cache_hits"].values())
    assert second["scores"]["val"]["accuracy"] == first["scores"]["val"]["accuracy"]


def test_train_flips_must_be_a_boolean(tmp_path):
    with pytest.raises(ConfigError, match="train_flips"):
        _config(tmp_path, flips="sometimes")
