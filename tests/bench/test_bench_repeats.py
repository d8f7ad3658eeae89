"""Batch files asking for repeats (`repeat: N`, `seeds: [...]`), and the batch table's groups."""

import pytest

from featpipe.bench import load_batch
from featpipe.bench.table import format_summary, group_text
from featpipe.errors import ConfigError


def test_seeds_repeat_every_run_of_every_entry(write_batch):
    plan = load_batch(write_batch("""
name: s
seeds: [3, 5]
runs:
  - config: tiny-hog.yaml
    grid: {svm.C: [0.1, 1]}
"""))
    assert [(run.swept["svm.C"], run.config.seed) for run in plan.runs] == [(0.1, 3), (0.1, 5), (1, 3), (1, 5)]
    assert plan.swept_keys() == ["svm.C", "seed"]
    assert len({run.run_id for run in plan.runs}) == 4


def test_repeat_counts_up_from_the_runs_own_seed(write_batch):
    plan = load_batch(write_batch("""
name: r
repeat: 3
runs:
  - config: tiny-hog.yaml
    set: {seed: 10}
"""))
    assert [run.config.seed for run in plan.runs] == [10, 11, 12]


@pytest.mark.parametrize("text, message", [
    ("repeat: 2\nseeds: [1, 2]", "either repeat"),
    ("repeat: 0", "from 1 to 1000"),
    ("repeat: two", "from 1 to 1000"),
    ("seeds: []", "non-empty list"),
    ("seeds: [1, 1]", "lists a seed twice"),
    ("seeds: [-1]", "whole numbers >= 0"),
])
def test_bad_repeats_name_the_key(write_batch, text, message):
    with pytest.raises(ConfigError, match=message):
        load_batch(write_batch(f"name: bad\n{text}\nruns:\n  - config: tiny-hog.yaml\n"))


def test_sweeping_the_seed_and_asking_for_repeats_is_an_error(write_batch):
    with pytest.raises(ConfigError, match="sweeps seed, and the batch asks for seeds"):
        load_batch(write_batch("name: x\nseeds: [1, 2]\nruns:\n  - config: tiny-hog.yaml\n    grid: {seed: [0, 1]}\n"))


def test_summary_shows_the_best_groups_mean_and_spread():
    rows = [{"run_id": f"r{i}", "pipeline": "hog -> linear SVM", "status": "done", "val_accuracy": v,
             "group": "g1" if i < 3 else "g2", "group_runs": 3 if i < 3 else 1,
             "group_val_mean": 0.92 if i < 3 else 0.95, "group_val_std": 0.02 if i < 3 else None}
            for i, v in enumerate([0.90, 0.94, 0.92, 0.95])]
    assert group_text(rows[0]) == "92.00% ± 2.00 (3)"
    assert group_text(rows[3]) == "95.00% (1 run, no spread)"
    summary = format_summary(rows, [])
    assert "r3" in summary and "(1 run, no spread)" in summary  # the best group's best run
