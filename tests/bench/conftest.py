"""Tiny digits configs and batch files for the bench tests (each run takes well under a second)."""

import json
from pathlib import Path

import pytest

from featpipe.bench.table import TIMING_COLUMNS

# 300 digits, 8x8: HOG + a linear SVM fits in a few hundred milliseconds; no plots to draw.
TINY_HOG = """
name: tiny-hog
seed: 0
data: {source: digits, n_train: 300, val_fraction: 0.25}
features:
  hog: {pixels_per_cell: 2, cells_per_block: 2}
svm: {C: 0.1}
output: {plots: false}
"""

TINY_RAW = """
name: tiny-raw
seed: 0
data: {source: digits, n_train: 300, val_fraction: 0.25}
features:
  raw: {}
svm: {C: [0.01, 0.1]}
output: {plots: false}
"""


@pytest.fixture
def configs(tmp_path) -> Path:
    """A folder with tiny-hog.yaml and tiny-raw.yaml."""
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "tiny-hog.yaml").write_text(TINY_HOG)
    (folder / "tiny-raw.yaml").write_text(TINY_RAW)
    return folder


@pytest.fixture
def write_batch(configs):
    """Write batch YAML text into the configs folder (so `config: tiny-hog.yaml` resolves) and return its path."""

    def write(text: str, name: str = "batch.yaml") -> Path:
        path = configs / name
        path.write_text(text)
        return path

    return write


SWEEP = """
name: sweep
runs:
  - config: tiny-hog.yaml
    grid: {svm.C: [0.01, 0.1, 1.0]}
  - config: tiny-raw.yaml
"""


def table_without_timings(out: Path) -> list[dict]:
    """results.json rows with the columns that measure speed left out."""
    rows = json.loads((out / "results.json").read_text())["runs"]
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]
