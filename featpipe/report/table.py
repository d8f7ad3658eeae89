"""The comparison table: one row per run, with raw values (for sorting and CSV) and display text.

Display formats follow `featpipe.summary.format_run` (accuracy as ``91.23%``, seconds with one
decimal, images/s with thousands separators) so the table and ``featpipe run``'s summary agree.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..bench.plan import format_value
from .collect import RunRecord

FAMILY_SVM = "features + SVM"
FAMILY_MLP_PIXELS = "MLP on pixels"
FAMILY_MLP_FEATURES = "MLP on features"
FAMILY_OTHER = "other"
#: Families in the order legends and sections show them.
FAMILIES = (FAMILY_SVM, FAMILY_MLP_PIXELS, FAMILY_MLP_FEATURES, FAMILY_OTHER)


def _percent(value: float) -> str:
    return f"{value:.2%}"


def _seconds(value: float) -> str:
    return f"{value:.1f}"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _count(value: int) -> str:
    return f"{value:,}"


def _size(value: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"


@dataclass(frozen=True)
class Column:
    """One table column: the row key, its header, whether it sorts as a number, how it prints."""

    key: str
    header: str
    numeric: bool = False
    fmt: Callable[[Any], str] = str
    help: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("run", "run", help="run name (hover for the folder)"),
    Column("status", "status", help="done, failed, or what a batch recorded (e.g. running)"),
    Column("family", "family", help="features + SVM, MLP on pixels, or MLP on features"),
    Column("features", "features", help="feature extractors, concatenated in this order"),
    Column("classifier", "classifier", help="svm, or mlp with its hidden layer sizes"),
    Column("feature_dim", "dim", True, _count, "feature dimension the classifier sees"),
    Column("train_accuracy", "train acc", True, _percent, "accuracy on the training images"),
    Column("val_accuracy", "val acc", True, _percent, "accuracy on the held-out validation images"),
    Column("test_accuracy", "test acc", True, _percent, "accuracy on the source's test split (data.use_test)"),
    Column("feature_seconds", "features (s)", True, _seconds, "seconds to fit the extractors and compute features"),
    Column("train_seconds", "train (s)", True, _seconds, "seconds to train the classifier (all C values for an SVM)"),
    Column("images_per_s", "images/s", True, _rate, "end-to-end prediction throughput (features + classifier)"),
    Column("model_bytes", "model size", True, _size, "model.json + model.npz on disk"),
    Column("swept", "swept", help="values the batch swept to make this run"),
    Column("selected", "selected", help="settings chosen on the validation split"),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}


def family_of(features: Sequence[str], classifier: str | None) -> str:
    """The pipeline family a run belongs to, for colors and "best of each family"."""
    if classifier == "svm":
        return FAMILY_SVM
    if classifier == "mlp":
        return FAMILY_MLP_PIXELS if list(features) == ["raw"] else FAMILY_MLP_FEATURES
    return FAMILY_OTHER


def run_features(run: RunRecord) -> list[str]:
    """The run's extractors in concatenation order (from metrics, else from its config)."""
    features = run.metrics.get("features")
    if isinstance(features, list):
        return [str(f) for f in features]
    section = run.config.get("features")
    if isinstance(section, dict):
        return [k for k in ("raw", "color", "hog", "bovw") if section.get(k) is not None and section.get(k) is not False]
    return []


def run_classifier(run: RunRecord) -> str | None:
    value = run.metrics.get("classifier") or run.config.get("classifier")
    return None if value is None else str(value)


def build_row(run: RunRecord, root=None) -> dict:
    """The table row of one run: raw values keyed by column, plus ``path``, ``data`` and ``error``."""
    metrics = run.metrics
    features = run_features(run)
    classifier = run_classifier(run)
    accuracy = metrics.get("accuracy") if isinstance(metrics.get("accuracy"), dict) else {}
    timings = metrics.get("timings") if isinstance(metrics.get("timings"), dict) else {}
    row = {
        "run": run.name,
        "status": run.status,
        "family": family_of(features, classifier) if classifier else None,
        "features": "+".join(features) or None,
        "classifier": _classifier_text(classifier, run.config),
        "feature_dim": _number(metrics.get("feature_dim")),
        "train_accuracy": _number(accuracy.get("train")),
        "val_accuracy": _number(accuracy.get("val")),
        "test_accuracy": _number(accuracy.get("test")),
        "feature_seconds": _number(timings.get("features")),
        "train_seconds": _number(timings.get("train")),
        "images_per_s": _number(metrics.get("predict_images_per_s")),
        "model_bytes": _number(metrics.get("model_bytes")) if metrics.get("model_bytes") is not None else _model_bytes(run),
        "swept": " ".join(f"{key}={format_value(value)}" for key, value in run.swept.items()) or None,
        "selected": _selected_text(metrics.get("selection"), run.history),
        "path": run.relative_to(root) if root is not None else str(run.path),
        "error": run.error,
    }
    return row


def build_rows(runs: Sequence[RunRecord], root=None) -> list[dict]:
    """One row per run, best validation accuracy first; runs without one (failed, running) last."""
    rows = [build_row(run, root) for run in runs]
    return sorted(rows, key=sort_key)


def sort_key(row: dict) -> tuple:
    val = row.get("val_accuracy")
    return (val is None, -(val or 0.0), row["run"])


def unfinished_text(row: dict) -> str:
    """Why a row has no results: its error, or what its status means."""
    if row.get("error"):
        return str(row["error"])
    return {"running": "still running", "pending": "not started yet"}.get(row["status"], "no error recorded")


def visible_columns(rows: Sequence[dict]) -> list[Column]:
    """The columns worth showing: those with a value in at least one row (run and status always)."""
    return [c for c in COLUMNS if c.key in ("run", "status") or any(row.get(c.key) is not None for row in rows)]


def cell_text(row: dict, column: Column, missing: str = "-") -> str:
    """A row's value in `column` as display text (`missing` where there is none)."""
    value = row.get(column.key)
    if value is None:
        return missing
    try:
        return column.fmt(value)
    except (TypeError, ValueError):
        return str(value)


def to_csv(rows: Sequence[dict]) -> str:
    """The rows as CSV text with raw values (fractions, seconds, bytes) and a header line."""
    keys = [c.key for c in COLUMNS] + ["path", "error"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row[key] for key in keys})
    return buffer.getvalue()


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of an accuracy measured on `n` images (95% for z = 1.96).

    Wilson, E. B. (1927), "Probable inference, the law of succession, and statistical inference",
    JASA 22(158). Unlike the normal approximation it stays inside [0, 1] near 0% and 100%.
    """
    if n <= 0:
        return (0.0, 1.0)
    z2 = z * z
    denominator = 1 + z2 / n
    center = (accuracy + z2 / (2 * n)) / denominator
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z2 / (4 * n * n)) / denominator
    return (max(0.0, center - half), min(1.0, center + half))


def precision_note(rows: Sequence[dict], n_val: int | None) -> str | None:
    """One sentence on how large a validation-accuracy difference can be chance, for the table's reader."""
    best = max((row["val_accuracy"] for row in rows if row.get("val_accuracy") is not None), default=None)
    if best is None or not n_val:
        return None
    low, high = wilson_interval(best, n_val)
    return (f"{n_val:,} validation images: one image is {1 / n_val:.2%} of accuracy, and the best run's "
            f"{_percent(best)} has a 95% interval of {low:.1%} to {high:.1%} (Wilson), so differences of that "
            "order between runs may be chance.")


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _model_bytes(run: RunRecord) -> int | None:
    files = [p for p in run.path.glob("model.*") if p.is_file()]
    return sum(p.stat().st_size for p in files) if files else None


def _classifier_text(classifier: str | None, config: dict) -> str | None:
    """``linear SVM``, ``softmax`` (an MLP without hidden layers) or ``MLP 512-256``, as featpipe bench says."""
    if classifier == "svm":
        return "linear SVM"
    if classifier != "mlp":
        return classifier
    mlp = config.get("mlp") if isinstance(config.get("mlp"), dict) else {}
    sizes = mlp.get("hidden_sizes")
    if sizes is None:
        return "MLP"
    return "MLP " + "-".join(str(s) for s in sizes) if sizes else "softmax"


def _selected_text(selection: Any, history: dict | None) -> str | None:
    """What validation chose: the SVM's C out of the searched values, or the MLP's best epoch."""
    if isinstance(selection, dict) and "chosen" in selection:
        parameter = str(selection.get("parameter", "value")).split(".")[-1]
        tried = [t.get(parameter) for t in selection.get("trials") or [] if isinstance(t, dict)]
        tried = [t for t in tried if t is not None]
        # values printed as `featpipe run` prints them (str), so the two agree
        of = f" of {', '.join(str(t) for t in tried)}" if len(tried) > 1 else ""
        return f"{parameter}={selection['chosen']}{of}"
    if isinstance(history, dict):
        val = [_number(v) for v in history.get("val_acc") or []]
        if any(v is not None for v in val):
            best = max(range(len(val)), key=lambda i: -1.0 if val[i] is None else val[i])
            return f"best val at epoch {best + 1} of {len(val)}"
        if history.get("loss"):
            return f"{len(history['loss'])} epochs"
    return None
