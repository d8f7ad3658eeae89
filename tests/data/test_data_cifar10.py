"""CIFAR-10's official python format: layouts accepted, validation, and refusal of hostile pickles."""

import functools
import hashlib
import pickle

import numpy as np
import pytest
from data_builders import CIFAR_NAMES, tar_folder, write_cifar_folder

import featpipe.data.cifar10 as cifar10_module
from featpipe.data import download_cifar10, load_source
from featpipe.data.cifar10 import read_batch
from featpipe.errors import DataError


def reference_image(row: np.ndarray) -> np.ndarray:
    """Pixel (r, c) of channel ch is row[ch * 1024 + r * 32 + c] (CIFAR-10 format description)."""
    image = np.zeros((32, 32, 3), np.uint8)
    for ch in range(3):
        for r in range(32):
            for c in range(32):
                image[r, c, ch] = row[ch * 1024 + r * 32 + c]
    return image


def check_splits(splits, expected, where):
    assert set(splits) == {"train", "test"}
    for split in ("train", "test"):
        ds = splits[split]
        rows, labels = expected[split]
        assert ds.class_names == tuple(CIFAR_NAMES)
        assert ds.images.shape == (len(rows), 32, 32, 3) and ds.images.dtype == np.uint8
        np.testing.assert_array_equal(ds.labels, labels)
        assert ds.source == f"cifar10:{where}[{split}]"
    for i in (0, len(expected["train"][0]) - 1):
        np.testing.assert_array_equal(splits["train"].images[i], reference_image(expected["train"][0][i]))
    np.testing.assert_array_equal(splits["test"].images[1], reference_image(expected["test"][0][1]))


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_batch_folder_loads_in_official_order(tmp_path, protocol):
    folder = tmp_path / "cifar-10-batches-py"
    expected = write_cifar_folder(folder, per_batch=3, protocol=protocol)
    splits = load_source("cifar10", root=folder, progress=False)
    check_splits(splits, expected, folder)
    assert len(splits["train"]) == 15 and len(splits["test"]) == 3


def test_parent_folder_and_archive_roots(tmp_path):
    expected = write_cifar_folder(tmp_path / "data" / "cifar-10-batches-py", per_batch=2)
    check_splits(load_source("cifar10", root=tmp_path / "data", progress=False), expected,
                 tmp_path / "data" / "cifar-10-batches-py")
    archive = tar_folder(tmp_path / "data" / "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz",
                         arcname="cifar-10-batches-py")
    check_splits(load_source("cifar10", root=archive, progress=False), expected, archive)
    holder = tmp_path / "holder"
    holder.mkdir()
    archive.rename(holder / "cifar-10-python.tar.gz")
    check_splits(load_source("cifar10", root=holder, progress=False), expected,
                 holder / "cifar-10-python.tar.gz")


def test_archive_placed_in_cache_by_hand_is_used_offline(tmp_path, isolated_cache):
    expected = write_cifar_folder(tmp_path / "cifar-10-batches-py", per_batch=2)
    target = isolated_cache / "cifar10" / "cifar-10-python.tar.gz"
    target.parent.mkdir()
    tar_folder(tmp_path / "cifar-10-batches-py", target, arcname="cifar-10-batches-py")
    check_splits(load_source("cifar10", download=False, progress=False), expected, target)


def test_offline_without_archive_says_where_to_put_it(isolated_cache):
    target = isolated_cache / "cifar10" / "cifar-10-python.tar.gz"
    with pytest.raises(DataError, match=rf"copy cifar-10-python\.tar\.gz .* to {target}, or set data\.root"):
        load_source("cifar10", download=False, progress=False)


def test_first_use_downloads_then_loads(tmp_path, isolated_cache, monkeypatch, http_server):
    expected = write_cifar_folder(tmp_path / "cifar-10-batches-py", per_batch=2)
    payload = tar_folder(tmp_path / "cifar-10-batches-py", tmp_path / "served.tar.gz",
                         arcname="cifar-10-batches-py").read_bytes()
    url = http_server({"/cifar-10-python.tar.gz": payload})
    md5 = hashlib.md5(payload).hexdigest()
    monkeypatch.setattr(cifar10_module, "download_cifar10",
                        functools.partial(download_cifar10, url=url + "/cifar-10-python.tar.gz", md5=md5))
    splits = load_source("cifar10", progress=False)
    check_splits(splits, expected, isolated_cache / "cifar10" / "cifar-10-python.tar.gz")


def test_missing_batch_and_wrong_root(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_folder(folder, per_batch=1)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match=rf"{folder} lacks data_batch_4"):
        load_source("cifar10", root=folder, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=f"no CIFAR-10 data in {tmp_path / 'empty'}"):
        load_source("cifar10", root=tmp_path / "empty", progress=False)
    with pytest.raises(DataError, match="does not exist"):
        load_source("cifar10", root=tmp_path / "nope", progress=False)


def rewrite_batch(path, **changes):
    batch = pickle.loads(path.read_bytes())  # our own test file: safe to unpickle
    for key, value in changes.items():
        if value is None:
            del batch[key.encode()]
        else:
            batch[key.encode()] = value
    path.write_bytes(pickle.dumps(batch, protocol=4))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"data": np.zeros((2, 3000), np.uint8)}, r"shape \(N, 3072\)"),
        ({"data": np.zeros((2, 3072), np.float64)}, "uint8"),
        ({"labels": [0, 10]}, r"labels must lie in 0\.\.9"),
        ({"labels": [0, -1]}, r"labels must lie in 0\.\.9"),
        ({"labels": [0]}, "2 images but labels"),
        ({"labels": ["cat", "dog"]}, "not integers"),
        ({"data": None}, "no 'data' entry"),
    ],
)
def test_malformed_batches_are_named(tmp_path, changes, match):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_folder(folder, per_batch=2)
    rewrite_batch(folder / "data_batch_3", **changes)
    with pytest.raises(DataError, match=rf"data_batch_3.*{match}|{match}.*data_batch_3"):
        load_source("cifar10", root=folder, progress=False)


def test_bad_meta_and_garbage_pickle(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_folder(folder, per_batch=1)
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": "airplane"}, protocol=4))
    with pytest.raises(DataError, match=r"batches\.meta: 'label_names'"):
        load_source("cifar10", root=folder, progress=False)
    (folder / "batches.meta").write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(DataError, match=r"cannot unpickle CIFAR-10 file .*batches\.meta"):
        load_source("cifar10", root=folder, progress=False)
    (folder / "batches.meta").write_bytes(pickle.dumps([1, 2], protocol=4))
    with pytest.raises(DataError, match=r"batches\.meta holds a list"):
        load_source("cifar10", root=folder, progress=False)


class _RunsCommand:
    """Unpickling this would call `func(*args)`: the classic pickle exploit."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize(
    "make_payload, refused",
    [
        (lambda marker: _RunsCommand(__import__("os").system, f"touch {marker}"), r"(os|posix)\.system"),
        (lambda marker: _RunsCommand(eval, f"open({str(marker)!r}, 'w').close()"), r"builtins\.eval"),
        (lambda marker: _RunsCommand(np.save, str(marker), np.zeros(1)), r"numpy\.save"),
    ],
)
def test_hostile_pickles_are_refused_before_running(tmp_path, make_payload, refused):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_folder(folder, per_batch=1)
    marker = tmp_path / "payload-ran"
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": make_payload(marker)}
    (folder / "data_batch_2").write_bytes(pickle.dumps(batch, protocol=4))
    with pytest.raises(DataError, match=rf"refusing to load .*data_batch_2: the pickle asks for {refused}"):
        load_source("cifar10", root=folder, progress=False)
    assert not marker.exists() and not marker.with_suffix(".npy").exists()


def test_payload_would_run_with_plain_pickle(tmp_path):
    # Guards the test above: the same payload does run when unpickled without restrictions.
    marker = tmp_path / "payload-ran"
    pickle.loads(pickle.dumps(_RunsCommand(eval, f"open({str(marker)!r}, 'w').close()")))
    assert marker.exists()


def test_read_batch_decodes_keys(tmp_path):
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps({b"data": np.arange(3, dtype=np.uint8), "plain": 1}, protocol=5))
    batch = read_batch(path)
    assert set(batch) == {"data", "plain"}
    np.testing.assert_array_equal(batch["data"], [0, 1, 2])


def test_oversized_or_special_batch_files_are_refused_before_reading(tmp_path, monkeypatch):
    write_cifar_folder(tmp_path)
    monkeypatch.setattr(cifar10_module, "_MAX_BATCH_BYTES", 1000)
    with pytest.raises(DataError, match=r"data_batch_1 is [\d,]+ bytes; a batch is about 31 MB"):
        read_batch(tmp_path / "data_batch_1")
    import os

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(DataError, match="fifo is not a regular file"):
        read_batch(tmp_path / "fifo")
