"""Report figures drawn from run metrics alone: accuracy against time, per-class accuracy,
confusion matrices of each family's best run, MLP learning curves.

Every figure is rendered to PNG bytes in memory (or via `featpipe.plots` in a temporary folder
outside the runs), so making a report never writes into a run folder.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator, PercentFormatter

from .. import plots
from ..plots import plt
from .collect import RunRecord
from .table import FAMILIES, family_of, run_classifier, run_features

#: One color per family, the same in every figure.
FAMILY_COLORS = {
    FAMILIES[0]: "#1f77b4",
    FAMILIES[1]: "#d62728",
    FAMILIES[2]: "#ff7f0e",
    FAMILIES[3]: "#7f7f7f",
}


@dataclass(eq=False)
class Figure:
    """A rendered figure: PNG bytes plus the text a reader needs to read it (hashed by identity)."""

    key: str
    title: str
    caption: str
    png: bytes


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
    """Seconds spent fitting: feature extraction plus classifier training."""
    timings = run.metrics.get("timings") or {}
    parts = [timings.get("features"), timings.get("train")]
    if not any(isinstance(p, (int, float)) for p in parts):
        return None
    return float(sum(p for p in parts if isinstance(p, (int, float))))


def accuracy_vs_time(runs: Sequence[RunRecord], named: Sequence[RunRecord] | None = None) -> Figure | None:
    """Validation accuracy against fitting time, one point per finished run, colored by family.

    Points are labelled with run names: all of them, or only those in `named` when given.
    """
    points = [(run, fit_seconds(run), accuracy(run)) for run in runs if run.done]
    points = [(run, t, a) for run, t, a in points if t is not None and a is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for family in FAMILIES:
        chosen = [(run, t, a) for run, t, a in points if run_family(run) == family]
        if not chosen:
            continue
        ax.scatter([max(t, 1e-3) for _, t, _ in chosen], [a for *_, a in chosen], s=45,
                   color=FAMILY_COLORS[family], label=family, edgecolor="black", linewidth=0.5, zorder=3)
        for run, t, a in chosen:
            if named is not None and run not in named:
                continue
            ax.annotate(run.name, (max(t, 1e-3), a), textcoords="offset points", xytext=(5, 3), fontsize=7)
    times = [max(t, 1e-3) for _, t, _ in points]
    if max(times) / min(times) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("fitting time: feature extraction + training (s)")
    ax.set_ylabel("validation accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("accuracy against fitting time")
    return Figure(
        "accuracy-vs-time", "Accuracy against fitting time",
        "Up and to the left is better: look for the cheapest run in each family that is near the top, "
        "and for how much accuracy the slower pipelines buy with their extra seconds.",
        figure_png(fig),
    )


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
    """Training loss and validation accuracy per epoch for every MLP run, overlaid."""
    curves = [(run, run.history) for run in runs if isinstance(run.history, dict) and run.history.get("loss")]
    if not curves:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.get_cmap("tab10")
    for index, (run, history) in enumerate(curves):
        color = colors(index % 10)
        loss = _finite(history.get("loss", []))
        epochs = np.arange(1, len(loss) + 1)
        left.plot(epochs, loss, color=color, label=run.name)
        for key, style in (("val_acc", "-"), ("train_acc", ":")):
            values = history.get(key) or []
            values = _finite(values)
            if len(values) == len(epochs) and np.isfinite(values).any():
                right.plot(epochs, values, style, color=color,
                           label=f"{run.name} ({'validation' if key == 'val_acc' else 'train'})")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    if all(np.nanmin(_finite(h["loss"]), initial=np.inf) > 0 for _, h in curves):
        left.set_yscale("log")
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy (solid: validation, dotted: train)")
    right.yaxis.set_major_formatter(PercentFormatter(1.0))
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.suptitle("MLP learning curves")
    return Figure(
        "learning-curves", "Learning curves of the MLP runs",
        "A widening gap between the dotted (train) and solid (validation) lines is over-fitting; a "
        "validation line still rising at the last epoch means more epochs would help.",
        figure_png(fig),
    )


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
