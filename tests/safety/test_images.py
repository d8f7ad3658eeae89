"""Image folders: only PNG/JPEG decoded (by content), a pixel limit, links kept inside, system files skipped."""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

from featpipe.data import images as images_module
from featpipe.data import load_source
from featpipe.errors import DataError


def folder_config(tmp_path, root, extra: str = "") -> str:
    path = tmp_path / "folder.yaml"
    path.write_text(
        f"name: folder\ndata: {{source: folder, root: '{root}', val_fraction: 0.5{extra}}}\n"
        "features: {raw: {}}\nsvm: {C: 0.1}\noutput: {plots: false, feature_cache: false}\n"
    )
    return path


def run_ok(cli, tmp_path, root, extra=""):
    return cli("run", folder_config(tmp_path, root, extra), "--out", tmp_path / "runs", "--name", "r", "-q", code=0)


def run_fails(cli, tmp_path, root, says, extra=""):
    output = cli("run", folder_config(tmp_path, root, extra), "--out", tmp_path / "runs", "-q", code=1, says=says)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    return output


# First bytes of formats Pillow would decode (or hand to Ghostscript) if it picked the plugin.
FOREIGN = {
    "PostScript": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 12 12\nshowpage\n",
    "TIFF": None,  # written by Pillow below
    "GIF": None,
    "BMP": None,
}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_other_formats_are_reported_as_what_they_are(cli, tmp_path, image_folder, kind):
    culprit = image_folder / "train" / "red" / "0.png"
    if FOREIGN[kind] is not None:
        culprit.write_bytes(FOREIGN[kind])
    else:
        Image.new("RGB", (12, 12)).save(culprit, format=kind)
    run_fails(cli, tmp_path, image_folder, [str(culprit), f"{'a PostScript file' if kind == 'PostScript' else kind}",
                                            "not a PNG or JPEG"])


def test_a_jpeg_named_png_is_decoded_by_content(cli, tmp_path, image_folder):
    culprit = image_folder / "train" / "red" / "0.png"
    Image.open(culprit).convert("RGB").save(culprit, format="JPEG", quality=95)
    run_ok(cli, tmp_path, image_folder)


def _big_png(path, width=2000, height=1500):
    Image.new("L", (width, height), 7).save(path)  # compresses to a few KB


def test_pixel_limit_in_run_names_file_and_setting(cli, tmp_path, image_folder):
    culprit = image_folder / "train" / "blue" / "big.png"
    _big_png(culprit)
    run_fails(cli, tmp_path, image_folder, [str(culprit), "2000x1500 pixels", "over the limit of 1,000,000",
                                            "data.max_image_pixels"], extra=", max_image_pixels: 1000000")


def test_pixel_limit_default_and_pillow_warning(tmp_path, image_folder, monkeypatch):
    culprit = image_folder / "train" / "blue" / "big.png"
    _big_png(culprit)
    monkeypatch.setattr(images_module, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(DataError, match="over the limit of 1,000,000"):
        images_module.decode_image(culprit)
    # Pillow's own DecompressionBombWarning never fires: its plugins are called without Image.open
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert images_module.decode_image(culprit, max_pixels=4_000_000).shape == (1500, 2000, 1)


def test_pixel_limit_in_predict(cli, tmp_path, image_folder, monkeypatch):
    run_ok(cli, tmp_path, image_folder)
    photo = tmp_path / "photo.png"
    _big_png(photo)
    monkeypatch.setattr(images_module, "MAX_IMAGE_PIXELS", 1_000_000)
    cli("predict", tmp_path / "runs" / "r", photo, code=1, says=[str(photo), "over the limit"])


def test_pixel_limit_cannot_exceed_pillows(cli, tmp_path, image_folder):
    path = folder_config(tmp_path, image_folder, ", max_image_pixels: 1000000000")
    cli("run", path, "--out", tmp_path / "runs", code=2, says=["data.max_image_pixels", str(path)])


def test_predict_given_a_directory(cli, tmp_path, image_folder):
    run_ok(cli, tmp_path, image_folder)
    cli("predict", tmp_path / "runs" / "r", image_folder, code=1, says=[f"{image_folder} is a directory", "evaluate"])


@pytest.fixture
def outside(tmp_path):
    """A folder of images outside the image folder, for links to point at."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.full((12, 12, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    return folder


def test_class_folder_linked_outside_is_refused(cli, tmp_path, image_folder, outside):
    link = image_folder / "train" / "gray"
    link.symlink_to(outside, target_is_directory=True)
    run_fails(cli, tmp_path, image_folder, [str(link), f"symbolic link to {outside}", "data.follow_symlinks"])
    run_ok(cli, tmp_path, image_folder, extra=", follow_symlinks: true")


def test_file_linked_outside_is_refused(cli, tmp_path, image_folder, outside):
    link = image_folder / "train" / "red" / "linked.png"
    link.symlink_to(outside / "0.png")
    run_fails(cli, tmp_path, image_folder, [str(link), f"symbolic link to {outside / '0.png'}"])


def test_links_inside_the_folder_are_fine(tmp_path, image_folder):
    (image_folder / "train" / "red" / "again.png").symlink_to(image_folder / "train" / "blue" / "0.png")
    (image_folder / "train" / "crimson").symlink_to(image_folder / "train" / "red", target_is_directory=True)
    train = load_source("folder", root=image_folder, progress=False)["train"]
    assert "crimson" in train.class_names and len(train) == 6 * 4 + 2


def test_broken_link_is_named(tmp_path, image_folder):
    link = image_folder / "train" / "red" / "gone.png"
    link.symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(DataError, match=f"{link} is a broken symbolic link"):
        load_source("folder", root=image_folder, progress=False)


@pytest.mark.parametrize("name", ["Thumbs.db", "desktop.ini", "Desktop.ini", "ehthumbs.db", ".DS_Store", "Icon\r"])
def test_system_files_are_skipped(tmp_path, image_folder, name):
    (image_folder / "train" / "red" / name).write_bytes(b"\0\1 system junk")
    (image_folder / "__MACOSX").mkdir()
    (image_folder / "__MACOSX" / "._x").write_bytes(b"junk")
    train = load_source("folder", root=image_folder, progress=False)["train"]
    assert len(train) == 18 and train.class_names == ("blue", "green", "red")


def test_class_folder_name_not_utf8_is_refused_before_training(cli, tmp_path, image_folder):
    bad = os.fsencode(image_folder / "train") + b"/caf\xe9"
    shutil.move(image_folder / "train" / "red", os.fsdecode(bad))
    output = run_fails(cli, tmp_path, image_folder, ["class folder", "caf\\xe9", "not valid UTF-8"])
    assert "fit" not in output


def test_a_fifo_named_png_does_not_hang_the_load(tmp_path, image_folder):
    fifo = image_folder / "train" / "red" / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=f"{fifo} is not a regular file"):
        load_source("folder", root=image_folder, progress=False)


def test_unwritable_decoded_image_cache_is_one_clear_message(cli, tmp_path, image_folder, monkeypatch):
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    monkeypatch.setenv("FEATPIPE_CACHE", str(cache))
    cli("data", "info", image_folder, "-q", code=1, says=[str(cache / "folders"), "FEATPIPE_CACHE"])
