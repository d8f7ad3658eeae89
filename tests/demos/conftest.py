"""Helpers for the demo tests: each demo runs once per module at a small size."""

from pathlib import Path

import pytest
from PIL import Image


def assert_valid_png(path: Path, min_width: int = 300, min_height: int = 200) -> None:
    """The file is a complete PNG image of a plausible size (a figure, not an empty canvas)."""
    assert path.is_file(), f"{path} was not written"
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        image.verify()  # reads the whole stream; a truncated file fails here
    assert width >= min_width and height >= min_height, f"{path} is only {width}x{height}"
    assert path.stat().st_size < 300_000, f"{path} is {path.stat().st_size} bytes"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo-figures")


@pytest.fixture
def png_check():
    return assert_valid_png
