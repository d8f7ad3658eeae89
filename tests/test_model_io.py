"""Model files round-trip without pickle and refuse to import anything unexpected."""

import json

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from featpipe import atomic, model_io
from featpipe.errors import ModelError


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, size=60)
    return Pipeline([("scale", StandardScaler()), ("svm", LinearSVC(C=0.5, dual=True))]).fit(X, y), X


@pytest.mark.parametrize("classifier", [LinearSVC(dual=True), SGDClassifier(average=True, random_state=0)])
def test_round_trip_gives_identical_decisions(tmp_path, classifier):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(80, 4)), rng.integers(0, 4, size=80)
    model = Pipeline([("scale", StandardScaler()), ("clf", classifier)]).fit(X, y)
    model_io.save(model, tmp_path)
    again = model_io.load(tmp_path)
    np.testing.assert_array_equal(model.decision_function(X), again.decision_function(X))
    assert again.named_steps["clf"].get_params() == model.named_steps["clf"].get_params()


def test_values_keep_their_types():
    tree, arrays = model_io.to_state(StandardScaler())
    assert arrays == {}
    value = {"t": (1, 2), "l": [1.5, "a"], "n": None, "inf": float("inf"), "a": np.arange(3)}
    encoded = model_io._encode(value, arrays)
    decoded = model_io._decode(json.loads(json.dumps(encoded)), arrays)
    assert decoded["t"] == (1, 2) and decoded["l"] == [1.5, "a"] and decoded["n"] is None
    assert decoded["inf"] == float("inf")
    np.testing.assert_array_equal(decoded["a"], np.arange(3))


def saved_with_edited_json(folder, model, edit):
    """Save `model` in `folder`, then apply `edit` to its model.json document (a tampered file)."""
    model_io.save(model, folder)
    document = json.loads((folder / "model.json").read_text())
    edit(document)
    (folder / "model.json").write_text(json.dumps(document))


def test_refuses_classes_outside_featpipe_and_allowlist(tmp_path, fitted):
    saved_with_edited_json(tmp_path, fitted[0], lambda d: d["root"].update({"__estimator__": "os.system"}))
    with pytest.raises(ModelError, match="refusing to load class 'os.system'"):
        model_io.load(tmp_path)


def test_refuses_private_attributes(tmp_path, fitted):
    saved_with_edited_json(tmp_path, fitted[0], lambda d: d["root"]["learned"].update({"__class__": "x"}))
    with pytest.raises(ModelError, match="not a learned attribute"):
        model_io.load(tmp_path)


def test_object_arrays_in_npz_are_not_unpickled(tmp_path, fitted):
    model, _ = fitted
    model_io.save(model, tmp_path)
    with np.load(tmp_path / "model.npz") as npz:
        arrays = dict(npz)
    arrays[next(iter(arrays))] = np.array([object()], dtype=object)
    np.savez(tmp_path / "model.npz", **arrays)  # holds a pickle now
    with pytest.raises(ModelError, match="model.npz: array .a0. holds Python objects"):
        model_io.load(tmp_path)


def test_missing_and_corrupt_files(tmp_path, fitted):
    with pytest.raises(ModelError, match="no saved model here"):
        model_io.load(tmp_path)
    model, _ = fitted
    model_io.save(model, tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a readable model file"):
        model_io.load(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": "featpipe-model", "format_version": 99}))
    with pytest.raises(ModelError, match="format version 99 is not supported"):
        model_io.load(tmp_path)


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with atomic.atomic_dir(target) as tmp:
            (tmp / "half.json").write_text("{")
            raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_complete_folder(tmp_path):
    target = tmp_path / "run"
    with atomic.atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with atomic.atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_atomic_write_failure_keeps_old_file(tmp_path):
    path = tmp_path / "m.json"
    atomic.write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic.write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_save_npy_writes_the_named_file(tmp_path):
    atomic.save_npy(tmp_path / "x.npy", np.arange(5))
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.arange(5))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import stat

    atomic.write_json(tmp_path / "m.json", {})
    with atomic.atomic_dir(tmp_path / "run") as tmp:
        (tmp / "x").write_text("1")
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o666 & ~atomic._UMASK
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o777 & ~atomic._UMASK
    assert atomic._UMASK & 0o400 == 0  # readable by the owner at least
