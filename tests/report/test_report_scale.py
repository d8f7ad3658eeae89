"""Reports of sweeps with repeats, on synthetic batches made with the real run-folder writer:
one section with groups (not one per seed), pictures only for the best runs, figures embedded
once, a paged table, the comparison headline, and a size that grows slowly with the runs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from featpipe.report import build_report, collect_runs, make_report
from featpipe.report.html import PAGE_ROWS, render_html
from featpipe.runs import folder as run_folder
from featpipe.runs.synthetic import write_sweep


@pytest.fixture(scope="module")
def sweep_200(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep") / "runs"
    write_sweep(root, 200)
    return root


@pytest.fixture(scope="module")
def report_200(sweep_200):
    return make_report(collect_runs(sweep_200), images=False)


def test_predictions_round_trip_through_the_run_folder(sweep_200):
    folder = sweep_200 / "run-0000"
    array = np.load(folder / run_folder.PREDICTIONS)
    assert array.dtype == np.int16 and array.shape == (2, 360)
    correct, why = run_folder.read_correct(folder)
    metrics = run_folder.read_metrics(folder)
    assert why is None and correct.mean() == pytest.approx(metrics["accuracy"]["val"])


def test_an_older_run_folder_without_predictions_is_still_read(sweep_200, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(sweep_200 / "run-0001", old)
    (old / run_folder.PREDICTIONS).unlink()
    correct, why = run_folder.read_correct(old)
    assert correct is None and "older run folder" in why
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / run_folder.PREDICTIONS).write_bytes(b"not an array")
    assert "unreadable" in run_folder.read_correct(tmp_path / "bad")[1]


def test_seeds_become_groups_in_one_section(report_200):
    assert len(report_200.sections) == 1
    section = report_200.sections[0]
    assert len(section.rows) == 200
    assert len(section.groups) == 20  # 2 families x 5 values x 2 second settings, 10 seeds each
    assert all(len(group.runs) == 10 and group.spread.count == 10 for group in section.groups)
    means = [group.spread.mean for group in section.groups]
    assert means == sorted(means, reverse=True)
    best = section.groups[0]
    accuracies = [row["val_accuracy"] for row in best.rows]
    assert best.spread.mean == pytest.approx(np.mean(accuracies))
    assert best.spread.std == pytest.approx(np.std(accuracies, ddof=1))
    assert best.settings  # what sets it apart is named


def test_headline_compares_the_best_groups_of_two_families_over_seeds(report_200):
    headline = report_200.sections[0].headline
    assert re.search(r"beats .* by \d+\.\d points, 95% interval \[\d+\.\d, \d+\.\d\]", headline)
    assert "paired t over 10 seeds" in headline and "McNemar's exact test on 360 shared images" in headline


def test_effects_of_each_swept_setting_and_edge_warnings(report_200):
    section = report_200.sections[0]
    keys = [figure.key for figure in section.figures if figure.key.startswith("effect-")]
    assert "effect-svm.C" in keys and "effect-mlp.hidden_sizes" in keys
    # the synthetic MLP is best at its widest: on the edge of a categorical axis, no warning; orientations
    # take two values (no edge with fewer than three)
    assert not any("svm.C" in note and "edge" in note for note in section.analysis_notes)


def test_pictures_only_for_the_best_runs_and_figures_embedded_once(report_200):
    section = report_200.sections[0]
    page = render_html(report_200)
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(set(images))  # no picture twice
    assert len(images) <= 12
    assert "per-run pictures are drawn for the best run" in " ".join(n.text for n in section.notes)
    assert section.summaries_note is not None and len(section.summaries) <= 8


def test_runs_table_is_paged_and_filterable(report_200):
    page = render_html(report_200)
    assert page.count("<tr data-run=") == 200  # every run is in the page, the script shows PAGE_ROWS at a time
    assert 'id="s1-runs-filter"' in page and f"var PAGE = {PAGE_ROWS};" in page
    assert page.count('class="show-group"') == 20
    assert 'data-group="g1"' in page


def test_a_group_of_one_run_says_it_has_no_spread(tmp_path):
    write_sweep(tmp_path, 12)  # runs 10 and 11 repeat runs 0 and 1 (seed 1); the rest are alone
    section = make_report(collect_runs(tmp_path), images=False).sections[0]
    lone = [g for g in section.groups if len(g.runs) == 1]
    assert lone and all(g.spread.std is None for g in lone)
    assert any("single finished run: no spread" in note for note in section.analysis_notes)
    page = render_html(make_report(collect_runs(tmp_path), images=False))
    assert ">one run</td>" in page


def test_page_size_grows_slowly_with_the_runs(tmp_path):
    sizes = {}
    for n in (20, 200):
        write_sweep(tmp_path / str(n), n)
        files = build_report(tmp_path / str(n), tmp_path / f"{n}.html", images=False)
        sizes[n] = files.html.stat().st_size
        csv = files.csv.read_text().splitlines()
        assert len(csv) == n + 1 and "group_val_std" in csv[0]
    per_run = (sizes[200] - sizes[20]) / 180
    assert per_run < 3_000, f"{per_run:.0f} bytes per extra run"  # a 1,000-run page stays well under 15 MB
