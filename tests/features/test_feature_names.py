"""get_feature_names_out on every extractor: one name per output column, naming what it holds."""

import numpy as np
import pytest
from skimage.feature import hog as skimage_hog
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from featpipe.features import EXTRACTORS, HOG, ColorHistogram, RawPixels, make_extractor

SMALL = {"raw": {}, "zca": {}, "color": {"bins": 3, "grid": 2}, "hog": {"pixels_per_cell": 4, "cells_per_block": 2},
         "bovw": {"n_words": 5, "patch_size": 4, "n_patches": 200, "stride": 4},
         "fisher": {"cell_size": 2, "stride": 4, "pca_dims": 8, "n_components": 3, "n_samples": 200,
                    "pyramid": [(1, 1)], "random_state": 0}}


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (6, 16, 12, 3), dtype=np.uint8)


@pytest.mark.parametrize("kind", list(EXTRACTORS))
def test_every_extractor_names_each_output_column_once(kind, images):
    extractor = make_extractor(kind, **SMALL[kind])
    features = extractor.fit_transform(images)
    names = extractor.get_feature_names_out()
    assert names.dtype == object and names.shape == (features.shape[1],)
    assert len(set(names)) == len(names) and all(name.startswith(kind) for name in names)


def test_unfitted_extractor_refuses_to_name_its_columns():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        HOG().get_feature_names_out()


def test_hog_names_give_skimages_block_cell_and_bin(images):
    hog = HOG(orientations=6, pixels_per_cell=4, cells_per_block=2).fit(images)
    features = hog.transform(images[:1])[0]
    column = dict(zip(hog.get_feature_names_out(), features))
    reference = skimage_hog(images[0], orientations=6, pixels_per_cell=(4, 4), cells_per_block=(2, 2),
                            block_norm="L2-Hys", feature_vector=False, channel_axis=-1)
    assert reference.shape == (3, 2, 2, 2, 6)
    for index in [(0, 0, 0, 0, 0), (2, 1, 1, 0, 5), (1, 0, 0, 1, 3)]:
        r, c, i, j, k = index
        assert column[f"hog_block{r}_{c}_cell{i}_{j}_bin{k}"] == pytest.approx(reference[index], abs=2e-6)


def test_raw_and_color_names_point_at_their_pixel_and_cell(images):
    raw = RawPixels().fit(images)
    column = dict(zip(raw.get_feature_names_out(), raw.transform(images[:1])[0]))
    assert column["raw_y3_x7_c2"] == pytest.approx(images[0, 3, 7, 2] / 255)
    color = ColorHistogram(space="rgb", bins=2, grid=2, normalize="none").fit(images)
    column = dict(zip(color.get_feature_names_out(), color.transform(images[:1])[0]))
    top_left = images[0, :8, :6]
    darkest = np.all(top_left < 128, axis=-1).sum()  # rgb bin 0 of cell 0: every channel below 128
    assert column["color_cell0_bin0"] == darkest


def test_names_flow_through_scikit_learn_pipeline_and_feature_union(images):
    union = FeatureUnion([("hog", HOG(pixels_per_cell=4)), ("color", ColorHistogram(bins=2))])
    pipeline = Pipeline([("features", union), ("scale", StandardScaler())]).fit(images)
    names = pipeline.get_feature_names_out()
    assert len(names) == pipeline.transform(images).shape[1]
    assert names[0] == "hog__hog_block0_0_cell0_0_bin0" and names[-1] == "color__color_bin7"
    identity = Pipeline([("raw", RawPixels()), ("same", FunctionTransformer(feature_names_out="one-to-one"))])
    assert identity.fit(images).get_feature_names_out()[1] == "raw_y0_x0_c1"


def test_the_python_api_page_runs_as_written(capsys):
    """docs/python-api.md: every ```python block, in order, in one namespace."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/python-api.md block {number}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "hog_block0_0_cell0_0_bin0" in printed and "on validation" in printed
