"""Whole reports over tiny real runs: files written, every figure present, run folders untouched,
and figures skipped with a note (not a failure) when a run's data or model cannot be loaded."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import yaml
from PIL import Image
from report_runs import snapshot

from featpipe import model_io
from featpipe.report import collect_runs
from featpipe.report.pictures import Loader, interleaved_by_class, misclassified, picture_figures


def test_writes_html_markdown_csv_and_figures_without_leftovers(real_report):
    files, _ = real_report
    assert files.html.name == "cmp.html" and files.markdown.name == "cmp.md" and files.csv.name == "cmp.csv"
    assert files.n_runs == 4
    names = sorted(p.name for p in files.html.parent.iterdir())
    assert names == ["cmp.csv", "cmp.html", "cmp.md", "cmp_figures"]  # no temporary files left behind
    assert len(list(csv.DictReader(files.csv.open()))) == 4


def test_every_figure_is_drawn_for_real_runs(real_report):
    files, _ = real_report
    figures = sorted(p.stem for p in files.figures_dir.iterdir())
    assert figures == sorted([
        "accuracy-vs-time", "per-class", "confusion-features-SVM", "confusion-MLP-on-pixels", "learning-curves",
        "templates-softmax", "codebook-bovw-svm", "hog-color", "misclassified",
    ])
    for path in files.figures_dir.iterdir():
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 50


def test_markdown_links_every_figure_file(real_report):
    files, _ = real_report
    text = files.markdown.read_text()
    for path in files.figures_dir.iterdir():
        assert f"]({files.figures_dir.name}/{path.name})" in text
    tables = [block.splitlines() for block in text.split("\n\n") if block.startswith("| ")]
    assert len(tables[0]) == 2 + 4  # the runs: header, rule, one line per run (the failed one too)
    assert tables[1][0] == "| \\# | run | family | val acc | fitting cost |"  # accuracy-vs-time's numbered points
    assert len(tables[1]) == 2 + 3  # the three finished runs


def test_run_folders_are_left_untouched(real_report, real_runs):
    _, before = real_report
    assert snapshot(real_runs) == before


def test_interleaved_by_class_takes_one_image_of_each_class_in_turn():
    labels = np.array([0, 0, 0, 1, 1, 2])
    assert interleaved_by_class(labels).tolist() == [0, 3, 5, 1, 4, 2]


def test_misclassified_images_are_really_misclassified(real_runs):
    run = next(r for r in collect_runs(real_runs).runs if r.name == "softmax")
    model = model_io.load(run.path)
    val = Loader().validation(run)
    images, titles = misclassified(run, model, val, count=3)
    predicted = model.predict(images)
    order = interleaved_by_class(val.labels)
    wrong = order[model.predict(val.images[order]) != val.labels[order]][:3]
    assert np.array_equal(images, val.images[wrong])  # the first mistakes, one class at a time
    assert len(set(val.labels[wrong])) > 1
    for title, guess, truth in zip(titles, predicted, val.labels[wrong]):
        assert guess != truth
        assert title == f"{val.class_names[guess]}\n(true {val.class_names[truth]})"


def test_no_images_skips_data_figures_but_keeps_model_figures(real_runs):
    figures, notes = picture_figures(collect_runs(real_runs).runs, images=False)
    assert [figure.key for figure in figures] == ["templates-softmax", "codebook-bovw-svm"]
    assert any("--no-images" in note.text for note in notes)


def _copy_run(real_runs: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / "runs" / name
    shutil.copytree(real_runs / name, target)
    return target


def _edit_config(run_dir: Path, **data) -> None:
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["data"].update(data)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))


def test_unloadable_data_is_a_note_not_a_failure(real_runs, tmp_path):
    run_dir = _copy_run(real_runs, tmp_path, "softmax")
    _edit_config(run_dir, source="folder", root=str(tmp_path / "moved-away.tar.gz"))
    figures, notes = picture_figures(collect_runs(tmp_path / "runs").runs, images=True)
    assert [figure.key for figure in figures] == ["templates-softmax"]
    notes = [note for note in notes if "could not be loaded" in note.text]
    assert len(notes) == 1 and notes[0].run == "softmax" and "moved-away.tar.gz" in notes[0].text


def test_changed_data_is_detected_by_fingerprint(real_runs, tmp_path):
    run_dir = _copy_run(real_runs, tmp_path, "softmax")
    _edit_config(run_dir, n_train=200)  # loads fine, but not the images the run was scored on
    figures, notes = picture_figures(collect_runs(tmp_path / "runs").runs, images=True)
    assert [figure.key for figure in figures] == ["templates-softmax"]
    assert any("has changed since the run" in note.text for note in notes)


def test_missing_model_is_a_note(real_runs, tmp_path):
    run_dir = _copy_run(real_runs, tmp_path, "softmax")
    os.remove(run_dir / "model.npz")
    figures, notes = picture_figures(collect_runs(tmp_path / "runs").runs, images=False)
    assert figures == []
    assert any("model not loaded" in note.text and "model.npz" in note.text for note in notes)
