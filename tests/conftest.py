"""Shared fixtures: an isolated cache folder and tiny configs that run in a second or two."""

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own featpipe cache, so no test sees another's decoded data or features."""
    cache = tmp_path_factory.mktemp("featpipe-cache")
    monkeypatch.setenv("FEATPIPE_CACHE", str(cache))
    return cache


@pytest.fixture
def write_config(tmp_path):
    """Write YAML text to a config file in tmp_path and return its path."""

    def write(text: str, name: str = "config.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def image_folder(tmp_path):
    """A tiny labelled image folder: train/{red,green,blue}/*.png, 12x12 RGB, 6 per class."""
    rng = np.random.default_rng(0)
    root = tmp_path / "colors"
    for c, name in enumerate(["blue", "green", "red"]):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for i in range(6):
            image = rng.integers(0, 60, size=(12, 12, 3), dtype=np.uint8)
            image[..., 2 - c] = rng.integers(180, 256, size=(12, 12), dtype=np.uint8)
            Image.fromarray(image).save(folder / f"{i}.png")
    return root
