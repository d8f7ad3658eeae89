"""The report shows what features cost to compute, not only the seconds a run spent on them:
the results row, the table text, `featpipe run`'s summary, the CSV, and old run folders."""

from __future__ import annotations

import csv
import io
import json

import pytest
from report_runs import write_cached_sweep, write_run

from featpipe.report import build_rows, collect_runs, run_summary, to_csv
from featpipe.runs.results import (COLUMN_BY_KEY, COST_TO_COMPUTE, FEATURE_TIME, FEATURES_CACHED, FEATURES_COST,
                                   feature_time, feature_time_record)
from featpipe.summary import format_run


def test_the_record_swaps_the_cached_stages_seconds_for_their_cost():
    record = feature_time_record(0.5, {"fit": 0.1, "train": 0.2, "val": 0.1}, {"fit": True, "train": True, "val": False},
                                 {"fit": 120.0, "train": 40.0, "val": 0.1})
    # 0.1 s of overhead here, plus what each stage cost where it was computed
    assert record[COST_TO_COMPUTE] == pytest.approx(0.1 + 120.0 + 40.0 + 0.1)
    assert record["computed_here_s"] == 0.5 and record["unknown"] == []


def test_a_cached_stage_without_a_cost_makes_the_cost_unknown_never_a_guess():
    record = feature_time_record(0.5, {"fit": 0.1, "val": 0.1}, {"fit": True, "val": False}, {"fit": None, "val": 0.1})
    assert record[COST_TO_COMPUTE] is None and record["unknown"] == ["fit"]
    assert feature_time_record(0.5, {"fit": 0.1}, {"fit": True})[COST_TO_COMPUTE] is None  # no costs given
    assert feature_time_record(0.5, {"fit": 0.1}, {"fit": False})[COST_TO_COMPUTE] == 0.5  # computed here


def _rewrite(path, change):
    metrics = json.loads((path / "metrics.json").read_text())
    change(metrics)
    (path / "metrics.json").write_text(json.dumps(metrics))


@pytest.mark.parametrize("fmt", [1, 2])
def test_older_run_folders_report_a_cost_only_when_nothing_came_from_the_cache(tmp_path, fmt):
    computed = write_run(tmp_path, "computed")
    cached = write_run(tmp_path, "cached", seed=1)
    for path, hit in ((computed, False), (cached, True)):
        def older(metrics, hit=hit):
            del metrics[FEATURE_TIME]
            metrics["feature_cache_hits"] = {"fit": hit, "train": hit, "val": hit}
            metrics["format"] = fmt
            if fmt == 1:
                del metrics["format"]
        _rewrite(path, older)
    rows = {row["name"]: row for row in build_rows(collect_runs(tmp_path).runs)}
    assert rows["computed"][FEATURES_COST] == rows["computed"]["features_s"] and rows["computed"][FEATURES_CACHED] == "no"
    assert rows["cached"][FEATURES_COST] is None and rows["cached"][FEATURES_CACHED] == "all"
    assert COLUMN_BY_KEY[FEATURES_COST].text(rows["cached"]) == "unknown"
    parsed = {row["name"]: row for row in csv.DictReader(io.StringIO(to_csv(list(rows.values()))))}
    assert parsed["cached"][FEATURES_COST] == "" and float(parsed["computed"][FEATURES_COST]) > 0


def test_a_failed_run_has_no_cost_rather_than_an_unknown_one(tmp_path):
    from report_runs import write_failed_run

    write_failed_run(tmp_path, "broken")
    (row,) = build_rows(collect_runs(tmp_path).runs)
    assert COLUMN_BY_KEY[FEATURES_COST].text(row) == "-"


def test_table_and_summary_give_both_times_of_a_cached_run(tmp_path):
    paths = write_cached_sweep(tmp_path / "runs", 8)
    runs = {run.path.name: run for run in collect_runs(tmp_path / "runs").runs}
    rows = {row["path"]: row for row in build_rows(runs.values(), tmp_path / "runs")}
    cached, unknown, computed = paths[3].name, paths[7].name, paths[1].name  # see write_cached_sweep
    metrics = runs[cached].metrics
    row = rows[cached]
    assert row[FEATURES_CACHED] == "all" and row["features_s"] == metrics["timings"]["features"]
    assert row[FEATURES_COST] == metrics[FEATURE_TIME][COST_TO_COMPUTE] > 100 * row["features_s"]
    summary = run_summary(runs[cached])
    assert summary == format_run(metrics, runs[cached].path)
    here, cost = (COLUMN_BY_KEY[key].text(row) for key in ("features_s", FEATURES_COST))
    assert f"features {here}s" in summary  # the time line: what this run spent
    assert f"from the feature cache (all stages): {here}s here; computing them takes {cost}s" in summary
    assert "is unknown" in run_summary(runs[unknown]) and rows[unknown][FEATURES_COST] is None
    assert "feature cache" not in run_summary(runs[computed])
    assert rows[computed][FEATURES_COST] == rows[computed]["features_s"] == feature_time(runs[computed].metrics)[0]


def test_a_malformed_feature_time_is_named_when_the_folder_is_read(tmp_path):
    from featpipe.runs.folder import read_run_record

    path = write_run(tmp_path, "odd")
    _rewrite(path, lambda m: m[FEATURE_TIME].update(cost_to_compute_s="soon"))
    record, warnings = read_run_record(path)
    assert record is None and "feature_time.cost_to_compute_s is 'soon' (expected seconds or null" in warnings[0]
    _rewrite(path, lambda m: m[FEATURE_TIME].update(cost_to_compute_s=None))  # unknown is fine
    assert read_run_record(path)[0] is not None
