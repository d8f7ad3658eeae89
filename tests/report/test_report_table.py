"""The comparison table: rows, families, values, agreement with `featpipe run`'s summary, CSV, Markdown."""

from __future__ import annotations

import csv
import io

import pytest
from report_runs import write_failed_run, write_run

from featpipe.report import build_rows, collect_runs, family_of, to_csv
from featpipe.report.markdown import markdown_table
from featpipe.report.table import COLUMN_BY_KEY, cell_text, visible_columns
from featpipe.summary import format_run


@pytest.mark.parametrize("features, classifier, family", [
    (["hog", "color"], "svm", "features + SVM"),
    (["raw"], "svm", "features + SVM"),
    (["raw"], "mlp", "MLP on pixels"),
    (["zca"], "mlp", "MLP on pixels"),
    (["hog"], "mlp", "MLP on features"),
    (["raw", "hog"], "mlp", "MLP on features"),
])
def test_family(features, classifier, family):
    assert family_of(features, classifier) == family


def test_one_row_per_run_best_validation_first_unfinished_last(batch):
    rows = build_rows(collect_runs(batch).runs, batch)
    assert [row["name"] for row in rows] == ["hog-svm", "mlp-pixels", "mlp-hog", "broken"]
    assert [row["status"] for row in rows] == ["done", "done", "done", "failed"]
    assert [row["val_accuracy"] for row in rows[:3]] == [0.9, 0.8, 0.7]
    assert rows[3]["val_accuracy"] is None and rows[3]["error"].startswith("InputError")
    assert [row["family"] for row in rows[:3]] == ["features + SVM", "MLP on pixels", "MLP on features"]


def test_row_values_come_from_metrics_history_and_config(tmp_path):
    svm_dir = write_run(tmp_path, "svm", features=("hog", "color"), classifier="svm", val=0.9, test=0.8)
    write_run(tmp_path, "mlp", features=("raw",), classifier="mlp", val=0.8, hidden_sizes=(32, 16))
    write_run(tmp_path, "softmax", features=("raw",), classifier="mlp", val=0.7, hidden_sizes=())
    rows = {row["name"]: row for row in build_rows(collect_runs(tmp_path).runs, tmp_path)}
    svm = rows["svm"]
    import json

    metrics = json.loads((svm_dir / "metrics.json").read_text())
    assert svm["features"] == "color+hog" and svm["classifier"] == "linear SVM"  # the registry's order
    assert svm["feature_dim"] == metrics["feature_dim"]
    assert svm["test_accuracy"] == metrics["accuracy"]["test"]
    assert svm["features_s"] == metrics["timings"]["features"]
    assert svm["train_s"] == metrics["timings"]["train"]
    assert svm["predict_images_per_s"] == metrics["predict_images_per_s"]
    assert svm["model_bytes"] == metrics["model_bytes"]
    assert svm["selected"] == "C=1.0 of 0.1, 1.0"
    assert svm["path"] == "svm"
    assert rows["mlp"]["classifier"] == "MLP 32-16"
    assert rows["softmax"]["classifier"] == "softmax"
    assert rows["mlp"]["selected"] == "best val at epoch 2 of 3"  # history val_acc peaks at epoch 2


def test_model_size_falls_back_to_the_files_on_disk(tmp_path):
    import json

    run_dir = write_run(tmp_path, "old")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    del metrics["model_bytes"]
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "model.json").write_text("{}")
    (run_dir / "model.npz").write_bytes(b"x" * 100)
    assert build_rows(collect_runs(tmp_path).runs)[0]["model_bytes"] == 102


def test_table_text_agrees_with_the_run_summary(batch):
    """Every accuracy, time and throughput the table prints appears as such in `featpipe run`'s summary."""
    collection = collect_runs(batch)
    rows = {row["name"]: row for row in build_rows(collection.runs, batch)}
    for run in collection.runs:
        if not run.done:
            continue
        summary = format_run(run.metrics, run.path)
        row = rows[run.name]
        for key, split in (("train_accuracy", "train"), ("val_accuracy", "val")):
            assert f"{split} {cell_text(row, COLUMN_BY_KEY[key])}" in summary
        assert f"features {cell_text(row, COLUMN_BY_KEY['features_s'])}s" in summary
        assert f"train {cell_text(row, COLUMN_BY_KEY['train_s'])}s" in summary
        assert f"predicts {cell_text(row, COLUMN_BY_KEY['predict_images_per_s'])} images/s" in summary
        if run.metrics.get("selection"):
            chosen = run.metrics["selection"]["chosen"]
            assert f"chosen on validation: {chosen}" in summary and f"C={chosen} " in row["selected"]


def test_visible_columns_drop_empty_ones(batch):
    rows = build_rows(collect_runs(batch).runs)
    keys = [column.key for column in visible_columns(rows)]
    assert "test_accuracy" not in keys and "swept" not in keys  # no run has a test split or a sweep
    assert {"name", "status", "val_accuracy", "train_s", "selected"} <= set(keys)


def test_csv_round_trips_raw_values(batch):
    rows = build_rows(collect_runs(batch).runs, batch)
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["name"] for r in parsed] == [row["name"] for row in rows]
    for line, row in zip(parsed, rows):
        for key in ("val_accuracy", "train_s", "feature_dim", "model_bytes"):
            assert (float(line[key]) if line[key] else None) == row[key]
    assert parsed[-1]["status"] == "failed" and parsed[-1]["error"].startswith("InputError")


def test_markdown_table_has_a_line_per_row_and_escapes_pipes(tmp_path):
    write_run(tmp_path, "ok", val=0.9)
    write_failed_run(tmp_path, "bad", message="a | b")
    rows = build_rows(collect_runs(tmp_path).runs)
    columns = visible_columns(rows)
    lines = markdown_table(rows, columns).splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[1].startswith("| --- | --- |") and "---:" in lines[1]  # numbers right-aligned
    assert all(line.count(" | ") == len(columns) - 1 for line in lines)
    assert "| 90.00% |" in lines[2]
    rows[1]["selected"] = "x | y"
    assert "x \\| y" in markdown_table(rows, columns)


@pytest.mark.parametrize("accuracy, n, expected", [
    (0.5, 100, (0.4038, 0.5962)),  # the textbook values for 50 of 100
    (1.0, 20, (0.8389, 1.0)),  # stays inside [0, 1] where the normal approximation would not
    (0.0, 20, (0.0, 0.1611)),
])
def test_wilson_interval(accuracy, n, expected):
    from featpipe.report.table import wilson_interval

    assert wilson_interval(accuracy, n) == pytest.approx(expected, abs=1e-4)


def test_precision_note_names_the_validation_size_and_interval(batch):
    from featpipe.report.table import precision_note

    rows = build_rows(collect_runs(batch).runs)
    note = precision_note(rows, 30)
    assert note.startswith("30 validation images: one image is 3.33% of accuracy")
    assert "90.00% has a 95% interval of 74.4% to 96.5%" in note
    assert precision_note(rows, None) is None
