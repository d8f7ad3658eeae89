"""A run's results row: the one set of columns `featpipe bench`'s table and `featpipe report`'s table show.

`results_row` reads a run folder's metrics, config and history (as `folder.read_run_record`
gives them, from any format) into raw values: fractions, seconds, counts. `COLUMNS` says how
each prints; `featpipe run`'s summary uses the same formatters, so the three always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..features import has_pixel_layout

FAMILY_SVM = "features + SVM"
FAMILY_MLP_PIXELS = "MLP on pixels"
FAMILY_MLP_FEATURES = "MLP on features"
FAMILY_OTHER = "other"
#: Families in the order legends and sections show them.
FAMILIES = (FAMILY_SVM, FAMILY_MLP_PIXELS, FAMILY_MLP_FEATURES, FAMILY_OTHER)

#: metrics.json timing stages and the row keys that hold them.
STAGE_KEYS = {"load_data": "load_s", "features": "features_s", "train": "train_s", "predict": "predict_s"}

#: metrics.json's record of what a run's features took (`feature_time_record`), and its keys:
#: seconds this run spent on them, and seconds computing them takes with nothing cached.
FEATURE_TIME = "feature_time"
COMPUTED_HERE = "computed_here_s"
COST_TO_COMPUTE = "cost_to_compute_s"
#: Row keys of the features' cost to compute and of how much of them came from the cache.
FEATURES_COST, FEATURES_CACHED = "features_cost_s", "features_cached"

#: Row keys that depend on the execution (its speed, what the feature cache held), hence differ
#: between two executions of the same runs.
TIMING_KEYS = (*STAGE_KEYS.values(), FEATURES_COST, FEATURES_CACHED, "predict_images_per_s")
#: Every key of a results row, in table order.
ROW_KEYS = (
    "name", "pipeline", "family", "features", "classifier", "feature_dim", "selected",
    "train_accuracy", "val_accuracy", "test_accuracy", *STAGE_KEYS.values(), FEATURES_COST, FEATURES_CACHED,
    "predict_images_per_s", "model_bytes", "status", "error",
)


# --- formatters: one for each kind of value, shared by every table and summary ---------------


def percent(value: float) -> str:
    return f"{value:.2%}"


def seconds(value: float) -> str:
    return f"{value:.1f}"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def count(value: int) -> str:
    return f"{round(value):,}"


def size(value: int) -> str:
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
    unknown: str | None = None  # shown instead of `missing` in a finished run's row: the value is unknown

    def text(self, row: dict, missing: str = "-") -> str:
        """The row's value in this column as display text (`missing` where there is none)."""
        value = row.get(self.key)
        if value is None:
            return self.unknown if self.unknown is not None and row.get("status") == "done" else missing
        try:
            return self.fmt(value)
        except (TypeError, ValueError):
            return str(value)


COLUMNS: tuple[Column, ...] = (
    Column("name", "run", help="run name (hover for the folder)"),
    Column("status", "status", help="done, failed, or what a batch recorded (e.g. running)"),
    Column("family", "family", help="features + SVM, MLP on pixels, or MLP on features"),
    Column("pipeline", "pipeline", help="extractors -> classifier"),
    Column("features", "features", help="feature extractors, concatenated in this order"),
    Column("classifier", "classifier", help="linear SVM, softmax, or MLP with its hidden layer sizes"),
    Column("feature_dim", "dim", True, count, "feature dimension the classifier sees"),
    Column("train_accuracy", "train acc", True, percent, "accuracy on the training images"),
    Column("val_accuracy", "val acc", True, percent, "accuracy on the held-out validation images"),
    Column("test_accuracy", "test acc", True, percent, "accuracy on the source's test split (data.use_test)"),
    Column("load_s", "load (s)", True, seconds, "seconds to load and split the data"),
    Column("features_s", "features here (s)", True, seconds,
           "seconds this run spent on its features (about 0 when they came from the feature cache)"),
    Column(FEATURES_COST, "features cost (s)", True, seconds,
           "seconds computing the features takes with nothing cached (from the run that cached them); "
           "'unknown' for entries cached before featpipe kept their cost", unknown="unknown"),
    Column(FEATURES_CACHED, "cached", help="which feature stages came from the feature cache: all, some or no"),
    Column("train_s", "train (s)", True, seconds, "seconds to train the classifier (all C values for an SVM)"),
    Column("predict_s", "predict (s)", True, seconds, "seconds to predict every split"),
    Column("predict_images_per_s", "images/s", True, rate, "prediction throughput, features included"),
    Column("model_bytes", "model", True, size, "size of the saved model files"),
    Column("swept", "swept", help="the values a batch swept to make this run"),
    Column("selected", "selected", help="settings chosen on the validation split"),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}


# --- labels ----------------------------------------------------------------------------------


def family_of(features: Sequence[str], classifier: str | None) -> str:
    """The pipeline family a run belongs to, for colors and "best of each family"."""
    if classifier in ("svm", "fusion"):  # fusion: linear SVMs on several feature sets (featpipe.fusion)
        return FAMILY_SVM
    if classifier == "mlp":
        return FAMILY_MLP_PIXELS if has_pixel_layout(features) else FAMILY_MLP_FEATURES  # raw or ZCA pixels
    return FAMILY_OTHER


def classifier_label(classifier: str | None, hidden_sizes: Sequence[int] | None = None) -> str | None:
    """``linear SVM``, ``softmax`` (an MLP without hidden layers) or ``MLP 512-256``."""
    if classifier == "svm":
        return "linear SVM"
    if classifier == "fusion":
        return "fused linear SVMs"
    if classifier != "mlp":
        return classifier
    if hidden_sizes is None:
        return "MLP"
    return "MLP " + "-".join(str(s) for s in hidden_sizes) if hidden_sizes else "softmax"


def pipeline_label(features: Sequence[str], classifier: str | None, hidden_sizes: Sequence[int] | None = None) -> str:
    """A run's pipeline: its extractors and classifier, e.g. ``hog+color -> linear SVM``."""
    return f"{'+'.join(features) or '?'} -> {classifier_label(classifier, hidden_sizes) or '?'}"


def _members_selected(members: Any) -> str | None:
    """A fusion run's choices, member by member: ``coates C=0.00625 of ...; fisher C=0.3``."""
    if not isinstance(members, dict):
        return None
    parts = [f"{name} {selected_text(member.get('selection'), None)}" for name, member in members.items()
             if isinstance(member, dict) and selected_text(member.get("selection"), None)]
    return "; ".join(parts) or None


def selected_text(selection: Any, history: dict | None) -> str | None:
    """What validation chose: the SVM's C out of the searched values, or the MLP's best epoch."""
    if isinstance(selection, dict) and "chosen" in selection:
        parameter = str(selection.get("parameter", "value")).split(".")[-1]
        tried = [t.get(parameter) for t in selection.get("trials") or [] if isinstance(t, dict)]
        tried = [t for t in tried if t is not None]
        # values printed as `featpipe run` prints them (str), so the two agree
        of = f" of {', '.join(str(t) for t in tried)}" if len(tried) > 1 else ""
        return f"{parameter}={selection['chosen']}{of}"
    if isinstance(history, dict):
        val = [_number(v) for v in history.get("val_acc") or []] if isinstance(history.get("val_acc"), list) else []
        if any(v is not None for v in val):
            best = max(range(len(val)), key=lambda i: -1.0 if val[i] is None else val[i])
            return f"best val at epoch {best + 1} of {len(val)}"
        if isinstance(history.get("loss"), list) and history["loss"]:
            return f"{len(history['loss'])} epochs"
    return None


# --- what the features cost ------------------------------------------------------------------


def feature_time_record(computed_here: float, stage_seconds: dict[str, float], hits: dict[str, bool],
                        stage_costs: dict[str, float | None] | None = None) -> dict:
    """metrics.json's FEATURE_TIME: what this run spent on its features and what they cost to compute.

    `computed_here` is the run's wall seconds for the features stage; `stage_seconds` the part
    of it each stage ("fit", "train", "val", ...) took here, `hits` which came from the cache,
    and `stage_costs` what each stage took where it was computed (featpipe.features.cache).
    The cost to compute is `computed_here` with each stage's seconds here replaced by its cost;
    None (unknown, never guessed) when a cached stage's cost is. Without `stage_costs`, a
    stage computed here costs what it took here and a cached one is unknown.
    """
    costs = {stage: (None if hits.get(stage) else seconds_here) for stage, seconds_here in stage_seconds.items()}
    if stage_costs is not None:
        costs = {stage: stage_costs.get(stage) for stage in stage_seconds}
    unknown = [stage for stage, cost in costs.items() if cost is None]
    total = None
    if not unknown:
        total = computed_here + sum(costs[stage] - stage_seconds[stage] for stage in stage_seconds)
    return {
        COMPUTED_HERE: round(computed_here, 4),
        COST_TO_COMPUTE: None if total is None else round(max(total, 0.0), 4),
        "cost_by_stage_s": {stage: None if cost is None else round(cost, 4) for stage, cost in costs.items()},
        "unknown": unknown,
    }


def feature_time(metrics: dict) -> tuple[float | None, float | None, str | None]:
    """(seconds computed here, seconds to compute, how much came from the cache) of any run's metrics.

    Folders written before FEATURE_TIME existed (formats 1 and 2) have a cost only when no stage
    came from the cache (then it is what the run took); otherwise it is unknown (None).
    """
    timings = metrics.get("timings") if isinstance(metrics.get("timings"), dict) else {}
    here = _number(timings.get("features"))
    hits = metrics.get("feature_cache_hits")
    cached = None
    if isinstance(hits, dict):
        used = [v is True for v in hits.values()]
        cached = "all" if used and all(used) else "some" if any(used) else "no"
    record = metrics.get(FEATURE_TIME)
    if isinstance(record, dict):
        return _number(record.get(COMPUTED_HERE, here)), _number(record.get(COST_TO_COMPUTE)), cached
    return here, here if cached == "no" else None, cached


# --- the row ---------------------------------------------------------------------------------


def run_features(metrics: dict, config: dict) -> list[str]:
    """The run's extractors in concatenation order (from metrics, else from its config)."""
    features = metrics.get("features")
    if isinstance(features, list):
        return [str(f) for f in features]
    section = config.get("features")
    if isinstance(section, dict):
        from ..features import EXTRACTORS  # their order is the concatenation order

        return [k for k in EXTRACTORS if section.get(k) is not None and section.get(k) is not False]
    return []


def run_classifier(metrics: dict, config: dict) -> str | None:
    value = metrics.get("classifier") or config.get("classifier")
    return None if value is None else str(value)


def hidden_sizes(config: dict) -> list | None:
    mlp = config.get("mlp") if isinstance(config.get("mlp"), dict) else {}
    sizes = mlp.get("hidden_sizes")
    return sizes if isinstance(sizes, list) else None


def results_row(name: str, status: str, metrics: dict, config: dict, *, history: dict | None = None,
                error: str | None = None, path: Path | None = None) -> dict:
    """The results row of one run (keys ROW_KEYS): raw values from its metrics, config and history.

    Values of the wrong type (a hand-edited or foreign metrics.json) are left out (None). Given
    the folder's `path`, a model size that metrics.json lacks (early folders) is read from disk.
    """
    features = run_features(metrics, config)
    classifier = run_classifier(metrics, config)
    sizes = hidden_sizes(config)
    accuracy = metrics.get("accuracy") if isinstance(metrics.get("accuracy"), dict) else {}
    timings = metrics.get("timings") if isinstance(metrics.get("timings"), dict) else {}
    _, features_cost, features_cached = feature_time(metrics)
    return {
        "name": name,
        "pipeline": pipeline_label(features, classifier, sizes) if classifier else None,
        "family": family_of(features, classifier) if classifier else None,
        "features": "+".join(features) or None,
        "classifier": classifier_label(classifier, sizes),
        "feature_dim": _number(metrics.get("feature_dim")),
        "selected": _members_selected(metrics.get("members")) or selected_text(metrics.get("selection"), history),
        "train_accuracy": _number(accuracy.get("train")),
        "val_accuracy": _number(accuracy.get("val")),
        "test_accuracy": _number(accuracy.get("test")),
        **{key: _number(timings.get(stage)) for stage, key in STAGE_KEYS.items()},
        FEATURES_COST: features_cost,
        FEATURES_CACHED: features_cached,
        "predict_images_per_s": _number(metrics.get("predict_images_per_s")),
        "model_bytes": _number(metrics.get("model_bytes")) if "model_bytes" in metrics else _model_bytes(path),
        "status": status,
        "error": error,
    }


def _model_bytes(path: Path | None) -> int | None:
    files = [p for p in Path(path).glob("model.*") if p.is_file()] if path is not None else []
    return sum(p.stat().st_size for p in files) if files else None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
