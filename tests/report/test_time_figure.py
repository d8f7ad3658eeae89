"""The accuracy-vs-time figure: runs at their true cost, cache hits marked, readable at 30 runs
(numbers that overlap nothing and stay inside the plot, a legend table), and a time axis in
seconds, minutes and hours."""

from __future__ import annotations

import pytest
from report_runs import write_cached_sweep

from featpipe.plots import plt
from featpipe.report import collect_runs
from featpipe.report.figures import MAX_NUMBERED, accuracy_vs_time, draw_accuracy_vs_time, fit_cost, time_points
from featpipe.report.layout import Box, duration_text, label_boxes, time_axis


@pytest.fixture(scope="module")
def sweep_30(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep30") / "runs"
    write_cached_sweep(root, 30)
    return collect_runs(root).runs


@pytest.mark.parametrize("seconds, text", [(0.05, "50 ms"), (1, "1 s"), (30, "30 s"), (60, "1 min"),
                                           (600, "10 min"), (3600, "1 h"), (7200, "2 h")])
def test_durations_read_as_people_write_them(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize("low, high, expected", [
    (0.5, 3000.0, ["1 s", "10 s", "1 min", "10 min", "1 h"]),  # wide: one tick per order of magnitude
    (0.6, 2.5, ["500 ms", "1 s", "2 s"]),
    (1.2, 1.3, ["1 s", "2 s"]),
    (20000.0, 22000.0, ["2 h", "5 h", "10 h"]),  # one round value inside: widened to show three
])
def test_the_time_axis_ticks_are_round_durations(low, high, expected):
    fig, ax = plt.subplots()
    try:
        ticks = time_axis(ax, low, high)
        assert [duration_text(t) for t in ticks] == expected
        assert ax.get_xscale() == "log" and ax.get_xlim()[0] <= low and ax.get_xlim()[1] >= high
        fig.canvas.draw()
        assert [t.get_text() for t in ax.get_xticklabels()] == expected
        assert not [t for t in ax.get_xticklabels(minor=True) if t.get_text()]  # no 10^x minor labels
    finally:
        plt.close(fig)


def test_runs_sit_at_their_cost_to_compute_and_cache_hits_are_marked(sweep_30):
    points = {p.run.path.name: p for p in time_points(sweep_30)}
    cached, unknown, computed = points["run-0003"], points["run-0007"], points["run-0001"]
    timings = cached.run.metrics["timings"]
    assert cached.cached and cached.cost_known
    assert cached.seconds == pytest.approx(fit_cost(cached.run))
    assert cached.seconds > 100 * (timings["features"] + timings["train"]) / 2  # not where its own seconds put it
    assert unknown.cached and not unknown.cost_known
    assert unknown.seconds == pytest.approx(sum(unknown.run.metrics["timings"][k] for k in ("features", "train")))
    assert not computed.cached and computed.cost_known


def test_thirty_numbered_points_overlap_nothing_and_stay_inside_the_plot(sweep_30):
    points = time_points(sweep_30)
    assert len(points) == 30 <= MAX_NUMBERED
    for number, point in enumerate(points, 1):
        point.number = number
    fig, ax, labels = draw_accuracy_vs_time(points)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = label_boxes(labels, renderer)
        assert [label.get_text() for label in labels] == [str(n) for n in range(1, 31)]
        frame = ax.get_window_extent(renderer)
        frame = Box(frame.x0, frame.y0, frame.x1, frame.y1)
        assert all(box.inside(frame) for box in boxes), "a label is clipped by the plot's edge"
        overlaps = [(i + 1, j + 1) for i in range(30) for j in range(i + 1, 30) if boxes[i].overlap(boxes[j]) > 0]
        assert overlaps == []
        markers = ax.transData.transform([(p.seconds, p.accuracy) for p in points])
        radius = 3.0  # about half the marker's width in pixels
        covered = [(i + 1, k + 1) for i, box in enumerate(boxes) for k, (x, y) in enumerate(markers)
                   if box.overlap(Box(x - radius, y - radius, x + radius, y + radius)) > 0]
        assert covered == []
    finally:
        plt.close(fig)


def test_the_legend_table_keys_every_number_to_its_run(sweep_30):
    figure = accuracy_vs_time(sweep_30)
    header, rows = figure.legend
    assert header == ("#", "run", "family", "val acc", "fitting cost")
    assert [row[0] for row in rows] == [str(n) for n in range(1, 31)]
    points = time_points(sweep_30)
    # best validation accuracy first; the sweep's runs share two names, so each shows its folder
    assert [row[1] for row in rows] == [f"{p.run.name} ({p.run.path.name})" for p in points]
    costs = [row[4] for row in rows]
    assert any("features from the cache; this run took" in c for c in costs)
    assert any(c.startswith("unknown (features from an old cache entry") for c in costs)
    assert "triangle" in figure.caption and "hollow" in figure.caption


def test_a_large_batch_numbers_only_the_named_runs(sweep_30):
    named = [p.run for p in time_points(sweep_30)[:5]]
    figure = accuracy_vs_time(sweep_30 * 2, named)  # 60 points > MAX_NUMBERED
    rows = figure.legend[1]
    assert len(rows) == 10 and {row[1].split(" (")[0] for row in rows} == {run.name for run in named}
    assert "50 of 60 runs are drawn unnumbered" in figure.caption
