"""Finding and reading run folders: nested batches, failed, running, corrupt and mixed-data runs."""

from __future__ import annotations

import json
import os

import pytest
from report_runs import write_corrupt_run, write_failed_run, write_run

from featpipe.bench.state import marker_path
from featpipe.errors import ModelError
from featpipe.report import build_rows, collect_runs, find_run_dirs, group_by_data
from featpipe.report.table import unfinished_text


def test_finds_nested_run_folders_and_skips_hidden_ones(tmp_path):
    write_run(tmp_path, "a/one")
    write_run(tmp_path, "b/deeper/two")
    write_run(tmp_path, ".checkpoints/three", name="three")  # hidden: never a run
    write_run(tmp_path, ".two.abc.tmp", name="two")  # a writer's temporary folder
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.yaml").write_text("name: not-a-run\n")  # no metrics.json or error.json
    assert find_run_dirs(tmp_path) == [tmp_path / "a" / "one", tmp_path / "b" / "deeper" / "two"]


def test_a_run_folder_itself_is_a_collection_of_one(tmp_path):
    run_dir = write_run(tmp_path, "solo")
    collection = collect_runs(run_dir)
    assert [run.name for run in collection.runs] == ["solo"]
    assert collection.runs[0].done


def test_folder_without_runs_is_an_error_naming_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"empty: no run folders found .*config\.yaml and metrics\.json"):
        collect_runs(tmp_path / "empty")
    with pytest.raises(ModelError, match="nowhere: no such folder"):
        collect_runs(tmp_path / "nowhere")


def test_failed_and_running_runs_are_kept_with_their_status(tmp_path):
    write_run(tmp_path, "ok")
    write_failed_run(tmp_path, "broken-1", message="data.root: no such archive")
    running = write_run(tmp_path, "still-going")
    metrics = json.loads((running / "metrics.json").read_text())
    (running / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))
    runs = {run.name: run for run in collect_runs(tmp_path).runs}
    assert runs["ok"].status == "done"
    assert runs["broken"].status == "failed"
    assert runs["broken"].error == "InputError: data.root: no such archive"
    assert runs["still-going"].status == "running"


def test_corrupt_metrics_is_named_in_a_warning_and_skipped(tmp_path):
    write_run(tmp_path, "good")
    bad = write_corrupt_run(tmp_path, "bad")
    collection = collect_runs(tmp_path)
    assert [run.name for run in collection.runs] == ["good"]
    assert len(collection.warnings) == 1
    assert str(bad) in collection.warnings[0] and "metrics.json" in collection.warnings[0]
    assert "not valid JSON" in collection.warnings[0]


def test_only_corrupt_runs_is_an_error_listing_them(tmp_path):
    write_corrupt_run(tmp_path, "bad")
    with pytest.raises(ModelError, match=r"found 1 run folder\(s\) but none could be read:\n.*bad"):
        collect_runs(tmp_path)


def test_unreadable_history_is_a_warning_not_a_failure(tmp_path):
    run_dir = write_run(tmp_path, "mlp", features=("raw",), classifier="mlp")
    (run_dir / "history.json").write_text("[1, 2")
    collection = collect_runs(tmp_path)
    assert collection.runs[0].history is None
    assert "history.json" in collection.warnings[0]


def test_runs_are_grouped_by_data_fingerprint(tmp_path):
    write_run(tmp_path, "small-a", data_fingerprint="1" * 64, n_train=100)
    write_run(tmp_path, "small-b", data_fingerprint="1" * 64, n_train=100)
    write_run(tmp_path, "full", data_fingerprint="2" * 64)
    write_failed_run(tmp_path, "failed-on-full")  # same data section as "full": joins its group
    groups = group_by_data(collect_runs(tmp_path).runs)
    assert [sorted(run.name for run in g.runs) for g in groups] == [["small-a", "small-b"], ["broken", "full"]]
    assert "1111111111" in groups[0].label and "2222222222" in groups[1].label


def test_one_file_reached_by_two_spellings_is_one_data_set(tmp_path):
    """Runs that read the same archive through `a/main/../shared/x` and `a/shared/x` share a section."""
    spellings = {"near": ("/a/shared/x.tar.gz", "/a/shared/x.tar.gz"),
                 "far": ("/a/main/../shared/x.tar.gz", "../shared/x.tar.gz"),
                 "other": ("/a/other/y.tar.gz", "/a/other/y.tar.gz")}
    for name, (resolved, configured) in spellings.items():
        run_dir = write_run(tmp_path, name)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        metrics["data"]["source"] = f"folder:{resolved}[train]|split(val_fraction=0.1, seed=0):train"
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        config = (run_dir / "config.yaml").read_text()
        (run_dir / "config.yaml").write_text(config.replace("data:\n", f"data:\n  root: {configured}\n", 1))
    groups = group_by_data(collect_runs(tmp_path).runs)
    assert sorted(sorted(run.name for run in g.runs) for g in groups) == [["far", "near"], ["other"]]


def test_batch_manifest_adds_swept_values_and_runs_not_started(tmp_path):
    """A batch folder lists planned runs: found ones get their swept values, the rest show as pending/running."""
    write_run(tmp_path, "hog-svm-aaaa")
    planned = [{"run_id": "hog-svm-aaaa", "name": "hog-svm", "config_digest": None, "swept": {"svm.C": 0.1}},
               {"run_id": "hog-svm-bbbb", "name": "hog-svm", "config_digest": None, "swept": {"svm.C": 1.0}},
               {"run_id": "hog-svm-cccc", "name": "hog-svm", "config_digest": None, "swept": {"svm.C": 10.0}}]
    (tmp_path / "batch.json").write_text(json.dumps({"format": 1, "name": "sweep", "runs": planned}))
    marker = marker_path(tmp_path, "hog-svm-bbbb")
    marker.parent.mkdir()
    from featpipe.bench.state import host_name

    marker.write_text(json.dumps({"run_id": "hog-svm-bbbb", "host": host_name(), "pid": os.getpid()}))
    runs = {run.path.name: run for run in collect_runs(tmp_path).runs}
    assert runs["hog-svm-aaaa"].status == "done" and runs["hog-svm-aaaa"].swept == {"svm.C": 0.1}
    assert runs["hog-svm-bbbb"].status == "running"
    assert runs["hog-svm-cccc"].status == "pending"
    assert len(group_by_data(list(runs.values()))) == 1  # runs without data info join the main group
    rows = {row["path"]: row for row in build_rows(list(runs.values()), tmp_path)}
    assert rows["hog-svm-aaaa"]["swept"] == "svm.C=0.1"
    assert unfinished_text(rows["hog-svm-bbbb"]) == "still running"
    assert unfinished_text(rows["hog-svm-cccc"]) == "not started yet"


def test_unreadable_manifest_is_a_warning(tmp_path):
    write_run(tmp_path, "one")
    (tmp_path / "batch.json").write_text("{")
    collection = collect_runs(tmp_path)
    assert [run.name for run in collection.runs] == ["one"]
    assert "batch.json" in collection.warnings[0]
