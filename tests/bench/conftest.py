"""Tiny digits configs and batch files for the bench tests (each run takes well under a second)."""

import json
from pathlib import Path

import pytest

from featpipe.bench.local import LocalExecutor
from featpipe.bench.table import TIMING_COLUMNS

# 300 digits, 8x8: HOG + a linear SVM fits in a few hundred milliseconds; no plots to draw.
TINY_HOG = """
name: tiny-hog
seed: 0
data: {source: digits, n_train: 300, val_fraction: 0.25, cache_dir: CACHE}
features:
  hog: {pixels_per_cell: 2, cells_per_block: 2}
svm: {C: 0.1}
output: {plots: false}
"""

TINY_RAW = """
name: tiny-raw
seed: 0
data: {source: digits, n_train: 300, val_fraction: 0.25, cache_dir: CACHE}
features:
  raw: {}
svm: {C: [0.01, 0.1]}
output: {plots: false}
"""


@pytest.fixture
def configs(tmp_path) -> Path:
    """A folder with tiny-hog.yaml and tiny-raw.yaml, whose cache is tmp_path/cache.

    The cache folder is in the configs (not only in $FEATPIPE_CACHE) because workers shared
    between tests keep the environment of the test that started them.
    """
    folder = tmp_path / "configs"
    folder.mkdir()
    for name, text in (("tiny-hog.yaml", TINY_HOG), ("tiny-raw.yaml", TINY_RAW)):
        (folder / name).write_text(text.replace("CACHE", str(tmp_path / "cache")))
    return folder


@pytest.fixture(scope="session")
def shared_executor():
    """Two local worker processes kept for the whole session: starting workers costs more than tiny runs."""
    with LocalExecutor(jobs=2, retries=2) as executor:
        yield executor


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


@pytest.fixture
def sweep_batch(write_batch) -> Path:
    """A batch of 4 tiny runs: HOG with three C values, raw pixels with its own C search."""
    return write_batch(SWEEP)


def _table_without_timings(out: Path) -> list[dict]:
    rows = json.loads((out / "results.json").read_text())["runs"]
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


@pytest.fixture
def table_without_timings():
    """Read OUT/results.json rows, leaving out the columns that measure speed."""
    return _table_without_timings
