"""Fixtures for the data-source tests: a tiny image folder written fresh for each test."""

import numpy as np
import pytest
from data_builders import random_image, write_image


@pytest.fixture
def png_folder(tmp_path):
    """train/{cat,dog,eel} and test/{cat,dog} of 6x5 RGB PNGs; returns (root, {split: {class: [arrays]}})."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pets"
    layout = {"train": {"cat": 3, "dog": 2, "eel": 2}, "test": {"dog": 2, "cat": 1}}
    written = {}
    for split, classes in layout.items():
        for cls, count in classes.items():
            for i in range(count):
                array = random_image(rng)
                write_image(root / split / cls / f"{i:03d}.png", array)
                written.setdefault(split, {}).setdefault(cls, []).append(array)
    return root, written
