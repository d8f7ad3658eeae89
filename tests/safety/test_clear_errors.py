"""Mistakes a user makes get one clear message naming the key, value or class, never a traceback."""

from __future__ import annotations

import shutil

import pytest
from safety_inputs import TINY


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_infinite_learning_rate_fails_at_config_read_with_the_key(cli, tmp_path, value):
    config = tmp_path / "mlp.yaml"
    # the data root does not exist: the error must come before any data is loaded
    config.write_text(f"classifier: mlp\ndata: {{source: folder, root: {tmp_path / 'missing'}}}\n"
                      f"mlp: {{learning_rate: {value}}}\n")
    cli("run", config, "--out", tmp_path / "runs", code=2, says=[str(config), "mlp.learning_rate", "finite number"])
    cli("bench", _batch(tmp_path, config), "--dry-run", code=2, says=["mlp.learning_rate"])


def _batch(tmp_path, config):
    batch = tmp_path / "batch.yaml"
    batch.write_text(f"name: b\nruns:\n  - config: {config.name}\n")
    return batch


def _folder_config(tmp_path, root, classifier="svm"):
    path = tmp_path / "folder.yaml"
    path.write_text(f"name: f\nclassifier: {classifier}\ndata: {{source: folder, root: '{root}', val_fraction: 0.5}}\n"
                    "features: {raw: {}}\nmlp: {epochs: 1}\noutput: {plots: false, feature_cache: false}\n")
    return path


@pytest.mark.parametrize("classifier", ["svm", "mlp"])
def test_a_single_class_is_named(cli, tmp_path, image_folder, classifier):
    for name in ("blue", "green"):
        shutil.rmtree(image_folder / "train" / name)
    cli("run", _folder_config(tmp_path, image_folder, classifier), "--out", tmp_path / "runs", "-q", code=1,
        says=["every training image is of class 'red'", "at least two classes"])
    assert not (tmp_path / "runs").exists()


def test_a_class_present_only_in_another_split(cli, tmp_path, image_folder):
    for name in ("blue", "green"):
        shutil.rmtree(image_folder / "train" / name)
    (image_folder / "test" / "blue").mkdir(parents=True)
    shutil.copy(image_folder / "train" / "red" / "0.png", image_folder / "test" / "blue" / "0.png")
    cli("run", _folder_config(tmp_path, image_folder), "--out", tmp_path / "runs", "-q", code=1,
        says=["of class 'red' ('blue' has none)"])
