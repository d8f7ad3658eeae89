"""Model files are data: damaged or hostile ones give one clear ModelError, never a traceback."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from safety_inputs import TINY
from PIL import Image

from featpipe import model_io
from featpipe.errors import ModelError


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished tiny HOG + SVM run folder (made once, copied by each test)."""
    from featpipe.config import parse_config
    from featpipe.runner import run_experiment

    root = tmp_path_factory.mktemp("model-run")
    config = parse_config(TINY.replace("{plots: false, feature_cache: false}",
                                       f"{{plots: false, feature_cache: false}}\n"), source="tiny")
    run_experiment(config.model_copy(update={"data": config.data.model_copy(update={"cache_dir": root / "cache"})}),
                   root / "run", progress=False)
    return root / "run"


@pytest.fixture
def run(finished_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(finished_run, folder)
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(tmp_path / "seven.png")
    return folder


def _npz_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_npz(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _largest_array(run) -> tuple[str, np.ndarray]:
    with np.load(run / "model.npz") as npz:
        name = max(npz.files, key=lambda k: npz[k].size)
        return name, npz[name]


def _array_node(node, name):
    """The {"__array__": name, ...} entry of a model.json document."""
    if isinstance(node, dict):
        if node.get("__array__") == name:
            return node
        children = node.values()
    else:
        children = node if isinstance(node, list) else []
    for child in children:
        found = _array_node(child, name)
        if found is not None:
            return found
    return None


def test_works_untouched(cli, run):
    cli("predict", run, run.parent / "seven.png", code=0, says=["seven.png:"])


@pytest.mark.parametrize("keep", [0, 0.5])
def test_empty_or_truncated_npz(cli, run, keep):
    path = run / "model.npz"
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    output = cli("predict", run, run.parent / "seven.png", code=1, says=[str(path), "truncated or corrupt"])
    assert "Aborted" not in output


def test_array_with_another_shape(cli, run):
    name, array = _largest_array(run)
    members = _npz_members(run / "model.npz")
    members[f"{name}.npy"] = _npy(array.reshape(-1)[:-1])
    _write_npz(run / "model.npz", members)
    cli("predict", run, run.parent / "seven.png", code=1,
        says=[str(run / "model.json"), f"array '{name}' has shape [{array.size - 1}]", f"expects {list(array.shape)}"])


def test_array_with_another_dtype(cli, run):
    name, array = _largest_array(run)
    members = _npz_members(run / "model.npz")
    other = np.float32 if array.dtype != np.float32 else np.float64
    members[f"{name}.npy"] = _npy(array.astype(other))
    _write_npz(run / "model.npz", members)
    cli("predict", run, run.parent / "seven.png", code=1, says=[f"array '{name}' has dtype {np.dtype(other)}"])


def test_huge_declared_shape_is_refused_before_allocating(cli, run):
    name, _ = _largest_array(run)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    members = _npz_members(run / "model.npz")
    members[f"{name}.npy"] = header.getvalue() + b"\0" * 64  # the header declares 8 TB
    _write_npz(run / "model.npz", members)
    cli("predict", run, run.parent / "seven.png", code=1,
        says=[str(run / "model.npz"), f"array '{name}' declares shape (1000000000000,)"])


def test_shape_too_big_for_memory_is_refused(run, monkeypatch):
    monkeypatch.setenv("FEATPIPE_MEMORY_LIMIT", "100B")
    with pytest.raises(ModelError, match=r"loading the arrays of .*model.npz needs about .* FEATPIPE_MEMORY_LIMIT"):
        model_io.load(run)


@pytest.mark.parametrize("name", ["featpipe.cli.TyperGroup", "featpipe.features.bovw.KMeans",
                                  "featpipe.model_io.Path", "featpipe.__main__.app"])
def test_classes_merely_imported_by_featpipe_are_refused(run, name):
    document = json.loads((run / "model.json").read_text())
    document["root"]["__estimator__"] = name
    (run / "model.json").write_text(json.dumps(document))
    with pytest.raises(ModelError, match=f"refusing to load class '{name}'"):
        model_io.load(run)


def test_deeply_nested_model_json(cli, run):
    (run / "model.json").write_text('{"format": "featpipe-model", "format_version": 1, "root": '
                                    + "[" * 100_000 + "]" * 100_000 + "}")
    cli("predict", run, run.parent / "seven.png", code=1, says=[str(run / "model.json")])


def test_arrays_that_agree_with_model_json_but_not_with_each_other(cli, run):
    """model.json and model.npz tampered together: the model is tried once before it is used."""
    name, array = _largest_array(run)
    members = _npz_members(run / "model.npz")
    smaller = array.reshape(-1)[:-1] if array.ndim == 1 else array[:, :-1]
    members[f"{name}.npy"] = _npy(np.ascontiguousarray(smaller))
    _write_npz(run / "model.npz", members)
    document = json.loads((run / "model.json").read_text())
    _array_node(document, name)["shape"] = list(smaller.shape)
    (run / "model.json").write_text(json.dumps(document))
    cli("predict", run, run.parent / "seven.png", code=1, says=[str(run / "model.npz"), "cannot be used"])


@pytest.mark.parametrize("damage, culprit", [
    (lambda m: m.pop("data"), "data"),
    (lambda m: m["data"].update(image_shape="32x32"), "data.image_shape"),
    (lambda m: m["data"].update(class_names=[1, 2]), "data.class_names"),
])
def test_malformed_metrics_json(cli, run, damage, culprit):
    metrics = json.loads((run / "metrics.json").read_text())
    damage(metrics)
    (run / "metrics.json").write_text(json.dumps(metrics))
    cli("predict", run, run.parent / "seven.png", code=1, says=[str(run / "metrics.json"), culprit])


def test_oversized_model_json(run, monkeypatch):
    monkeypatch.setattr(model_io, "MAX_JSON_BYTES", 100)
    with pytest.raises(ModelError, match=r"model.json: [\d,]+ bytes; a model's structure file holds at most 100"):
        model_io.load(run)
