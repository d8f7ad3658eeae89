"""The HTML page: self-contained, figures embedded and decodable, one sortable row per run."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image
import pytest
from report_runs import write_batch, write_failed_run, write_run

from featpipe.report import collect_runs, make_report
from featpipe.report.html import render_html


class PageParser(HTMLParser):
    """Collects what the tests look at: every tag's attributes, and the table's rows and cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[dict] = []
        self.headers: list[dict] = []
        self._row: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "th" and "data-key" in attrs:  # a sortable table's header (not a figure's legend)
            self.headers.append(attrs)
        elif tag == "tr" and "data-run" in attrs:
            self._row = {"attrs": attrs, "cells": []}
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._row["cells"].append(attrs)

    def handle_endtag(self, tag):
        if tag == "table":
            self._row = None


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    return parser


def page_of(root, images=False) -> str:
    return render_html(make_report(collect_runs(root), images=images))


@pytest.fixture(scope="module")
def batch_root(tmp_path_factory) -> Path:
    return write_batch(tmp_path_factory.mktemp("page") / "batch")


@pytest.fixture(scope="module")
def batch_page(batch_root) -> str:
    """The page of a batch folder's runs, built once for the tests that only read it."""
    return page_of(batch_root)


def test_page_is_self_contained(batch_page):
    page = batch_page
    parsed = parse(page)
    assert "http://" not in page and "https://" not in page
    for tag, attrs in parsed.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), f"<{tag} {name}={value[:40]!r}> points outside the page"
    assert not any(tag == "link" for tag, _ in parsed.tags)
    assert not any(tag == "script" and "src" in attrs for tag, attrs in parsed.tags)
    assert "<style>" in page and "<script>" in page  # styles and the sorter are inline


def test_every_image_is_an_embedded_decodable_png(batch_page):
    images = [attrs for tag, attrs in parse(batch_page).tags if tag == "img"]
    # accuracy vs time, per-class, one confusion per family (3), learning curves
    assert len(images) == 6
    for attrs in images:
        prefix = "data:image/png;base64,"
        assert attrs["src"].startswith(prefix)
        png = Image.open(io.BytesIO(base64.b64decode(attrs["src"][len(prefix):], validate=True)))
        png.load()
        assert png.format == "PNG" and png.width > 100 and png.height > 100
        assert attrs["alt"]


def test_one_row_per_run_with_sort_values(batch_page):
    parsed = parse(batch_page)
    assert [row["attrs"]["data-run"] for row in parsed.rows] == ["hog-svm", "mlp-pixels", "mlp-hog", "broken"]
    keys = [h["data-key"] for h in parsed.headers]
    val = keys.index("val_accuracy")
    assert parsed.headers[val]["data-type"] == "number"
    assert parsed.headers[val]["aria-sort"] == "descending"  # the initial order
    assert parsed.headers[keys.index("name")]["data-type"] == "text"
    assert [float(row["cells"][val]["data-sort"]) for row in parsed.rows[:3]] == [0.9, 0.8, 0.7]
    assert parsed.rows[3]["cells"][val]["data-sort"] == ""  # missing: sorted last by the script
    assert parsed.rows[3]["attrs"].get("class") == "not-done"
    assert all(len(row["cells"]) == len(keys) for row in parsed.rows)


def test_text_from_run_folders_is_escaped(tmp_path):
    write_run(tmp_path, "ok")
    write_failed_run(tmp_path, "bad", message="<img src=x onerror=alert(1)>")
    page = page_of(tmp_path)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_mixed_data_sets_are_warned_about_and_shown_apart(tmp_path):
    write_run(tmp_path, "digits-a", data_fingerprint="1" * 64)
    write_run(tmp_path, "digits-b", data_fingerprint="1" * 64)
    write_run(tmp_path, "other", data_fingerprint="2" * 64, source="folder:/data/x")
    report = make_report(collect_runs(tmp_path), images=False)
    assert len(report.sections) == 2
    assert any("2 different data sets" in w for w in report.warnings)
    page = render_html(report)
    assert page.count("<h2>") == 2 and "folder:/data/x" in page
    assert page.count('<table class="runs"') == 2


def test_unfinished_runs_are_listed_with_their_error(batch_page):
    page = batch_page
    assert "Runs that did not finish" in page and "InputError: features.hog: image too small" in page
    assert "cut-short" in page and "metrics.json" in page  # the corrupt run's warning is on the page


def test_per_run_summaries_are_the_run_command_summaries(batch_root, batch_page):
    from html import escape

    from featpipe.summary import format_run

    for run in collect_runs(batch_root).runs:
        if run.done:
            assert escape(format_run(run.metrics, run.path)) in batch_page
