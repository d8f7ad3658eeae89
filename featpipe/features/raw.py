"""Raw pixels as features: the baseline every hand-designed feature has to beat."""

from __future__ import annotations

import numpy as np

from ..settings import Section
from ._base import ImageFeatureExtractor


class RawSettings(Section):
    """Raw pixels scaled to [0, 1]: the baseline (no settings)."""


class RawPixels(ImageFeatureExtractor):
    """Flatten each image to float32 values in [0, 1] (pixel / 255), in (H, W, C) order.

    Learned attributes: `image_shape_` (H, W, C) and `n_features_in_` = H * W * C.
    """

    Settings = RawSettings

    def __init__(self) -> None:
        pass

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1).astype(np.float32)
        flat /= np.float32(255.0)
        return flat
