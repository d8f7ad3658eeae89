"""Image folders given as .tar.gz: loading, wrapper detection, and refusal of unsafe members."""

import tarfile

import numpy as np
import pytest
from data_builders import file_member, make_tar, png_bytes, tar_folder

from featpipe.data import archive as archive_module
from featpipe.data import load_source
from featpipe.data.archive import extract_archive
from featpipe.errors import DataError


def load(root, **kwargs):
    return load_source("folder", root=root, progress=False, **kwargs)


def assert_same_splits(a, b):
    assert set(a) == set(b)
    for split in a:
        assert a[split].class_names == b[split].class_names
        np.testing.assert_array_equal(a[split].images, b[split].images)
        np.testing.assert_array_equal(a[split].labels, b[split].labels)


@pytest.mark.parametrize("arcname, suffix", [(".", ".tar.gz"), ("pets", ".tgz")])
def test_archive_root_equals_folder_root(png_folder, tmp_path, isolated_cache, arcname, suffix):
    root, _ = png_folder
    archive = tar_folder(root, tmp_path / f"pets{suffix}", arcname=arcname)  # "pets": wrapper folder
    from_folder = load(root)
    from_archive = load(archive)
    assert_same_splits(from_folder, from_archive)
    assert from_archive["train"].source == f"folder:{archive}[train]"
    extracted = list((isolated_cache / "extracted").iterdir())
    assert len(extracted) == 1 and not extracted[0].name.startswith(".")  # no temp folder left


@pytest.mark.parametrize("top, split", [("train", "train"), ("Test", "Test"), ("pets", "train")])
def test_a_lone_top_folder_of_class_folders_is_a_split_if_named_like_one_else_a_wrapper(tmp_path, top, split):
    rng = np.random.default_rng(0)
    members = [
        file_member(f"{top}/{cls}/{i}.png", png_bytes(rng.integers(0, 256, (3, 3, 3), dtype=np.uint8)))
        for cls in ("a", "b")
        for i in range(2)
    ]
    splits = load(make_tar(tmp_path / "one.tar.gz", members))
    assert list(splits) == [split] and splits[split].class_names == ("a", "b")


def test_replaced_archive_is_extracted_afresh(png_folder, tmp_path, isolated_cache):
    root, _ = png_folder
    archive = tar_folder(root, tmp_path / "pets.tar.gz")
    assert len(load(archive)["train"]) == 7
    (root / "train" / "eel" / "001.png").unlink()
    tar_folder(root, archive)
    assert len(load(archive)["train"]) == 6
    assert len(list((isolated_cache / "extracted").iterdir())) == 2


def evil_members(kind):
    good = file_member("train/cat/0.png", png_bytes(np.zeros((2, 2, 3), np.uint8)))
    if kind == "dotdot":
        bad = file_member("train/../../escaped.png", b"x")
    elif kind == "absolute":
        bad = file_member("/tmp/featpipe-absolute.png", b"x")
    elif kind in ("symlink", "hardlink"):
        info = tarfile.TarInfo("train/cat/link.png")
        info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
        info.linkname = "/etc/passwd"
        bad = (info, None)
    elif kind in ("chardev", "fifo"):
        info = tarfile.TarInfo("train/cat/dev.png")
        info.type = tarfile.CHRTYPE if kind == "chardev" else tarfile.FIFOTYPE
        bad = (info, None)
    return [good, bad]


@pytest.mark.parametrize(
    "kind, name, why",
    [
        ("dotdot", "train/../../escaped.png", "contains '..'"),
        ("absolute", "/tmp/featpipe-absolute.png", "absolute path"),
        ("symlink", "train/cat/link.png", "symbolic link"),
        ("hardlink", "train/cat/link.png", "hard link"),
        ("chardev", "train/cat/dev.png", "device or FIFO"),
        ("fifo", "train/cat/dev.png", "device or FIFO"),
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_extracted(tmp_path, isolated_cache, kind, name, why):
    archive = make_tar(tmp_path / f"{kind}.tar.gz", evil_members(kind))
    with pytest.raises(DataError, match=rf"refusing to extract .*{kind}\.tar\.gz: member '{name}' .*{why}"):
        load(archive)
    assert list((isolated_cache / "extracted").iterdir()) == []
    assert not (tmp_path.parent / "escaped.png").exists()


def test_corrupt_archive_is_a_data_error(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(DataError, match=r"cannot extract archive .*broken\.tar\.gz"):
        load(archive)


def test_interrupted_extraction_leaves_nothing_usable(png_folder, tmp_path, isolated_cache, monkeypatch):
    root, _ = png_folder
    archive = tar_folder(root, tmp_path / "pets.tar.gz")
    real_extract = archive_module._extract_member
    count = []

    def extract_then_die(tar, member, dest):
        count.append(member)
        if len(count) == 6:
            raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the archive
        return real_extract(tar, member, dest)

    monkeypatch.setattr(archive_module, "_extract_member", extract_then_die)
    with pytest.raises(KeyboardInterrupt):
        extract_archive(archive, progress=False)
    assert list((isolated_cache / "extracted").iterdir()) == []  # temp folder removed, no target
    monkeypatch.setattr(archive_module, "_extract_member", real_extract)
    assert len(load(archive)["train"]) == 7
