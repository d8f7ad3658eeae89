"""Fixtures for the report tests: a fake batch folder and a session's worth of tiny real runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_runs import snapshot, write_batch, write_failed_run

from featpipe.config import validate


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    """A batch folder: three finished runs (one per family), a failed one and a corrupt one."""
    return write_batch(tmp_path / "batch")


def _real_config(name: str, cache: Path, **sections):
    data = {"source": "digits", "val_fraction": 0.25, "n_train": 240, "cache_dir": str(cache)}
    return validate({"name": name, "seed": 0, "data": data, "output": {"feature_cache": False}, **sections})


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory) -> Path:
    """Tiny real runs on 240 digits, one per kind of picture the report draws, and a failed run.

    hog+color -> SVM (HOG glyphs, color histograms), bag of visual words -> SVM (codebook) and a
    softmax on pixels (learning curves, class templates).
    """
    from featpipe.runner import run_experiment

    root = tmp_path_factory.mktemp("real-runs")
    cache = tmp_path_factory.mktemp("real-cache")
    configs = [
        _real_config("hog-color-svm", cache, features={"hog": {"pixels_per_cell": 2, "cells_per_block": 2},
                                                       "color": {"space": "gray", "bins": 8, "grid": 2}},
                     classifier="svm", svm={"C": [0.1, 1.0]}),
        _real_config("bovw-svm", cache, features={"bovw": {"n_words": 8, "patch_size": 3, "n_patches": 400,
                                                           "kmeans_iter": 5}},
                     classifier="svm", svm={"C": 1.0}),
        _real_config("softmax", cache, features={"raw": {}, "normalize": "none"}, classifier="mlp",
                     mlp={"hidden_sizes": [], "epochs": 4, "batch_size": 32, "learning_rate": 0.05,
                          "optimizer": "momentum"}),
    ]
    for config in configs:
        run_experiment(config, root / config.name, progress=False)
    # as a batch records a run that raised: same data as the others, so it shares their table
    write_failed_run(root, "broken-0123456789", config=_real_config("broken", cache, features={"hog": {}}))
    return root


@pytest.fixture(scope="session")
def real_report(real_runs, tmp_path_factory):
    """The report over `real_runs` (three finished runs and a failed one), and the runs' files before it."""
    from featpipe.report import build_report

    before = snapshot(real_runs)
    out = tmp_path_factory.mktemp("report") / "cmp.html"
    files = build_report(real_runs, out, max_images=4)
    return files, before
