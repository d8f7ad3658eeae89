"""Report figures drawn from run metrics alone: accuracy against time, per-class accuracy,
confusion matrices of each family's best run, MLP learning curves.

Every figure is rendered to PNG bytes in memory (or via `featpipe.plots` in a temporary folder
outside the runs), so making a report never writes into a run folder.
"""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from .. import plots
from ..plots import plt
from ..runs.results import feature_time
from .collect import RunRecord
from .layout import place_labels, time_axis
from .table import FAMILIES, family_of, percent, run_classifier, run_features

#: One color per family, the same in every figure.
FAMILY_COLORS = {
    FAMILIES[0]: "#1f77b4",
    FAMILIES[1]: "#d62728",
    FAMILIES[2]: "#ff7f0e",
    FAMILIES[3]: "#7f7f7f",
}


@dataclass(eq=False)
class Figure:
    """A rendered figure: PNG bytes plus the text a reader needs to read it (hashed by identity).

    `legend` is an optional table shown under the picture: (header, rows of cells).
    """

    key: str
    title: str
    caption: str
    png: bytes
    legend: tuple[tuple[str, ...], list[tuple[str, ...]]] | None = None


def figure_png(fig) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=110, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def via_plots(draw: Callable[..., None], *args, **kwargs) -> bytes:
    """PNG bytes from one of `featpipe.plots`' functions, which write to a path."""
    with tempfile.TemporaryDirectory(prefix="featpipe-report-") as folder:
        path = Path(folder) / "figure.png"
        draw(*args, path, **kwargs)
        return path.read_bytes()


def run_family(run: RunRecord) -> str:
    return family_of(run_features(run), run_classifier(run))


def accuracy(run: RunRecord, split: str = "val") -> float | None:
    value = (run.metrics.get("accuracy") or {}).get(split)
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


def fit_seconds(run: RunRecord) -> float | None:
    """Seconds this run spent fitting: feature extraction (as done here) plus classifier training."""
    timings = run.metrics.get("timings") or {}
    parts = [timings.get("features"), timings.get("train")]
    if not any(isinstance(p, (int, float)) for p in parts):
        return None
    return float(sum(p for p in parts if isinstance(p, (int, float))))


def fit_cost(run: RunRecord) -> float | None:
    """Seconds fitting costs with nothing cached: the features' cost to compute plus training; None if unknown."""
    _, cost, _ = feature_time(run.metrics)
    train = (run.metrics.get("timings") or {}).get("train")
    if cost is None:
        return None
    return cost + (float(train) if isinstance(train, (int, float)) else 0.0)


#: With more finished runs than this, only the named ones (a large batch's best) get numbers.
MAX_NUMBERED = 40


@dataclass
class TimePoint:
    """A run in the accuracy-vs-time figure: where it sits and why there."""

    run: RunRecord
    seconds: float  # the fitting cost, or (cost unknown) the time the run took
    accuracy: float
    cached: bool  # some feature stage came from the feature cache
    cost_known: bool
    number: int | None = None  # its label, and its row in the legend table


def time_points(runs: Sequence[RunRecord]) -> list[TimePoint]:
    """The finished runs with an accuracy and a time, best validation accuracy first."""
    points = []
    for run in runs:
        value, here = accuracy(run), fit_seconds(run)
        if not run.done or value is None or here is None:
            continue
        cost = fit_cost(run)
        cached = feature_time(run.metrics)[2] in ("all", "some")
        points.append(TimePoint(run, here if cost is None else cost, value, cached, cost is not None))
    points.sort(key=lambda p: (-p.accuracy, p.seconds, p.run.name))
    return points


def accuracy_vs_time(runs: Sequence[RunRecord], named: Sequence[RunRecord] | None = None) -> Figure | None:
    """Validation accuracy against fitting cost, one numbered point per finished run, colored by family.

    A run whose features came from the feature cache is placed at what they cost to compute (as
    the run that cached them measured it), drawn hollow; where that cost is unknown (an old cache
    entry), at the time the run took, drawn as a triangle. Numbers (best run 1) key the legend
    table under the figure; with more than MAX_NUMBERED runs only those in `named` get one.
    """
    points = time_points(runs)
    if not points:
        return None
    numbered = points if named is None or len(points) <= MAX_NUMBERED else [p for p in points if p.run in named]
    for number, point in enumerate(numbered, 1):
        point.number = number
    fig, _, _ = draw_accuracy_vs_time(points)
    names = distinct_labels([p.run for p in numbered])
    legend = [(str(p.number), name, run_family(p.run), percent(p.accuracy), _cost_text(p))
              for p, name in zip(numbered, names)]
    left_out = len(points) - len(numbered)
    caption = ("Up and to the left is better: look for the cheapest run in each family that is near the top, "
               "and for how much accuracy the slower pipelines buy with their extra seconds. Time is what "
               "fitting costs (features + training) with nothing cached: a run whose features came from the "
               "feature cache (hollow marker) is placed at what they took the run that computed them.")
    if any(not p.cost_known for p in points):
        caption += (" A triangle is a run whose cached features kept no cost (cached by an older featpipe): "
                    "it is placed at the time it took, which leaves out computing them.")
    if left_out:
        caption += f" {left_out} of {len(points)} runs are drawn unnumbered; the table above lists every run."
    return Figure("accuracy-vs-time", "Accuracy against fitting cost", caption, figure_png(fig),
                  legend=(("#", "run", "family", "val acc", "fitting cost"), legend))


def draw_accuracy_vs_time(points: Sequence[TimePoint]):
    """The scatter of `points` with their numbers placed clear of each other; returns (fig, ax, labels)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    size = 42  # marker area in points^2
    for family in FAMILIES:
        for cached, known in ((False, True), (True, True), (True, False), (False, False)):
            chosen = [p for p in points if run_family(p.run) == family and p.cached == cached and p.cost_known == known]
            if not chosen:
                continue
            color = FAMILY_COLORS[family]
            ax.scatter([p.seconds for p in chosen], [p.accuracy for p in chosen], s=size, zorder=3,
                       marker="o" if known else ">", linewidth=1.3 if cached else 0.5,
                       facecolor="white" if cached else color, edgecolor=color if cached else "black")
    time_axis(ax, min(p.seconds for p in points), max(p.seconds for p in points))
    values = [p.accuracy for p in points]
    spread = max(max(values) - min(values), 0.01)
    ax.set_ylim(min(values) - 0.12 * spread, max(values) + 0.12 * spread)
    ax.set_xlabel("fitting cost: feature extraction + training, nothing cached (log scale)")
    ax.set_ylabel("validation accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.grid(alpha=0.3)
    ax.set_title("accuracy against fitting cost")
    handles = [Line2D([], [], marker="o", linestyle="", color=FAMILY_COLORS[f], markeredgecolor="black",
                      markersize=7, label=f) for f in FAMILIES if any(run_family(p.run) == f for p in points)]
    if any(p.cached for p in points):
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="0.3",
                              markersize=7, label="features from the cache (at their cost)"))
    if any(not p.cost_known for p in points):
        handles.append(Line2D([], [], marker=">", linestyle="", markerfacecolor="white", markeredgecolor="0.3",
                              markersize=7, label="cached, cost unknown (at time taken)"))
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    numbered = [p for p in points if p.number is not None]
    labels = place_labels(ax, [p.seconds for p in numbered], [p.accuracy for p in numbered],
                          [str(p.number) for p in numbered], marker_px=math.sqrt(size) * fig.dpi / 72 + 2)
    return fig, ax, labels


def _cost_text(point: TimePoint) -> str:
    here = fit_seconds(point.run)
    if not point.cost_known:
        return f"unknown (features from an old cache entry; this run took {duration(here)})"
    if point.cached:
        return f"{duration(point.seconds)} (features from the cache; this run took {duration(here)})"
    return duration(point.seconds)


def duration(seconds: float | None) -> str:
    """Seconds as the legend table prints them: ``12.3 s``, ``4.2 min``, ``1.5 h``."""
    if seconds is None:
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def per_class_heatmap(runs: Sequence[RunRecord]) -> Figure | None:
    """Per-class validation accuracy, one row per finished run (best run on top)."""
    rows = []
    for run in runs:
        scores = ((run.metrics.get("scores") or {}).get("val") or {}).get("per_class")
        if run.done and isinstance(scores, dict) and scores:
            rows.append((run, scores))
    if not rows:
        return None
    rows.sort(key=lambda item: -(accuracy(item[0]) or 0.0))
    classes = list(rows[0][1])
    values = np.array([[np.nan if s.get(c) is None else s.get(c) for c in classes] for _, s in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(classes) + 3), max(2.5, 0.38 * len(rows) + 1.6)))
    # start the color scale just below the worst class so small differences stay visible
    low = float(np.floor(np.nanmin(values) * 10) / 10) if np.isfinite(values).any() else 0.0
    image = ax.imshow(values, cmap="viridis", vmin=min(low, 0.9), vmax=1, aspect="auto")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), [run.name for run, _ in rows], fontsize=8)
    if values.size <= 400:
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6.5,
                            color="black" if values[i, j] > min(low, 0.9) + 0.6 * (1 - min(low, 0.9)) else "white")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="validation accuracy of the class")
    ax.set_title("per-class validation accuracy (best run on top)")
    return Figure(
        "per-class", "Per-class accuracy by pipeline",
        "Read down a column to see which pipelines handle a class; dark cells are classes a pipeline "
        "gets wrong, and a column dark for every pipeline is a class that is hard for all of them.",
        figure_png(fig),
    )


def best_by_family(runs: Sequence[RunRecord]) -> dict[str, RunRecord]:
    """The finished run with the best validation accuracy in each family."""
    best: dict[str, RunRecord] = {}
    for run in runs:
        if not run.done or accuracy(run) is None:
            continue
        family = run_family(run)
        if family not in best or accuracy(run) > accuracy(best[family]):
            best[family] = run
    return {family: best[family] for family in FAMILIES if family in best}


def best_confusions(runs: Sequence[RunRecord]) -> list[Figure]:
    """The validation confusion matrix of the best run of each family."""
    figures = []
    for family, run in best_by_family(runs).items():
        score = (run.metrics.get("scores") or {}).get("val") or {}
        names = (run.metrics.get("data") or {}).get("class_names")
        if not score.get("confusion") or not names:
            continue
        png = via_plots(plots.confusion_matrix, score["confusion"], names,
                        title=f"{run.name}: validation accuracy {score['accuracy']:.2%}")
        figures.append(Figure(
            f"confusion-{family}", f"Confusion matrix of the best {family} run ({run.name})",
            "Each row is one true class; bright cells off the diagonal are the class pairs this pipeline "
            "mixes up (compare them across families).",
            png,
        ))
    return figures


def learning_curves(runs: Sequence[RunRecord]) -> Figure | None:
    """Per-epoch loss and accuracy of the MLP runs, training dotted and validation solid, overlaid.

    Only MLP runs are drawn: their loss is a cross-entropy. A run of another classifier that left
    a history (an SVM's hinge loss, say) is left out, and the caption says so, rather than share
    an axis with losses it cannot be compared with.
    """
    with_history = [run for run in runs if isinstance(run.history, dict) and run.history.get("loss")]
    curves = [run for run in with_history if run_classifier(run) == "mlp"]
    others = [run for run in with_history if run not in curves]
    if not curves:
        return None
    fig, _, _, has_val_loss = draw_learning_curves(curves)
    caption = ("Dotted lines are training, solid lines validation. A widening gap between them is over-fitting; "
               "a validation line still rising at the last epoch means more epochs would help.")
    if not has_val_loss:
        caption += " These runs recorded no validation loss, so the loss panel shows training only."
    if others:
        caption += (f" Left out: {', '.join(run.name for run in others)} (not an MLP: its loss is not a "
                    "cross-entropy, so it would not be comparable on these axes).")
    return Figure("learning-curves", "Learning curves of the MLP runs", caption, figure_png(fig))


def draw_learning_curves(curves: Sequence[RunRecord]):
    """Loss (left) and accuracy (right) per epoch of `curves`; returns (fig, left, right, has_val_loss)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    colors = plt.get_cmap("tab10")
    for index, run in enumerate(curves):
        color = colors(index % 10)
        for ax, keys in ((left, ("loss", "val_loss")), (right, ("train_acc", "val_acc"))):
            for key, style in zip(keys, (":", "-")):
                values = _finite(run.history.get(key) or [])
                if np.isfinite(values).any():
                    ax.plot(np.arange(1, len(values) + 1), values, style, color=color, lw=1.4)
        val = _finite(run.history.get("val_acc") or [])
        if np.isfinite(val).any():  # the epoch whose weights the run kept (best validation accuracy)
            best = int(np.nanargmax(val))
            right.plot(best + 1, val[best], "o", color=color, markersize=4)
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    has_val_loss = any(np.isfinite(_finite(run.history.get("val_loss") or [])).any() for run in curves)
    left.set_ylabel("cross-entropy loss")
    left.set_title("loss" if has_val_loss else "loss (training only: no validation loss recorded)", fontsize=10)
    right.set_title("accuracy", fontsize=10)
    if all(np.nanmin(_finite(run.history["loss"]), initial=np.inf) > 0 for run in curves):
        left.set_yscale("log")
        left.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
        left.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:.2g}"))
    right.set_ylabel("accuracy")
    right.yaxis.set_major_formatter(PercentFormatter(1.0))
    handles = [Line2D([], [], color=colors(i % 10), lw=2, label=label)
               for i, label in enumerate(distinct_labels(curves))]
    handles += [Line2D([], [], color="0.3", linestyle=":", label="training"),
                Line2D([], [], color="0.3", linestyle="-", label="validation"),
                Line2D([], [], color="0.3", marker="o", linestyle="", markersize=4, label="best validation (kept)")]
    fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncol=min(len(handles), 4), frameon=False)
    fig.suptitle("MLP learning curves")
    return fig, left, right, has_val_loss


def distinct_labels(runs: Sequence[RunRecord]) -> list[str]:
    """Each run's name, with its folder added where several runs share the name (a batch's repeats)."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.name] = counts.get(run.name, 0) + 1
    return [run.name if counts[run.name] == 1 or run.path.name == run.name else f"{run.name} ({run.path.name})"
            for run in runs]


def metric_figures(runs: Sequence[RunRecord], shown: Sequence[RunRecord] | None = None) -> list[Figure]:
    """Every figure that needs only the runs' metrics and histories.

    With `shown` (the best runs of a large batch), the scatter still has every run but names only
    those, and the per-class heatmap and learning curves show only those.
    """
    few = runs if shown is None else shown
    figures = [accuracy_vs_time(runs, None if shown is None else shown), per_class_heatmap(few)]
    figures += best_confusions(runs)
    figures.append(learning_curves(few))
    return [f for f in figures if f is not None]


def _finite(values) -> np.ndarray:
    """A list of numbers (None or NaN where there is none) as a float array with NaN gaps."""
    return np.array([v if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan
                     for v in values], dtype=float)
