"""The HTML report in a real headless browser: every image loads, one row per run, headers sort.

Uses the system's Chromium and chromedriver (Debian packages `chromium` and `chromium-driver`;
.ci/run installs them) through Selenium with explicit paths, so nothing downloads a browser or a
driver. Skipped, saying why, where they are missing. Set FEATPIPE_SCREENSHOT_DIR to keep a copy
of the screenshot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install featpipe[test])"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"no headless browser: {path} not found (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        pytest.skip(f"browser check skipped: {reason}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _row_names(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('table.runs tbody tr')).map(r => r.dataset.run)")


def _click_header(driver, key: str) -> None:
    driver.find_element("css selector", f'table.runs th[data-key="{key}"] button').click()


def test_report_in_a_headless_browser(browser, real_report, tmp_path):
    files, _ = real_report
    browser.get(files.html.resolve().as_uri())

    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(images) == 9
    for alt, complete, width, height in images:
        assert complete and width > 0 and height > 0, f"image {alt!r} did not load"

    assert sorted(_row_names(browser)) == sorted(["hog-color-svm", "bovw-svm", "softmax", "broken"])
    assert _row_names(browser)[-1] == "broken"  # no validation accuracy: last

    _click_header(browser, "name")
    assert _row_names(browser) == ["bovw-svm", "broken", "hog-color-svm", "softmax"]
    _click_header(browser, "name")
    assert _row_names(browser) == ["softmax", "hog-color-svm", "broken", "bovw-svm"]
    _click_header(browser, "val_accuracy")  # ascending, the failed run still last
    values = browser.execute_script(
        "var col = Array.from(document.querySelectorAll('table.runs thead th')).findIndex(h => h.dataset.key === 'val_accuracy');"
        "return Array.from(document.querySelectorAll('table.runs tbody tr')).map(r => r.cells[col].dataset.sort)")
    assert values[-1] == "" and [float(v) for v in values[:-1]] == sorted(float(v) for v in values[:-1])

    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(height + 40, 12000))
    screenshot = tmp_path / "report.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    keep = os.environ.get("FEATPIPE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(keep) / "report.png")


def test_a_1000_run_report_opens_paged_and_filters(browser, tmp_path):
    """A synthetic 1,000-run sweep (real run-folder writer): images load, 50 rows show, the filter and
    a group's "show runs" button narrow the table."""
    from featpipe.report import build_report
    from featpipe.report.html import PAGE_ROWS
    from featpipe.runs.synthetic import write_sweep

    write_sweep(tmp_path / "runs", 1000)
    files = build_report(tmp_path / "runs", tmp_path / "big.html", images=False)
    browser.get(files.html.resolve().as_uri())
    images = browser.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert images and all(done and width > 0 for done, width in images)
    visible = "return Array.from(document.querySelectorAll('table.runs tbody tr')).filter(r => !r.hidden).length"
    assert browser.execute_script(visible) == PAGE_ROWS
    browser.find_element("css selector", "table.groups button.show-group").click()
    group = browser.find_element("css selector", "table.groups button.show-group").get_attribute("data-group")
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.runs tbody tr')).filter(r => !r.hidden).map(r => r.dataset.group)")
    assert shown and set(shown) == {group} and len(shown) == 10  # one group: its 10 seeds


_LAYOUT = """
var page = document.documentElement;
var result = {viewport: page.clientWidth, pageWidth: page.scrollWidth, tables: [], images: []};
document.querySelectorAll('.table-scroll').forEach(function (box) {
  var table = box.querySelector('table');
  var heads = table.querySelectorAll('thead th');
  var last = heads[heads.length - 1], first = heads[0];
  box.scrollIntoView();
  box.scrollLeft = box.scrollWidth;
  var frame = box.getBoundingClientRect(), end = last.getBoundingClientRect(), start = first.getBoundingClientRect();
  var hit = document.elementFromPoint(end.left + end.width / 2, end.top + end.height / 2);
  result.tables.push({kind: table.className, overflows: box.scrollWidth > box.clientWidth,
                      frameLeft: frame.left, frameRight: frame.right, lastLeft: end.left, lastRight: end.right,
                      lastReachable: hit !== null && last.contains(hit), firstLeft: start.left,
                      firstRight: start.right});
  box.scrollLeft = 0;
});
Array.from(document.images).forEach(function (img) {
  var r = img.getBoundingClientRect();
  result.images.push({alt: img.alt, left: r.left, right: r.right, width: r.width});
});
return result;
"""


def _check_layout(browser, width: int) -> dict:
    browser.set_window_size(width, 1000)
    layout = browser.execute_script(_LAYOUT)
    viewport = layout["viewport"]
    assert viewport <= width and layout["pageWidth"] <= viewport, f"the page scrolls sideways at {width} px: {layout}"
    for table in layout["tables"]:
        assert table["lastReachable"], f"last column of a {table['kind']} table not reachable at {width} px: {table}"
        assert table["frameLeft"] - 1 <= table["lastLeft"] and table["lastRight"] <= table["frameRight"] + 1
        if table["kind"] == "runs":  # the run column stays in view while the others scroll under it
            assert abs(table["firstLeft"] - table["frameLeft"]) <= 1, table
    for image in layout["images"]:
        assert image["left"] >= 0 and image["right"] <= viewport + 1, f"{image['alt']!r} is wider than the window"
    return layout


@pytest.mark.parametrize("width", [800, 1400])
def test_the_report_fits_the_window(browser, real_report, width):
    """At 800 and 1,400 px: no sideways scroll of the page, every table's last column reachable
    (scrolled into view inside its own box, the run column kept), no figure wider than the window."""
    files, _ = real_report
    browser.get(files.html.resolve().as_uri())
    layout = _check_layout(browser, width)
    runs = [t for t in layout["tables"] if t["kind"] == "runs"]
    assert runs and len(layout["images"]) == 9
    if width == 800:
        assert runs[0]["overflows"]  # the runs table is wider than 800 px: the scrolling box is what makes it fit


@pytest.mark.parametrize("width", [800, 1400])
def test_a_30_run_report_with_cache_hits_fits_the_window(browser, tmp_path, width):
    from report_runs import write_cached_sweep

    from featpipe.report import build_report

    write_cached_sweep(tmp_path / "runs", 30)
    files = build_report(tmp_path / "runs", tmp_path / "r30.html", images=False)
    browser.get(files.html.resolve().as_uri())
    layout = _check_layout(browser, width)
    kinds = [t["kind"] for t in layout["tables"]]
    assert "runs" in kinds and "legend" in kinds and "groups" in kinds
    legend = browser.execute_script("return document.querySelectorAll('table.legend tbody tr').length")
    assert legend == 30
