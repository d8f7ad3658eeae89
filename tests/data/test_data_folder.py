"""The image-folder source: decoding, layout rules, the .npy cache and its invalidation."""

import json
import os

import numpy as np
import pytest
from data_builders import random_image, write_image
from PIL import Image

import featpipe.data.images as images_module
from featpipe.data import load_source
from featpipe.errors import DataError


def load(root, **kwargs):
    return load_source("folder", root=root, progress=False, **kwargs)


def test_png_folder_loads_pixel_exact_with_shared_class_list(png_folder):
    root, written = png_folder
    splits = load(root)
    assert set(splits) == {"train", "test"}
    for split, ds in splits.items():
        assert ds.class_names == ("cat", "dog", "eel")  # union over splits, sorted
        assert ds.images.dtype == np.uint8 and ds.images.shape[1:] == (6, 5, 3)
        assert ds.source == f"folder:{root}[{split}]"
        expected_images, expected_labels = [], []
        for cls in sorted(written[split]):
            expected_images += written[split][cls]
            expected_labels += [ds.class_names.index(cls)] * len(written[split][cls])
        np.testing.assert_array_equal(ds.images, np.stack(expected_images))
        np.testing.assert_array_equal(ds.labels, expected_labels)
    assert 2 not in splits["test"].labels  # the test split has no eel, labels still agree


def test_jpeg_extensions_any_case_and_hidden_files_skipped(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "j"
    smooth = np.full((8, 8, 3), 120, np.uint8)
    write_image(root / "train" / "a" / "x.JPG", smooth, format="JPEG", quality=95)
    write_image(root / "train" / "a" / "y.jpeg", smooth, format="JPEG", quality=95)
    write_image(root / "train" / "b" / "z.Png", random_image(rng, (8, 8, 3)))
    (root / "train" / "a" / ".DS_Store").write_bytes(b"\x00junk")
    (root / "train" / "b" / "._z.Png").write_bytes(b"mac resource fork")
    (root / "train" / ".hidden_class").mkdir()
    (root / "README.txt").write_text("loose files beside the splits are ignored")
    ds = load(root)["train"]
    assert len(ds) == 3 and ds.class_names == ("a", "b")
    assert np.abs(ds.images[:2].astype(int) - 120).max() <= 2  # JPEG is lossy, but not by much


def test_grayscale_only_folder_gives_one_channel(tmp_path):
    rng = np.random.default_rng(2)
    gray = [random_image(rng, (4, 4)) for _ in range(2)]
    write_image(tmp_path / "g" / "train" / "a" / "0.png", gray[0])
    write_image(tmp_path / "g" / "train" / "b" / "0.png", gray[1])
    ds = load(tmp_path / "g")["train"]
    assert ds.images.shape == (2, 4, 4, 1)
    np.testing.assert_array_equal(ds.images[..., 0], np.stack(gray))


def test_mixed_grayscale_and_colour_gives_rgb_with_replicated_gray(tmp_path):
    rng = np.random.default_rng(3)
    gray, rgba = random_image(rng, (4, 4)), random_image(rng, (4, 4, 4))
    write_image(tmp_path / "m" / "train" / "a" / "0.png", gray)
    write_image(tmp_path / "m" / "train" / "b" / "0.png", rgba)
    ds = load(tmp_path / "m")["train"]
    assert ds.images.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(ds.images[0], np.repeat(gray[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(ds.images[1], rgba[:, :, :3])  # alpha dropped


def test_second_load_comes_from_cache_without_decoding(png_folder, monkeypatch, isolated_cache):
    root, _ = png_folder
    first = load(root)
    manifests = list((isolated_cache / "folders").glob("*/manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["class_names"] == ["cat", "dog", "eel"] and manifest["files"] == {"test": 3, "train": 7}

    def refuse(*args, **kwargs):
        raise AssertionError("decoded although the cache is valid")

    monkeypatch.setattr(images_module, "decode_image", refuse)
    second = load(root)
    for split in first:
        assert second[split].fingerprint() == first[split].fingerprint()


def counting_decoder(monkeypatch):
    calls = []
    real = images_module.decode_image

    def decode(path, image_size=None, max_pixels=None):
        calls.append(path)
        return real(path, image_size, max_pixels)

    monkeypatch.setattr(images_module, "decode_image", decode)
    return calls


def test_touched_or_added_file_invalidates_the_cache(png_folder, monkeypatch):
    root, _ = png_folder
    load(root)
    calls = counting_decoder(monkeypatch)
    load(root)
    assert calls == []

    target = root / "train" / "dog" / "000.png"
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    load(root)
    assert len(calls) == 10  # the whole folder was decoded again

    calls.clear()
    write_image(root / "train" / "dog" / "new.png", random_image(np.random.default_rng(9)))
    splits = load(root)
    assert len(calls) == 11 and len(splits["train"]) == 8


def test_image_size_resizes_with_pillow_and_keys_the_cache(tmp_path):
    rng = np.random.default_rng(4)
    big, small = random_image(rng, (12, 10, 3)), random_image(rng, (6, 6, 3))
    write_image(tmp_path / "s" / "train" / "a" / "big.png", big)
    write_image(tmp_path / "s" / "train" / "b" / "small.png", small)
    with pytest.raises(DataError, match=r"images differ in size: .*(big|small)\.png is \d+x\d+.*data\.image_size"):
        load(tmp_path / "s")
    ds = load(tmp_path / "s", image_size=(8, 7))["train"]
    assert ds.images.shape == (2, 8, 7, 3)
    reference = np.asarray(Image.fromarray(big).resize((7, 8), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(ds.images[0], reference)
    assert load(tmp_path / "s", image_size=(5, 5))["train"].images.shape == (2, 5, 5, 3)


@pytest.mark.parametrize("size", [(0, 4), (4,), "32", (4.0, 4), (True, 4)])
def test_bad_image_size_is_rejected(png_folder, size):
    with pytest.raises(DataError, match="data.image_size"):
        load(png_folder[0], image_size=size)


def test_missing_root_and_plain_file_root(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path / 'nowhere'} does not exist"):
        load(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DataError, match="not a .tar.gz"):
        load(tmp_path / "file.txt")
    with pytest.raises(DataError, match="needs a root"):
        load(None)


def test_layout_errors_name_the_path(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    (root / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=f"no folders in {root}: expected .*<split>/<class>/.* or .*<class>/<image>"):
        load(root)
    (root / "train").mkdir()
    with pytest.raises(DataError, match=f"split folder {root / 'train'} has no class folders"):
        load(root)
    (root / "train" / "cat").mkdir()
    (root / "train" / "cat" / ".DS_Store").write_bytes(b"x")
    with pytest.raises(DataError, match=f"class folder {root / 'train' / 'cat'} is empty"):
        load(root)


def test_class_folders_alone_are_the_training_split(png_folder, tmp_path):
    root, _ = png_folder
    split_layout = load(root)["train"]
    flat = load(root / "train")  # <root>/<class>/<image>: the common layout of labelled images
    assert list(flat) == ["train"]
    assert flat["train"].class_names == split_layout.class_names == ("cat", "dog", "eel")
    np.testing.assert_array_equal(flat["train"].images, split_layout.images)
    np.testing.assert_array_equal(flat["train"].labels, split_layout.labels)
    (root / "train" / "notes.txt").write_text("beside the class folders: ignored, as beside split folders")
    assert len(load(root / "train")["train"]) == len(split_layout)


def test_a_folder_mixing_both_layouts_is_refused(tmp_path):
    rng = np.random.default_rng(6)
    write_image(tmp_path / "r" / "cat" / "0.png", random_image(rng))  # a class folder ...
    write_image(tmp_path / "r" / "train" / "dog" / "0.png", random_image(rng))  # ... beside a split
    with pytest.raises(DataError, match=r"cat.0\.png lies directly in split folder .*cat, in no class folder"):
        load(tmp_path / "r")
    write_image(tmp_path / "flat" / "cat" / "0.png", random_image(rng))
    write_image(tmp_path / "flat" / "stray.png", random_image(rng))  # an unlabelled image among the classes
    with pytest.raises(DataError, match=r"stray\.png lies directly in folder .*flat, in no class folder"):
        load(tmp_path / "flat")


def test_loose_image_in_split_and_nested_folder_are_errors(tmp_path):
    rng = np.random.default_rng(5)
    write_image(tmp_path / "r" / "train" / "cat" / "0.png", random_image(rng))
    write_image(tmp_path / "r" / "train" / "stray.png", random_image(rng))
    with pytest.raises(DataError, match=r"stray\.png lies directly in split folder"):
        load(tmp_path / "r")
    (tmp_path / "r" / "train" / "stray.png").unlink()
    (tmp_path / "r" / "train" / "cat" / "sub").mkdir()
    with pytest.raises(DataError, match=r"unexpected folder .*sub inside class folder"):
        load(tmp_path / "r")


def test_non_image_file_in_class_folder_is_named(png_folder):
    root, _ = png_folder
    (root / "train" / "dog" / "labels.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"labels\.csv is not an image file"):
        load(root)


def test_corrupt_and_truncated_images_are_named(png_folder):
    root, _ = png_folder
    bad = root / "train" / "cat" / "001.png"
    good_bytes = bad.read_bytes()
    bad.write_bytes(good_bytes[: len(good_bytes) // 2])
    with pytest.raises(DataError, match=r"cannot decode image .*001\.png"):
        load(root)
    bad.write_bytes(b"this is not a png at all")
    with pytest.raises(DataError, match=r"cannot decode image .*001\.png"):
        load(root)


def test_a_stale_or_damaged_cache_is_rebuilt(png_folder, isolated_cache):
    root, _ = png_folder
    expected = load(root)["train"].fingerprint()
    (cache,) = (isolated_cache / "folders").iterdir()
    (cache / "train.images.npy").write_bytes(b"")
    assert load(root)["train"].fingerprint() == expected
