"""Run folders as the runner and the batch runner write them, for the report tests.

`write_run` builds a folder with a validated config.yaml and a metrics.json holding the same keys
`featpipe.runner.run_experiment` writes, so collecting and tabulating can be tested in
milliseconds; the tests that need models and images make real tiny runs (conftest's `real_runs`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from featpipe import atomic
from featpipe.config import dump_yaml, validate

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
    metrics = {
        "name": name, "status": "done", "classifier": classifier, "features": list(features),
        "feature_dim": 144 if classifier == "svm" else 64,
        "accuracy": {split: s["accuracy"] for split, s in scores.items()}, "scores": scores,
        "selection": ({"parameter": "svm.C", "chosen": 1.0,
                       "trials": [{"C": 0.1, "val_accuracy": val - 0.05, "fit_seconds": 0.01, "solver": "LinearSVC"},
                                  {"C": 1.0, "val_accuracy": val, "fit_seconds": 0.01, "solver": "LinearSVC"}]}
                      if classifier == "svm" else None),
        "timings": {"load_data": 0.1, "features": 0.5 + rng.random(), "train": 1.0 + rng.random(), "predict": 0.01,
                    "feature_stages": {}},
        "feature_cache_hits": {}, "predict_images_per_s": 12345.6,
        "data": {"source": source, "class_names": CLASSES, "image_shape": [8, 8, 1],
                 "sizes": {"train": 24, "val": 30}, "fingerprints": {"train": "t" * 64, "val": data_fingerprint}},
        "seed": seed, "config_digest": resolved.digest(), "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:00:05+00:00", "versions": {}, "git_revision": None, "machine": {},
        "command": None, "model_bytes": 4321,
    }
    atomic.write_text(run_dir / "config.yaml", dump_yaml(resolved))
    atomic.write_json(run_dir / "metrics.json", metrics)
    if classifier == "mlp" and history:
        atomic.write_json(run_dir / "history.json", {
            "loss": [1.0, 0.6, 0.4], "train_acc": [0.5, 0.8, train], "val_acc": [0.5, val, val - 0.01],
            "lr": [0.1, 0.1, 0.1], "epoch_time": [0.1, 0.1, 0.1]})
    return run_dir


def write_failed_run(root: Path, folder: str, name: str = "broken", message: str = "features.hog: image too small",
                     config=None) -> Path:
    """A failed run's folder as `featpipe bench` records it: error.json, traceback.txt, config.yaml."""
    run_dir = Path(root) / folder
    if config is None:
        config = validate({"name": name, "data": {"source": "digits", "val_fraction": 0.2}, "features": {"hog": {}}})
    atomic.write_json(run_dir / "error.json", {"status": "failed", "run_id": folder, "name": name,
                                               "type": "InputError", "message": message})
    atomic.write_text(run_dir / "traceback.txt", "Traceback (most recent call last):\n  ...\n")
    atomic.write_text(run_dir / "config.yaml", dump_yaml(config))
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
