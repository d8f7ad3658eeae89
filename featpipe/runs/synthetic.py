"""Synthetic sweeps written by the real run-folder writer, for benchmarks and tests of the readers.

`write_sweep(root, n)` writes `n` finished run folders of a digits-shaped sweep without training
anything: HOG + SVM runs over svm.C and MLP runs over their hidden size, 10 seeds each, and a
second setting past 100 runs. Each run's validation predictions are drawn image by image
(right with a probability set by its settings), and its metrics, confusion matrix and
predictions.npy are computed from them, so the statistics downstream see consistent data.
Runs with the same seed share their validation images (the same fingerprint), as real runs do.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from ..metrics import classification_scores
from . import folder

CLASSES = [str(d) for d in range(10)]
N_VAL = 360  # 20% of scikit-learn's 1,797 digits
C_VALUES = (0.01, 0.1, 1.0, 10.0, 100.0)
WIDTHS = ([16], [32], [64], [128], [256])
SEEDS = 10


def sweep_settings(index: int) -> dict:
    """The settings of run `index` of a synthetic sweep (family, swept value, seed, second setting)."""
    return {"svm": index % 2 == 0, "value": (index // 2) % 5, "seed": (index // 10) % SEEDS, "second": index // 100}


def _config(settings: dict) -> dict:
    data = {"source": "digits", "val_fraction": 0.2}
    if settings["svm"]:
        return {"name": "synthetic-hog-svm", "seed": settings["seed"], "data": data,
                "features": {"hog": {"pixels_per_cell": 2, "orientations": 6 + 3 * settings["second"]}},
                "classifier": "svm", "svm": {"C": C_VALUES[settings["value"]]}, "output": {"plots": False}}
    return {"name": "synthetic-mlp", "seed": settings["seed"], "data": data, "features": {"raw": {}},
            "classifier": "mlp", "output": {"plots": False},
            "mlp": {"hidden_sizes": WIDTHS[settings["value"]], "epochs": 3, "weight_decay": 1e-4 * (1 + settings["second"])}}


def _true_accuracy(settings: dict) -> float:
    """The accuracy a synthetic run aims at: best at C=1 for the SVM, rising with width for the MLP."""
    if settings["svm"]:
        return 0.95 - 0.02 * abs(math.log10(C_VALUES[settings["value"]]))
    return 0.86 + 0.015 * settings["value"]


def write_sweep(root: str | Path, n: int, *, start: int = 0) -> list[Path]:
    """Write runs `start` .. `start + n - 1` of the synthetic sweep under `root`; returns their folders."""
    from ..config import validate

    root = Path(root)
    paths = []
    for index in range(start, start + n):
        settings = sweep_settings(index)
        config = validate(_config(settings))
        split = np.random.default_rng(1000 + settings["seed"])  # the validation images of this seed
        labels = split.integers(0, len(CLASSES), N_VAL)
        rng = np.random.default_rng(index)
        right = rng.random(N_VAL) < _true_accuracy(settings)
        predicted = np.where(right, labels, (labels + rng.integers(1, len(CLASSES), N_VAL)) % len(CLASSES))
        fingerprint = hashlib.sha256(f"synthetic-val-{settings['seed']}".encode()).hexdigest()
        metrics = folder.metrics_record(
            config, feature_dim=144 if settings["svm"] else 64,
            scores={"train": classification_scores(labels, np.where(rng.random(N_VAL) < 0.99, labels, predicted), CLASSES),
                    "val": classification_scores(labels, predicted, CLASSES)},
            selection={"parameter": "svm.C", "chosen": config.svm.C,
                       "trials": [{"C": config.svm.C, "val_accuracy": float(right.mean())}]} if settings["svm"] else None,
            timings={"load_data": 0.05, "features": 0.2 + rng.random(), "train": 0.5 + rng.random(), "predict": 0.01},
            feature_stages={}, cache_hits={}, images_per_s=50_000.0,
            data={"source": "digits", "class_names": CLASSES, "image_shape": [8, 8, 1],
                  "sizes": {"train": 1437, "val": N_VAL},
                  "fingerprints": {"train": fingerprint[::-1], "val": fingerprint}},
            started="2026-01-01T00:00:00+00:00",
        )
        history = None
        if not settings["svm"]:
            val = float(right.mean())
            history = {"loss": [1.2, 0.5, 0.3], "train_acc": [0.7, 0.9, 0.97], "val_acc": [0.6, val - 0.01, val],
                       "lr": [0.05, 0.03, 0.01], "epoch_time": [0.1, 0.1, 0.1]}
        paths.append(folder.write_run(root / f"run-{index:04d}", config, metrics, history=history,
                                      predictions=(labels, predicted)))
    return paths

