"""Batch files: sweep expansion, layering, run identity and every bad input, without running anything."""

import os
from pathlib import Path

import pytest

from featpipe.bench import load_batch, parse_batch
from featpipe.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]


def test_grid_is_a_cartesian_product_first_key_outermost(write_batch):
    plan = load_batch(write_batch("""
name: g
runs:
  - config: tiny-hog.yaml
    grid:
      svm.C: [0.01, 0.1, 1]
      features.hog.pixels_per_cell: [2, 4]
"""))
    swept = [run.swept for run in plan.runs]
    assert swept == [{"svm.C": c, "features.hog.pixels_per_cell": p} for c in (0.01, 0.1, 1) for p in (2, 4)]
    for run in plan.runs:
        assert run.config.svm.C == run.swept["svm.C"]
        cell = run.swept["features.hog.pixels_per_cell"]
        assert run.config.features.hog.pixels_per_cell == (cell, cell)  # stored in canonical pair form
    assert plan.swept_keys() == ["svm.C", "features.hog.pixels_per_cell"]
    assert len({run.run_id for run in plan.runs}) == 6


def test_zip_moves_lists_together_and_multiplies_the_grid(write_batch):
    plan = load_batch(write_batch("""
name: z
runs:
  - config: tiny-hog.yaml
    grid: {svm.C: [0.1, 1]}
    zip:
      features.hog.orientations: [6, 9, 12]
      seed: [1, 2, 3]
"""))
    pairs = [(r.config.svm.C, r.config.features.hog.orientations, r.config.seed) for r in plan.runs]
    assert pairs == [(c, o, s) for c in (0.1, 1) for o, s in ((6, 1), (9, 2), (12, 3))]


def test_layering_base_config_batch_set_entry_set(configs, write_batch):
    (configs / "base.yaml").write_text("seed: 7\ndata: {source: digits, n_train: 200, val_fraction: 0.3}\n"
                                       "features: {raw: {}, normalize: none}\noutput: {plots: false}\n")
    plan = load_batch(write_batch("""
name: layered
base: base.yaml
set: {data.n_train: 250}
runs:
  - name: base-only                # no config file: the base plus overrides
    set: {svm.C: 0.5}
  - config: tiny-hog.yaml          # its own features replace the base's
    set: {seed: 3}
"""))
    base_only, hog = plan.runs
    assert base_only.name == "base-only" and base_only.config.seed == 7
    assert list(base_only.config.features.extractors()) == ["raw"] and base_only.config.svm.C == 0.5
    assert list(hog.config.features.extractors()) == ["hog"]  # not raw + hog
    assert hog.config.features.normalize == "block"  # replaced whole, so the default again
    assert hog.config.data.val_fraction == 0.25  # the entry's config file beats the base
    assert hog.config.seed == 3  # the entry's set beats its config file
    assert base_only.config.data.n_train == hog.config.data.n_train == 250  # the batch's set beats both


def test_ids_are_stable_prefixed_and_follow_the_config(write_batch, tmp_path, monkeypatch):
    path = write_batch("name: s\nruns:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [0.1, 1]}\n")
    first = load_batch(path)
    monkeypatch.chdir(tmp_path)  # another working directory: digits runs keep their IDs
    again = load_batch(path)
    assert [r.run_id for r in first.runs] == [r.run_id for r in again.runs]
    assert all(r.run_id.startswith("tiny-hog-") and len(r.run_id) == len("tiny-hog-") + 10 for r in first.runs)
    changed = parse_batch("name: s\nruns:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [0.1, 1]}\n"
                          "    set: {features.hog.orientations: 8}\n", path)
    assert not {r.run_id for r in first.runs} & {r.run_id for r in changed.runs}


def test_data_identity_follows_the_archive_file_and_data_paths_become_absolute(configs, tmp_path, monkeypatch):
    data = tmp_path / "work" / "data.tar.gz"
    data.parent.mkdir()
    data.write_bytes(b"not read while planning")
    (configs / "folder.yaml").write_text("name: f\ndata: {source: folder, root: data.tar.gz}\n")
    batch = configs / "b.yaml"
    batch.write_text("name: b\nruns:\n  - config: folder.yaml\n")
    monkeypatch.chdir(data.parent)  # data paths are relative to the working directory
    run = load_batch(batch).runs[0]
    assert run.config.data.root == data  # absolute, so a worker elsewhere reads the same file
    os.utime(data, ns=(1, 1))  # same bytes, new mtime: a new data identity
    assert load_batch(batch).runs[0].run_id != run.run_id
    data.unlink()
    with pytest.raises(DataError, match=r"data.root .*data.tar.gz does not exist"):
        load_batch(batch)


def test_config_paths_are_relative_to_the_batch_file_and_globs_give_one_entry_per_file(write_batch, tmp_path,
                                                                                         monkeypatch):
    path = write_batch("name: all\nruns:\n  - config: 'tiny-*.yaml'\n    set: {svm.C: 2.0}\n")
    monkeypatch.chdir(tmp_path)
    plan = load_batch(path)
    assert [r.name for r in plan.runs] == ["tiny-hog", "tiny-raw"]
    assert all(r.config.svm.C == 2.0 for r in plan.runs)


def test_shipped_quickstart_batch_runs_every_digits_config():
    plan = load_batch(REPO / "configs" / "quickstart.yaml")
    digits = sorted(p.stem for p in (REPO / "configs" / "digits").glob("*.yaml"))
    assert len(plan.runs) == len(digits) >= 6
    assert all(run.config.data.source == "digits" for run in plan.runs)
    assert {run.config.classifier for run in plan.runs} == {"svm", "mlp"}


def test_shipped_cifar10_batch_runs_every_cifar10_config(monkeypatch):
    monkeypatch.chdir(REPO)  # data profiles are looked up under the repository root
    monkeypatch.setenv("FEATPIPE_DATA_PROFILE", "local")  # the configs default to the official download
    archive = REPO / "../shared/data/cifar10-train-jpeg.tar.gz"
    if not archive.is_file():
        pytest.skip("the shared CIFAR-10 archive is not here")
    plan = load_batch(REPO / "configs" / "batches" / "cifar10_comparison.yaml")
    names = {load_batch_config_name(p) for p in (REPO / "configs" / "cifar10").glob("*.yaml")}
    assert {run.name for run in plan.runs} == names
    # absolute for the workers (compared without resolving links: shared/ may be a symlink)
    assert all(Path(run.config.data.root).samefile(archive) and Path(run.config.data.root).is_absolute()
               for run in plan.runs)


def load_batch_config_name(path: Path) -> str:
    from featpipe.config import load_config

    return load_config(path).name


# ---------------------------------------------------------------- bad input, each named


@pytest.mark.parametrize("body, message", [
    ("runs:\n  - config: tiny-hog.yaml\n    grid: {features.hog.pixel_per_cell: [2, 4]}\n",
     r"batch.yaml: runs\[0\] \(tiny-hog.yaml\): unknown key 'features.hog.pixel_per_cell' "
     r"\(did you mean 'pixels_per_cell'\?\)"),
    ("runs:\n  - config: tiny-hog.yaml\n    grid: {svm.C: []}\n",
     r"runs\[0\] \(tiny-hog.yaml\): grid: svm.C: the list of values is empty"),
    ("runs:\n  - config: tiny-hog.yaml\n    grid: {svm.C: 0.1}\n",
     r"grid: svm.C: expected a list of values to sweep, got 0.1"),
    ("runs:\n  - config: tiny-hog.yaml\n    zip: {svm.C: [0.1, 1], seed: [1, 2, 3]}\n",
     r"zip: the lists must have equal lengths .*svm.C has 2, seed has 3"),
    ("runs:\n  - config: tiny-hog.yaml\n  - config: tiny-hog.yaml\n    set: {seed: 1}\n",
     r"runs\[1\] \(tiny-hog.yaml\): two batch entries are named 'tiny-hog'"),
    ("runs:\n  - config: nope.yaml\n", r"runs\[0\]: config: config file not found: .*nope.yaml \(relative paths"),
    ("base: nope.yaml\nruns:\n  - set: {seed: 1}\n", r"batch.yaml: base: config file not found: .*nope.yaml"),
    ("runs:\n  - config: 'nope-*.yaml'\n", r"'nope-\*.yaml' matches no file"),
    ("runs:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [0.1, 0.1]}\n", r"gives the same run as"),
    ("runs:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [-1]}\n", r"svm.C=-1\]: invalid config:\n  svm.C: C must be"),
    ("runs:\n  - config: tiny-hog.yaml\n    sweep: {svm.C: [1]}\n", r"runs\[0\]: unknown key 'sweep'"),
    ("runs: []\n", r"runs: expected a non-empty list"),
    ("run:\n  - config: tiny-hog.yaml\n", r"unknown key 'run' in batch file; valid keys: name,"),
])
def test_bad_batch_input_is_named(write_batch, body, message):
    with pytest.raises(ConfigError, match=message):
        load_batch(write_batch("name: bad\n" + body))


def test_invalid_yaml_names_the_line(write_batch):
    with pytest.raises(ConfigError, match=r"batch.yaml: YAML syntax error at line 4"):
        load_batch(write_batch("name: bad\nruns:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [0.1, 1}\n"))


def test_batch_needs_a_valid_name(write_batch):
    with pytest.raises(ConfigError, match=r"batch.yaml: name: expected a name of letters"):
        load_batch(write_batch("runs:\n  - config: tiny-hog.yaml\n"))


def test_missing_batch_file(tmp_path):
    with pytest.raises(ConfigError, match=r"batch file not found: .*none.yaml"):
        load_batch(tmp_path / "none.yaml")
