"""The report shows a Fisher-vector run's mixture components (featpipe.report.fisher_means)."""

from __future__ import annotations

import numpy as np
import pytest

from featpipe.config import validate
from featpipe.report import build_report
from featpipe.report.collect import collect_runs
from featpipe.report.pictures import picture_figures


@pytest.fixture(scope="module")
def fisher_run(tmp_path_factory):
    """A tiny real run: SIFT + colour Fisher vectors of 240 digits (upscaled to 16 px) -> SVM."""
    from featpipe.runner import run_experiment

    root = tmp_path_factory.mktemp("fisher-runs")
    config = validate({
        "name": "fisher-svm", "seed": 0,
        "data": {"source": "digits", "val_fraction": 0.25, "n_train": 240, "image_size": 16,
                 "cache_dir": str(tmp_path_factory.mktemp("cache"))},
        "output": {"feature_cache": False},
        "features": {"fisher": {"descriptors": ["sift", "color"], "cell_size": 2, "stride": 4, "pca_dims": 8,
                                "n_components": 3, "n_samples": 1500, "pyramid": [[1, 1]]},
                     "normalize": "none"},
        "classifier": "svm", "svm": {"C": 1.0},
    })
    run_experiment(config, root / config.name, progress=False)
    return root


def test_a_report_over_a_fisher_run_shows_its_mixture_components(fisher_run, tmp_path):
    figures, _ = picture_figures(collect_runs(fisher_run).runs, images=False)
    means = [figure for figure in figures if figure.key == "fisher-means-fisher-svm"]
    assert len(means) == 1 and means[0].png.startswith(b"\x89PNG")
    files = build_report(fisher_run, tmp_path / "report.html", images=False)
    html = files.html.read_text()
    assert "Fisher-vector vocabulary of fisher-svm" in html
    assert any("fisher-means" in path.name for path in files.figures_dir.iterdir())


def test_one_mosaic_per_descriptor_type_in_the_unit_range_and_not_blank(fisher_run):
    from featpipe import model_io
    from featpipe.features import fisher_pictures
    from featpipe.report.pictures import extractors_of

    fisher = extractors_of(model_io.load(fisher_run / "fisher-svm"))["fisher"]
    pictures = fisher_pictures(fisher, n_components=3)
    assert set(pictures) == {"sift", "color"}
    assert pictures["sift"].ndim == 2 and pictures["color"].ndim == 3 and pictures["color"].shape[2] == 3
    for picture in pictures.values():
        assert picture.min() >= 0.0 and picture.max() <= 1.0 and np.ptp(picture) > 0
