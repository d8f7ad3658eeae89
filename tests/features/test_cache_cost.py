"""The feature cache keeps what each entry cost to compute, and a run whose features it gives records
that cost (computed here / cost to compute); entries cached before costs were kept say "unknown"."""

from __future__ import annotations

import json

import pytest

from featpipe.features import HOG, ColorHistogram, FeatureConcat
from featpipe.features.cache import FeatureCache, cached_features


def _run(cache, images):
    extractor = FeatureConcat(extractors=[("hog", HOG()), ("color", ColorHistogram())])
    splits = {"train": (images, "fp-train"), "val": (images[:3], "fp-val")}
    return cached_features(extractor, images, "fp-train", splits, cache, 0)


def test_a_hit_gives_the_cost_the_producing_run_measured(tmp_path, photo_tiles):
    cache = FeatureCache(tmp_path)
    first = _run(cache, photo_tiles)
    assert first.hits == {"fit": False, "train": False, "val": False}
    assert first.cost == first.seconds  # computed here: what it took here, writing the cache included
    second = _run(cache, photo_tiles)
    assert second.hits == {"fit": True, "train": True, "val": True}
    # what the first run spent, measured up to the end of writing the data (the small JSON after it aside)
    assert all(0 < second.cost[stage] <= first.seconds[stage] for stage in first.seconds)
    assert _run(cache, photo_tiles).cost == second.cost  # read back, not measured again
    # fit_transform computed the train features in the fit's pass: their entry holds only its writing
    assert second.cost["train"] < second.cost["fit"]


def test_entries_cached_before_costs_were_kept_have_an_unknown_cost(tmp_path, photo_tiles):
    cache = FeatureCache(tmp_path)
    _run(cache, photo_tiles)
    for path in (tmp_path / "estimators").glob("*.json"):  # as an older featpipe wrote them
        document = json.loads(path.read_text())
        del document["seconds"], document["transform_included"]
        path.write_text(json.dumps(document))
    for path in (tmp_path / "costs").glob("*.json"):
        path.unlink()
    again = _run(cache, photo_tiles)
    assert again.hits == {"fit": True, "train": True, "val": True}
    assert again.cost == {"fit": None, "train": None, "val": None}


def test_train_features_cached_with_a_fit_that_is_gone_cost_unknown(tmp_path, photo_tiles):
    """Their seconds were part of the producing run's fit, which cannot be split: unknown, not 0."""
    cache = FeatureCache(tmp_path)
    first = _run(cache, photo_tiles)
    for path in (tmp_path / "estimators").iterdir():
        path.unlink()
    again = _run(cache, photo_tiles)
    assert again.hits == {"fit": False, "train": True, "val": True}
    assert again.cost["fit"] > 0 and again.cost["train"] is None
    assert 0 < again.cost["val"] <= first.seconds["val"]


def test_unreadable_cost_files_count_as_unknown(tmp_path, photo_tiles):
    cache = FeatureCache(tmp_path)
    _run(cache, photo_tiles)
    for path in (tmp_path / "costs").glob("*.json"):
        path.write_text('{"seconds": "soon"')
    assert _run(cache, photo_tiles).cost["val"] is None


def test_without_a_cache_everything_costs_what_it_took(photo_tiles):
    result = _run(None, photo_tiles)
    assert result.cost == result.seconds and result.cost["fit"] > 0


def test_a_run_from_the_cache_records_the_true_cost_in_metrics(tmp_path):
    """Two tiny real runs of one config: the second's features come from the cache; its metrics.json
    records the seconds spent here and, as cost to compute, what the first run spent."""
    from featpipe.config import validate
    from featpipe.runner import run_experiment
    from featpipe.runs.results import COMPUTED_HERE, COST_TO_COMPUTE, FEATURE_TIME, feature_time

    config = validate({"name": "cost", "seed": 0, "classifier": "svm", "svm": {"C": 1.0},
                       "data": {"source": "digits", "n_train": 200, "val_fraction": 0.25, "cache_dir": str(tmp_path)},
                       "features": {"hog": {"pixels_per_cell": 2, "cells_per_block": 2}}, "output": {"plots": False}})
    first = run_experiment(config, tmp_path / "runs" / "first", progress=False).metrics
    second = run_experiment(config, tmp_path / "runs" / "second", progress=False).metrics
    assert not any(first["feature_cache_hits"].values()) and all(second["feature_cache_hits"].values())
    made, reused = first[FEATURE_TIME], second[FEATURE_TIME]
    assert made[COST_TO_COMPUTE] == made[COMPUTED_HERE] == round(first["timings"]["features"], 4)
    assert reused[COMPUTED_HERE] == round(second["timings"]["features"], 4)
    # the second run's cost: its own overhead plus what each stage cost the first run (not its load times)
    stages = reused["cost_by_stage_s"]
    assert set(stages) == set(made["cost_by_stage_s"]) and reused["unknown"] == []
    assert all(0 < stages[stage] <= made["cost_by_stage_s"][stage] for stage in stages)
    overhead = reused[COMPUTED_HERE] - sum(second["timings"]["feature_stages"].values())
    assert reused[COST_TO_COMPUTE] == pytest.approx(overhead + sum(stages.values()), abs=1e-3)
    assert feature_time(second)[1:] == (reused[COST_TO_COMPUTE], "all")
