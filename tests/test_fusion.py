"""Late fusion (featpipe.fusion, classifier: fusion): members' standardized scores, weighted and summed."""

from __future__ import annotations

import numpy as np
import pytest

from featpipe import inference, model_io, runner
from featpipe.config import dump_yaml, parse_config, validate
from featpipe.errors import ConfigError, InputError
from featpipe.fusion import LateFusion, class_scores
from featpipe.runs.results import results_row
from featpipe.svm import LinearSVM


def _problem(n=120, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    X = rng.normal(size=(n, d)) + np.eye(classes, d)[y] * 1.5
    return X.astype(np.float32), y


def test_scores_are_the_weighted_mean_of_each_members_scores_over_its_spread():
    X, y = _problem()
    fusion = LateFusion(members=[("a", LinearSVM(C=0.1)), ("b", LinearSVM(C=1.0))],
                        columns={"a": [0, 2], "b": [2, 6]}, weights=[1.0, 3.0]).fit(X, y)
    a = fusion.members[0][1].decision_function(X[:, :2])
    b = fusion.members[1][1].decision_function(X[:, 2:])
    np.testing.assert_allclose(fusion.scale_, [a.std(), b.std()])
    expected = (1.0 * a / a.std() + 3.0 * b / b.std()) / 4.0
    np.testing.assert_allclose(fusion.decision_function(X), expected, rtol=1e-6)
    np.testing.assert_array_equal(fusion.predict(X), fusion.classes_[expected.argmax(1)])


def test_equal_weights_by_default_and_fit_scales_matches_fit():
    X, y = _problem(seed=1)
    fitted = LateFusion(members=[("a", LinearSVM(C=1.0)), ("b", LinearSVM(C=1.0))], columns={"a": [0, 3], "b": [3, 6]}).fit(X, y)
    members = [(name, clf) for name, clf in fitted.members]
    again = LateFusion(members=members, columns={"a": [0, 3], "b": [3, 6]})
    again.fit_scales([members[0][1].decision_function(X[:, :3]), members[1][1].decision_function(X[:, 3:])])
    np.testing.assert_allclose(again.decision_function(X), fitted.decision_function(X))
    np.testing.assert_array_equal(fitted.member_weights(), [1.0, 1.0])


def test_two_class_members_give_one_column_per_class():
    X, y = _problem(classes=2)
    fusion = LateFusion(members=[("a", LinearSVM()), ("b", LinearSVM())], columns={"a": [0, 3], "b": [3, 6]}).fit(X, y)
    scores = fusion.decision_function(X)
    assert scores.shape == (len(X), 2)
    np.testing.assert_array_equal(class_scores(np.array([2.0, -1.0])), [[-2.0, 2.0], [1.0, -1.0]])
    a = fusion.members[0][1].decision_function(X[:, :3])  # (n,): positive means classes_[1]
    b = fusion.members[1][1].decision_function(X[:, 3:])
    positive = a / fusion.scale_[0] + b / fusion.scale_[1] > 0
    np.testing.assert_array_equal(fusion.predict(X), fusion.classes_[positive.astype(int)])


def test_members_of_different_tasks_constant_scores_and_bad_weights_are_refused():
    X, y = _problem()
    a, b = LinearSVM().fit(X[:, :3], y), LinearSVM().fit(X[:, 3:], (y + 1) % 4)  # b: classes 1..3 of 4
    b.classes_ = np.array([5, 6, 7])
    with pytest.raises(InputError, match="member 'b' has classes"):
        LateFusion(members=[("a", a), ("b", b)], columns={"a": [0, 3], "b": [3, 6]}).fit_scales([X[:, :3], X[:, :3]])
    b.classes_ = a.classes_
    with pytest.raises(InputError, match="'b' gives the same score"):
        LateFusion(members=[("a", a), ("b", b)], columns={"a": [0, 3], "b": [3, 6]}).fit_scales(
            [a.decision_function(X[:, :3]), np.ones((len(X), 3))])
    with pytest.raises(InputError, match="weights"):
        LateFusion(members=[("a", a), ("b", b)], columns={"a": [0, 3], "b": [3, 6]}, weights=[1.0, 0.0]).fit(X, y)
    with pytest.raises(InputError, match="two or more distinct names"):
        LateFusion(members=[("a", a), ("a", b)], columns={"a": [0, 3]}).fit(X, y)


def _fusion_config(tmp_path, **top):
    data = {"name": "fused", "seed": 0, "classifier": "fusion",
            "data": {"source": "digits", "n_train": 300, "val_fraction": 0.25, "cache_dir": str(tmp_path)},
            "fusion": {"members": {
                "hog": {"features": {"hog": {"pixels_per_cell": 2, "cells_per_block": 2}, "test_flips": True},
                        "svm": {"C": [0.01, 0.1]}},
                "raw": {"features": {"raw": {}, "train_flips": True}, "svm": {"C": 0.01}}}},
            "output": {"plots": False}}
    data.update(top)
    return validate(data)


def test_a_fusion_run_scores_each_member_and_saves_a_model_that_predicts_the_same(tmp_path):
    config = _fusion_config(tmp_path)
    result = runner.run_experiment(config, tmp_path / "runs" / "fused", progress=False)
    metrics = result.metrics
    assert metrics["classifier"] == "fusion" and metrics["features"] == ["hog", "raw"]
    members = metrics["members"]
    assert set(members) == {"hog", "raw"} and metrics["feature_dim"] == sum(m["feature_dim"] for m in members.values())
    assert members["hog"]["selection"]["parameter"] == "svm.C" and members["raw"]["selection"]["chosen"] == 0.01
    assert {"hog.val_flipped", "raw.train_flipped", "hog.fit", "raw.fit"} <= set(metrics["feature_cache_hits"])
    best_alone = max(m["accuracy"]["val"] for m in members.values())
    assert metrics["accuracy"]["val"] >= best_alone - 0.05  # the fusion is in the members' league

    model, _ = inference.load_model(result.run_dir)
    splits = runner.load_splits(config, progress=False)
    saved = np.load(result.run_dir / "predictions.npy")
    np.testing.assert_array_equal(model.predict(splits.val.images), saved[1])
    assert (saved[1] == splits.val.labels).mean() == pytest.approx(metrics["accuracy"]["val"])
    # the run folder's config reads back as the same run
    assert parse_config((result.run_dir / "config.yaml").read_text()).digest() == config.digest()
    row = results_row("fused", "done", metrics, config.to_dict())
    assert (row["family"], row["classifier"], row["features"]) == ("features + SVM", "fused linear SVMs", "hog+raw")
    hog_c = members["hog"]["selection"]["chosen"]
    assert row["selected"].startswith(f"hog C={hog_c} of ") and row["selected"].endswith("; raw C=0.01")


def test_fusion_members_reuse_the_features_of_single_pipeline_runs(tmp_path):
    config = _fusion_config(tmp_path)
    member = config.fusion.members["raw"]
    alone = validate({"name": "raw", "seed": 0, "classifier": "svm", "svm": member.svm.model_dump(),
                      "data": config.data.model_dump(mode="json"), "features": {"raw": {}, "train_flips": True},
                      "output": {"plots": False}})
    single = runner.run_experiment(alone, tmp_path / "runs" / "raw", progress=False).metrics
    fused = runner.run_experiment(config, tmp_path / "runs" / "fused", progress=False).metrics
    assert all(fused["feature_cache_hits"][f"raw.{stage}"] for stage in ("fit", "train", "val", "train_flipped"))
    assert fused["members"]["raw"]["accuracy"]["val"] == pytest.approx(single["accuracy"]["val"])


def test_fusion_config_errors_name_the_key_and_what_is_allowed(tmp_path):
    with pytest.raises(ConfigError, match="two or more members"):
        _fusion_config(tmp_path, fusion={"members": {"hog": {"features": {"hog": {}}}}})
    with pytest.raises(ConfigError, match="remove the top-level features section"):
        _fusion_config(tmp_path, features={"hog": {}})
    with pytest.raises(ConfigError, match="needs a fusion section"):
        _fusion_config(tmp_path, fusion=None)
    with pytest.raises(ConfigError, match="needs classifier: fusion"):
        _fusion_config(tmp_path, classifier="svm")
    members = {"a": {"features": {"hog": {}}}, "b": {"features": {"raw": {}}}}
    with pytest.raises(ConfigError, match=r"one weight per member"):
        _fusion_config(tmp_path, fusion={"members": members, "weights": {"a": 1.0}})
    with pytest.raises(ConfigError, match=r"positive and finite.*'b': -1"):
        _fusion_config(tmp_path, fusion={"members": members, "weights": {"a": 1.0, "b": -1.0}})
    with pytest.raises(ConfigError, match=r"unknown key 'fusion.members.a.svm.Cx' \(did you mean 'C'\?\)"):
        _fusion_config(tmp_path, fusion={"members": {**members, "a": {"features": {"hog": {}}, "svm": {"Cx": 1}}}})
    with pytest.raises(ConfigError, match="member name"):
        _fusion_config(tmp_path, fusion={"members": {"a b": {"features": {"hog": {}}}, "c": {"features": {"raw": {}}}}})


def test_overrides_reach_into_a_named_member(tmp_path):
    text = dump_yaml(_fusion_config(tmp_path))
    config = parse_config(text, overrides=["fusion.members.raw.svm.C=[0.5, 2]"])
    assert config.fusion.members["raw"].svm.c_values() == [0.5, 2.0]
    with pytest.raises(ConfigError, match=r"unknown key 'fusion.members.raw.svm.Cx'"):
        parse_config(text, overrides=["fusion.members.raw.svm.Cx=1"])


def test_the_fused_model_round_trips(tmp_path):
    X, y = _problem()
    fusion = LateFusion(members=[("a", LinearSVM()), ("b", LinearSVM(C=0.3))], columns={"a": [0, 2], "b": [2, 6]},
                        weights=[2.0, 1.0]).fit(X, y)
    model_io.save(fusion, tmp_path)
    np.testing.assert_array_equal(model_io.load(tmp_path).decision_function(X), fusion.decision_function(X))
