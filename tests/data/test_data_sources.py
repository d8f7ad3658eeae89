"""load_source dispatch, the digits source, parse_spec and describe."""

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from featpipe.data import SOURCES, cache_root, describe, load_source, parse_spec
from featpipe.errors import DataError


def test_digits_are_scaled_to_uint8_exactly():
    (name, ds), = load_source("digits").items()
    reference = load_digits()
    assert name == "train" and ds.source == "digits"
    assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.uint8
    assert ds.class_names == tuple("0123456789")
    np.testing.assert_array_equal(ds.labels, reference.target)
    expected = np.vectorize(lambda v: round(v * 255 / 16))(reference.images)
    np.testing.assert_array_equal(ds.images[..., 0], expected)
    assert ds.images.min() == 0 and ds.images.max() == 255


def test_digits_resized_on_request():
    ds = load_source("digits", image_size=(16, 12))["train"]
    assert ds.images.shape == (1797, 16, 12, 1)
    original = load_source("digits")["train"].images[5, :, :, 0]
    reference = np.asarray(Image.fromarray(original).resize((12, 16), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(ds.images[5, :, :, 0], reference)


def test_unknown_source_and_digits_root_are_errors():
    with pytest.raises(DataError, match="data.source='mnist' is not a known source; choose one of digits, folder, cifar10"):
        load_source("mnist")
    with pytest.raises(DataError, match="takes no data.root"):
        load_source("digits", root="/somewhere")
    assert tuple(SOURCES) == ("digits", "folder", "cifar10")


def test_parse_spec(tmp_path):
    assert parse_spec("digits") == {"source": "digits"}
    assert parse_spec(" cifar10 ") == {"source": "cifar10"}
    assert parse_spec("cifar10:/data/c") == {"source": "cifar10", "root": "/data/c"}
    assert parse_spec("folder:rel/imgs") == {"source": "folder", "root": "rel/imgs"}
    (tmp_path / "imgs").mkdir()
    (tmp_path / "a.tar.gz").write_bytes(b"")
    assert parse_spec(str(tmp_path / "imgs")) == {"source": "folder", "root": str(tmp_path / "imgs")}
    assert parse_spec(str(tmp_path / "a.tar.gz")) == {"source": "folder", "root": str(tmp_path / "a.tar.gz")}


@pytest.mark.parametrize(
    "spec, match",
    [("", "empty data spec"), ("cifar", "neither a source nor an existing path"),
     ("folder:", "no path after 'folder:'"), ("digits:x", "takes no path")],
)
def test_parse_spec_errors(spec, match):
    with pytest.raises(DataError, match=match):
        parse_spec(spec)


def test_describe_lists_splits_shapes_and_class_counts(png_folder):
    text = describe(load_source("folder", root=png_folder[0], progress=False))
    lines = text.splitlines()  # splits in folder-name order
    assert lines[0].startswith("test: 3 images, 6x5x3 (HxWxC) uint8, 3 classes, fingerprint ")
    assert lines[2].split() == ["label", "class", "images"]  # a header row over each split's table
    assert [line.split() for line in lines[3:6]] == [["0", "cat", "1"], ["1", "dog", "2"], ["2", "eel", "0"]]
    assert lines[6].startswith("train: 7 images")
    assert lines[8].split() == ["label", "class", "images"]
    assert [line.split() for line in lines[9:12]] == [["0", "cat", "3"], ["1", "dog", "2"], ["2", "eel", "2"]]


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("FEATPIPE_CACHE", str(tmp_path / "env"))
    assert cache_root(tmp_path / "given") == tmp_path / "given"
    assert cache_root() == tmp_path / "env"
    monkeypatch.delenv("FEATPIPE_CACHE")
    assert cache_root().name == "featpipe"
