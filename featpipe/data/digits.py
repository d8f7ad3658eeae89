"""scikit-learn's embedded 8x8 handwritten digits as a featpipe Dataset (no download needed)."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as _sklearn_load_digits

from featpipe.data.dataset import Dataset


def load_digits() -> dict[str, Dataset]:
    """Return ``{"train": Dataset}`` with the 1,797 digits as uint8 images of shape (8, 8, 1).

    scikit-learn stores intensities 0..16; they are scaled to 0..255 by ``round(v * 255 / 16)``
    so that every source shares the uint8 convention.
    """
    bunch = _sklearn_load_digits()
    scaled = np.rint(bunch.images * (255.0 / 16.0))
    images = np.ascontiguousarray(scaled.astype(np.uint8)[..., np.newaxis])
    labels = bunch.target.astype(np.int64)
    class_names = tuple(str(k) for k in range(10))
    return {"train": Dataset(images, labels, class_names, "digits")}
