"""Data profiles: CIFAR-10 configs read the official set unless FEATPIPE_DATA_PROFILE says otherwise."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from featpipe.bench.plan import load_batch
from featpipe.cli import app
from featpipe.config import load_config
from featpipe.data.profile import PROFILE_ENV, load_run_config
from featpipe.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
CIFAR_CONFIGS = sorted((REPO / "configs" / "cifar10").glob("*.yaml"))


@pytest.mark.parametrize("path", CIFAR_CONFIGS, ids=lambda p: p.name)
def test_every_cifar10_config_reads_the_official_data_set_by_default(path, monkeypatch):
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    data = load_run_config(path).data
    assert (data.source, data.root, data.val_fraction) == ("cifar10", None, 0.1)


def write_profile(folder: Path, root: str = "archives/cifar.tar.gz") -> Path:
    (folder / "configs" / "data-profiles").mkdir(parents=True)
    (folder / "archives").mkdir()
    (folder / "archives" / "cifar.tar.gz").write_bytes(b"")
    path = folder / "configs" / "data-profiles" / "mine.yaml"
    path.write_text(f"cifar10:\n  source: folder\n  root: ../../{root}\n")
    return path


def test_the_profile_switches_run_and_batch_configs_to_the_local_archive(tmp_path, monkeypatch):
    write_profile(tmp_path)
    config = REPO / "configs" / "cifar10" / "hog_svm.yaml"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PROFILE_ENV, "mine")
    data = load_run_config(config).data
    archive = (tmp_path / "archives" / "cifar.tar.gz").resolve()
    assert (data.source, Path(data.root)) == ("folder", archive)  # relative to the profile file, not the cwd
    assert load_run_config(config, ["data.root=/elsewhere.tar.gz"]).data.root == Path("/elsewhere.tar.gz")
    assert load_config(config).data.source == "cifar10"  # a recorded config is read as it is
    batch = tmp_path / "batch.yaml"
    batch.write_text(f"name: b\nruns:\n  - config: {config}\n  - config: {REPO / 'configs/digits/hog_svm.yaml'}\n")
    cifar, digits = load_batch(batch).runs
    assert (cifar.config.data.source, Path(cifar.config.data.root)) == ("folder", archive)
    assert digits.config.data.source == "digits"


def test_an_unknown_profile_names_the_file_and_the_known_ones(tmp_path, monkeypatch):
    write_profile(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PROFILE_ENV, "lcoal")
    with pytest.raises(ConfigError, match="FEATPIPE_DATA_PROFILE=lcoal: no profile file .*found: mine"):
        load_run_config(REPO / "configs" / "cifar10" / "hog_svm.yaml")


def test_offline_without_the_official_archive_says_how_to_use_the_local_one(tmp_path, monkeypatch):
    from featpipe.data import load_source

    with pytest.raises(DataError, match="FEATPIPE_DATA_PROFILE=local"):
        load_source("cifar10", cache_dir=tmp_path, download=False, progress=False)


def test_run_help_names_the_switch():
    result = CliRunner().invoke(app, ["run", "--help"])
    assert "FEATPIPE_DATA_PROFILE=local" in result.output
