"""Run folders made by featpipe's own run-folder writer, with results chosen by the test.

`write_run` and `write_failed_run` call `featpipe.runs.folder` (`metrics_record`, `write_run`,
`write_failure`), the code the runner and the batch runner write with, so the fixtures cannot
drift from the format; only the numbers are made up, so collecting and tabulating can be tested
in milliseconds. The tests that need models and images make real tiny runs (conftest's `real_runs`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from featpipe.config import validate
from featpipe.runs import folder as run_folder

CLASSES = ["zero", "one", "two"]


def _scores(accuracy: float, n: int, rng: np.random.Generator) -> dict:
    k = len(CLASSES)
    per = n // k
    confusion = np.zeros((k, k), dtype=int)
    for i in range(k):
        right = int(round(accuracy * per))
        confusion[i, i] = right
        confusion[i, (i + 1) % k] = per - right
    per_class = {name: float(confusion[i, i] / per) for i, name in enumerate(CLASSES)}
    return {"accuracy": float(np.trace(confusion) / confusion.sum()), "n": int(confusion.sum()),
            "per_class": per_class, "confusion": confusion.tolist()}


def write_run(root: Path, folder: str, *, name: str | None = None, features=("hog",), classifier="svm",
              val=0.9, train=0.95, test=None, data_fingerprint="a" * 64, source="digits", n_train=None,
              hidden_sizes=(16,), history=True, seed=0) -> Path:
    """A finished run folder under `root` with the given results (metrics as run_experiment writes them)."""
    rng = np.random.default_rng(seed)
    run_dir = Path(root) / folder
    name = name or folder.replace("/", "-")
    config = {"name": name, "seed": seed, "data": {"source": "digits", "val_fraction": 0.2, "n_train": n_train},
              "features": {f: {} for f in features}, "classifier": classifier}
    if classifier == "mlp":
        config["mlp"] = {"hidden_sizes": list(hidden_sizes), "epochs": 3}
    else:
        config["svm"] = {"C": [0.1, 1.0]}
    resolved = validate(config)
    scores = {"train": _scores(train, 30, rng), "val": _scores(val, 30, rng)}
    if test is not None:
        scores["test"] = _scores(test, 30, rng)
    selection = None
    if classifier == "svm":
        solver = "liblinear"  # what featpipe.pipeline.svm_solver picks for so few features
        selection = {"parameter": "svm.C", "chosen": 1.0,
                     "trials": [{"C": 0.1, "val_accuracy": val - 0.05, "fit_seconds": 0.01, "solver": solver},
                                {"C": 1.0, "val_accuracy": val, "fit_seconds": 0.01, "solver": solver}]}
    metrics = run_folder.metrics_record(
        resolved, feature_dim=144 if classifier == "svm" else 64, scores=scores, selection=selection,
        timings={"load_data": 0.1, "features": 0.5 + rng.random(), "train": 1.0 + rng.random(), "predict": 0.01},
        feature_stages={}, cache_hits={}, images_per_s=12345.6,
        data={"source": source, "class_names": CLASSES, "image_shape": [8, 8, 1], "sizes": {"train": 24, "val": 30},
              "fingerprints": {"train": "t" * 64, "val": data_fingerprint}},
        started="2026-01-01T00:00:00+00:00",
    )
    history_record = None
    if classifier == "mlp" and history:
        history_record = {"loss": [1.0, 0.6, 0.4], "train_acc": [0.5, 0.8, train], "val_acc": [0.5, val, val - 0.01],
                          "lr": [0.1, 0.1, 0.1], "epoch_time": [0.1, 0.1, 0.1]}
    return run_folder.write_run(run_dir, resolved, metrics, history=history_record)


def write_failed_run(root: Path, folder: str, name: str = "broken", message: str = "features.hog: image too small",
                     config=None) -> Path:
    """A failed run's folder as `featpipe bench` records it: error.json, traceback.txt, config.yaml."""
    run_dir = Path(root) / folder
    if config is None:
        config = validate({"name": name, "data": {"source": "digits", "val_fraction": 0.2}, "features": {"hog": {}}})
    run_folder.write_failure(run_dir, config.to_dict(), {"type": "InputError", "message": message},
                             "Traceback (most recent call last):\n  ...\n")
    return run_dir


def write_corrupt_run(root: Path, folder: str) -> Path:
    """A run folder whose metrics.json was cut short."""
    run_dir = write_run(root, folder)
    (run_dir / "metrics.json").write_text('{"name": "cut", "accuracy": {"val": 0.', encoding="utf-8")
    return run_dir


def write_batch(root: Path) -> Path:
    """Three finished runs (one per family), a failed one and a corrupt one under `root`."""
    write_run(root, "hog-svm", features=("hog",), classifier="svm", val=0.9, train=1.0)
    write_run(root, "mlp-pixels", features=("raw",), classifier="mlp", val=0.8, train=0.9, seed=1)
    write_run(root, "mlp-hog", features=("hog", "color"), classifier="mlp", val=0.7, train=0.7, seed=2)
    write_failed_run(root, "broken-0123456789")
    write_corrupt_run(root, "cut-short")
    return root


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_cached_sweep(root: Path, n: int = 30) -> list[Path]:
    """A synthetic sweep (featpipe.runs.synthetic) whose runs look like a real batch's: fitting costs
    from a second to about an hour, every third run's features from the feature cache (at a known
    cost), and every seventh from an old cache entry that kept no cost. Returns the run folders."""
    import json

    from featpipe.runs.results import FEATURE_TIME, feature_time_record
    from featpipe.runs.synthetic import write_sweep

    paths = write_sweep(root, n)
    for index, path in enumerate(paths):
        metrics = json.loads((path / "metrics.json").read_text())
        scale = 10 ** (index % 4)  # 1 s .. 1000 s
        timings = metrics["timings"]
        stages = {"fit": 0.6 * scale, "train": 0.3 * scale, "val": 0.1 * scale}
        hits = {stage: False for stage in stages}
        costs = dict(stages)
        timings["train"] = round(timings["train"] * (1 + 2 * (index % 3)), 4)
        if index % 3 == 0 or index % 7 == 0:
            hits = {stage: True for stage in stages}
            stages = {stage: 0.01 for stage in stages}  # loading them
            if index % 7 == 0:
                costs = None
        timings["features"] = round(sum(stages.values()) + 0.02, 4)
        timings["feature_stages"] = stages
        metrics["feature_cache_hits"] = hits
        metrics[FEATURE_TIME] = feature_time_record(timings["features"], stages, hits, costs)
        (path / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return paths
