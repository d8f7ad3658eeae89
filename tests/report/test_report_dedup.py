"""Copies of one run found under two folders are shown once, and the report says how many it folded;
two executions of the same config are never taken for copies."""

from __future__ import annotations

import json
import shutil

from report_runs import write_failed_run, write_run

from featpipe.report import build_report, collect_runs


def test_a_copied_run_folder_is_shown_once(tmp_path):
    root = tmp_path / "runs"
    original = write_run(root / "cluster", "hog-svm")
    write_run(root / "cluster", "mlp", features=("raw",), classifier="mlp", val=0.8)
    shutil.copytree(original, root / "laptop" / "hog-svm")
    copy = root / "laptop" / "hog-svm-renamed"
    shutil.copytree(original, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    (copy / "metrics.json").write_text(json.dumps(metrics, indent=4))  # re-indented: still a copy
    collection = collect_runs(root)
    assert sorted(run.path.relative_to(root).as_posix() for run in collection.runs) == ["cluster/hog-svm", "cluster/mlp"]
    assert [(a.relative_to(root).as_posix(), b.relative_to(root).as_posix()) for a, b in collection.folded] == [
        ("cluster/hog-svm", "laptop/hog-svm"), ("cluster/hog-svm", "laptop/hog-svm-renamed")]

    files = build_report(root, tmp_path / "out" / "report.html", images=False)
    assert files.n_runs == 2 and files.n_folded == 2
    page, markdown = files.html.read_text(), files.markdown.read_text()
    assert "2 duplicate run folder(s) folded" in page and "laptop/hog-svm (a copy of cluster/hog-svm)" in page
    assert "2 duplicate run folder(s) folded" in markdown
    assert page.count('<tr data-run="hog-svm"') == 1


def test_failed_runs_fold_only_when_their_records_match(tmp_path):
    root = tmp_path / "runs"
    failed = write_failed_run(root / "a", "broken-1")
    shutil.copytree(failed, root / "b" / "broken-1")
    write_failed_run(root / "a", "broken-2")  # another run of the batch (its own run ID): kept
    collection = collect_runs(root)
    assert len(collection.runs) == 2 and len(collection.folded) == 1


def test_a_report_without_copies_says_nothing_about_folding(tmp_path):
    write_run(tmp_path / "runs", "one")
    files = build_report(tmp_path / "runs", tmp_path / "r.html", images=False)
    assert files.n_folded == 0 and "folded" not in files.html.read_text()


def test_two_executions_of_one_config_are_both_shown(tmp_path):
    from featpipe.config import validate
    from featpipe.runner import run_experiment

    config = validate({"name": "twice", "seed": 0, "classifier": "svm", "svm": {"C": 1.0},
                       "data": {"source": "digits", "n_train": 120, "val_fraction": 0.25, "cache_dir": str(tmp_path)},
                       "features": {"hog": {"pixels_per_cell": 2, "cells_per_block": 2}},
                       "output": {"plots": False, "feature_cache": False}})
    for folder in ("first", "second"):
        run_experiment(config, tmp_path / "runs" / folder, progress=False)
    collection = collect_runs(tmp_path / "runs")
    assert len(collection.runs) == 2 and collection.folded == []
