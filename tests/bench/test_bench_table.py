"""The results table's summary: best run per pipeline family, read from rows."""

from featpipe.bench.table import best_per_pipeline, format_summary


def row(run_id, pipeline, val, status="done", **extra):
    return {"run_id": run_id, "pipeline": pipeline, "val_accuracy": val, "train_accuracy": 1.0,
            "status": status, "feature_dim": 10, "train_s": 0.5, "predict_images_per_s": 1000.0,
            "model_bytes": 2048, "selected": None, **extra}


def test_best_per_pipeline_ignores_unfinished_runs_and_sorts_best_first():
    rows = [
        row("hog-1", "hog -> linear SVM", 0.90, **{"svm.C": 0.1}),
        row("hog-2", "hog -> linear SVM", 0.95, **{"svm.C": 1.0}),
        row("hog-3", "hog -> linear SVM", None, status="failed"),
        row("raw-1", "raw -> softmax", 0.97),
        row("raw-2", "raw -> softmax", None, status="pending"),
        row("mlp-1", "raw -> MLP 128", None, status="failed"),
    ]
    assert [r["run_id"] for r in best_per_pipeline(rows)] == ["raw-1", "hog-2"]
    text = format_summary(rows, ["svm.C"])
    header, rule, first, second = text.splitlines()
    assert header.split()[:4] == ["pipeline", "runs", "val", "acc"]
    assert first.startswith("raw -> softmax") and first.split()[3:5] == ["1", "97.00%"]
    assert second.startswith("hog -> linear SVM") and "svm.C=1.0" in second and second.endswith("hog-2")
    assert second.split()[4:6] == ["2", "95.00%"]  # best of the two finished HOG runs
    assert "MLP" not in text


def test_summary_without_finished_runs():
    assert format_summary([row("a", "raw -> softmax", None, status="failed")], []) == "no finished runs yet"
