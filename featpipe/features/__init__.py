"""Hand-designed image features as scikit-learn transformers: uint8 images in, float32 features out.

`EXTRACTORS` is the registry: config names to classes, in the order their outputs are
concatenated. A config's `features:` section is built from it (each class's `Settings` schema is
its subsection), so adding an extractor is one module plus one line here.
`make_extractor("hog", orientations=9)` builds one from config settings.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import InputError
from .bovw import BagOfVisualWords, codebook_images
from .color import ColorHistogram
from .concat import FeatureConcat
from .fisher_extractor import FisherVectors, fisher_pictures
from .hog import HOG, hog_features, hog_glyph
from .raw import RawPixels
from .whiten import ZcaWhitening

EXTRACTORS: dict[str, type] = {
    "raw": RawPixels,
    "zca": ZcaWhitening,
    "color": ColorHistogram,
    "hog": HOG,
    "bovw": BagOfVisualWords,
    "fisher": FisherVectors,
}

#: Extractors whose features are the image's own pixel grid in (H, W, C) order, so an MLP on them
#: alone may standardize them per channel and flip or crop them as images.
PIXEL_LAYOUT = frozenset({"raw", "zca"})


def has_pixel_layout(kinds) -> bool:
    """Whether features made by the extractors `kinds` (config names) are one image's pixel grid."""
    kinds = list(kinds)
    return len(kinds) == 1 and kinds[0] in PIXEL_LAYOUT


def is_seeded(cls: type) -> bool:
    """Whether an extractor class draws random numbers (it then takes a `random_state`)."""
    return "random_state" in inspect.signature(cls).parameters


def make_extractor(kind: str, **settings: Any) -> Any:
    """Build the extractor registered as `kind` with keyword `settings` (validated later, in fit)."""
    if kind not in EXTRACTORS:
        raise InputError(f"unknown feature extractor kind={kind!r}; choose one of {', '.join(repr(k) for k in EXTRACTORS)}")
    cls = EXTRACTORS[kind]
    allowed = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise InputError(
            f"feature extractor {kind!r} ({cls.__name__}) has no setting(s) {', '.join(unknown)}; "
            f"valid settings: {', '.join(allowed) or '(none)'}"
        )
    return cls(**settings)


__all__ = [
    "EXTRACTORS",
    "BagOfVisualWords",
    "ColorHistogram",
    "FeatureConcat",
    "FisherVectors",
    "HOG",
    "PIXEL_LAYOUT",
    "RawPixels",
    "ZcaWhitening",
    "codebook_images",
    "fisher_pictures",
    "has_pixel_layout",
    "hog_features",
    "hog_glyph",
    "is_seeded",
    "make_extractor",
]
