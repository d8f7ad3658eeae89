"""FeatureConcat: FeatureUnion-like parameters, block normalization, single transform in fit_transform."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError

from featpipe import model_io
from featpipe.errors import InputError
from featpipe.features import HOG, ColorHistogram, FeatureConcat, RawPixels


def make_concat(normalize: str = "block") -> FeatureConcat:
    return FeatureConcat(
        extractors=[("hog", HOG(pixels_per_cell=8)), ("color", ColorHistogram(space="rgb", bins=4))],
        normalize=normalize,
    )


class CountingTransformer(TransformerMixin, BaseEstimator):
    """Mean pixel value per image; counts how often it transforms."""

    def __init__(self, calls=None):
        self.calls = calls

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        self.calls.append(len(X))
        return np.asarray(X, dtype=np.float32).reshape(len(X), -1).mean(axis=1, keepdims=True)


def test_params_reach_nested_extractors_like_feature_union():
    concat = make_concat()
    params = concat.get_params(deep=True)
    assert params["hog__orientations"] == 9 and params["color__space"] == "rgb"
    concat.set_params(hog__orientations=6, color__bins=2, normalize="standard")
    assert concat.extractors[0][1].orientations == 6 and concat.extractors[1][1].bins == 2
    concat.set_params(color=RawPixels())
    assert isinstance(concat.extractors[1][1], RawPixels)
    cloned = clone(concat)
    assert cloned.get_params(deep=False)["normalize"] == "standard"
    assert cloned.extractors[0][1] is not concat.extractors[0][1]


@pytest.mark.parametrize("normalize", ["block", "standard", "none"])
def test_normalization(normalize, photo_tiles):
    concat = make_concat(normalize)
    features = concat.fit_transform(photo_tiles)
    raw = np.concatenate([HOG().fit_transform(photo_tiles), ColorHistogram(space="rgb", bins=4).fit_transform(photo_tiles)], axis=1)
    assert features.dtype == np.float32 and features.shape == raw.shape
    assert concat.block_slices_ == {"hog": (0, 324), "color": (324, 388)}
    if normalize == "none":
        np.testing.assert_allclose(features, raw, rtol=1e-6)
        return
    varying = raw.std(axis=0) > 1e-6
    np.testing.assert_allclose(features.mean(axis=0), 0, atol=1e-5)
    std = features.std(axis=0)
    if normalize == "standard":
        np.testing.assert_allclose(std[varying], 1.0, rtol=1e-3)
    else:
        for name, (start, stop) in concat.block_slices_.items():
            block_varying = varying[start:stop]
            np.testing.assert_allclose(std[start:stop][block_varying], 1 / np.sqrt(stop - start), rtol=1e-3)
    assert np.all(std[~varying] == 0)  # constant features are centred, not blown up (no NaN)
    assert np.isfinite(features).all()


def test_fit_transform_equals_fit_then_transform_and_transforms_once(photo_tiles):
    calls_a, calls_b = [], []
    concat = FeatureConcat(extractors=[("hog", HOG()), ("count", CountingTransformer(calls_a))])
    result = concat.fit_transform(photo_tiles)
    assert calls_a == [len(photo_tiles)]
    other = FeatureConcat(extractors=[("hog", HOG()), ("count", CountingTransformer(calls_b))]).fit(photo_tiles)
    np.testing.assert_array_equal(other.transform(photo_tiles), result)


def test_model_io_round_trip(photo_tiles):
    concat = make_concat().fit(photo_tiles)
    tree, arrays = model_io.to_state(concat)
    restored = model_io.from_state(tree, arrays)
    np.testing.assert_array_equal(restored.transform(photo_tiles), concat.transform(photo_tiles))
    assert restored.block_slices_ == concat.block_slices_


def test_errors(photo_tiles):
    with pytest.raises(NotFittedError):
        make_concat().transform(photo_tiles)
    with pytest.raises(InputError, match=r"normalize='z'.*'block', 'standard', 'none'"):
        FeatureConcat(extractors=[("hog", HOG())], normalize="z").fit(photo_tiles)
    with pytest.raises(InputError, match=r"non-empty list"):
        FeatureConcat(extractors=[]).fit(photo_tiles)
    with pytest.raises(InputError, match=r"invalid extractor names"):
        FeatureConcat(extractors=[("a", HOG()), ("a", RawPixels())]).fit(photo_tiles)
    with pytest.raises(InputError, match=r"\(name, transformer\) pair"):
        FeatureConcat(extractors=[HOG()]).fit(photo_tiles)
    fitted = make_concat().fit(photo_tiles)
    with pytest.raises(InputError, match=r"fitted on images of shape"):
        fitted.transform(photo_tiles[:, :16, :16])
