"""The results table of a batch (results.csv + results.json) and its terminal summary.

Rows are built from the run folders (the single source of truth), one per planned run in
plan order, so the table of a batch that was interrupted and resumed equals the table of an
uninterrupted one, timing columns aside. Both files are rewritten atomically after every
finished run: whenever the batch stops, the table on disk is complete and valid.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from featpipe import atomic
from featpipe.config import Config

from .plan import BatchPlan, PlannedRun
from .state import RunState, now_iso

LEADING_COLUMNS = ("run_id", "name")
TRAILING_COLUMNS = (
    "pipeline", "features", "classifier", "selected", "feature_dim",
    "train_accuracy", "val_accuracy", "test_accuracy",
    "load_s", "features_s", "train_s", "predict_s", "predict_images_per_s",
    "model_bytes", "status", "error",
)
#: Columns that measure speed and so differ between two executions of the same runs.
TIMING_COLUMNS = ("load_s", "features_s", "train_s", "predict_s", "predict_images_per_s")
_STAGE_COLUMNS = {"load_data": "load_s", "features": "features_s", "train": "train_s", "predict": "predict_s"}


def classifier_label(config: Config) -> str:
    """``linear SVM``, ``softmax`` (an MLP without hidden layers) or ``MLP 512-512``."""
    if config.classifier == "svm":
        return "linear SVM"
    hidden = config.mlp.hidden_sizes
    return "MLP " + "-".join(str(n) for n in hidden) if hidden else "softmax"


def pipeline_label(config: Config) -> str:
    """The pipeline family a run belongs to: its extractors and classifier, e.g. ``hog+color -> linear SVM``."""
    return f"{'+'.join(config.features.extractors())} -> {classifier_label(config)}"


def result_row(run: PlannedRun, run_state: RunState, swept_keys: list[str]) -> dict[str, Any]:
    """One table row: what was run (from the plan) and what came out (from the run folder)."""
    config = run.config
    row: dict[str, Any] = {"run_id": run.run_id, "name": run.name}
    row.update({key: run.swept.get(key) for key in swept_keys})
    row.update({
        "pipeline": pipeline_label(config),
        "features": "+".join(config.features.extractors()),
        "classifier": config.classifier,
        **{column: None for column in TRAILING_COLUMNS[3:]},
        "status": run_state.status,
    })
    metrics = run_state.metrics
    if metrics is not None:
        accuracy = metrics.get("accuracy", {})
        selection = metrics.get("selection") or {}
        timings = metrics.get("timings", {})
        row.update({
            "selected": f"{selection['parameter']}={selection['chosen']}" if selection.get("parameter") else None,
            "feature_dim": metrics.get("feature_dim"),
            "train_accuracy": accuracy.get("train"),
            "val_accuracy": accuracy.get("val"),
            "test_accuracy": accuracy.get("test"),
            **{column: timings.get(stage) for stage, column in _STAGE_COLUMNS.items()},
            "predict_images_per_s": metrics.get("predict_images_per_s"),
            "model_bytes": metrics.get("model_bytes"),
        })
    if run_state.error is not None:
        row["error"] = f"{run_state.error.get('type', 'Error')}: {run_state.error.get('message', '')}"
    return row


class ResultsTable:
    """The rows of one batch, kept in plan order, written to OUT/results.csv and OUT/results.json."""

    def __init__(self, plan: BatchPlan, out_dir: str | Path) -> None:
        self.plan = plan
        self.out_dir = Path(out_dir)
        self.swept_keys = plan.swept_keys()
        self.columns = [*LEADING_COLUMNS, *self.swept_keys, *TRAILING_COLUMNS]
        self._rows: dict[str, dict] = {}

    def update(self, run: PlannedRun, run_state: RunState) -> dict:
        row = result_row(run, run_state, self.swept_keys)
        self._rows[run.run_id] = row
        return row

    def rows(self) -> list[dict]:
        return [self._rows[run.run_id] for run in self.plan.runs if run.run_id in self._rows]

    def write(self) -> None:
        """Rewrite results.csv and results.json atomically."""
        rows = self.rows()
        atomic.write_json(self.out_dir / "results.json", {
            "batch": self.plan.name, "updated": now_iso(), "columns": self.columns, "runs": rows,
        })
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _csv_cell(row.get(key)) for key in self.columns})
        atomic.write_text(self.out_dir / "results.csv", buffer.getvalue())


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def best_per_pipeline(rows: list[dict]) -> list[dict]:
    """The done run with the best validation accuracy of each pipeline family, best first."""
    best: dict[str, dict] = {}
    for row in rows:
        if row.get("status") != "done" or row.get("val_accuracy") is None:
            continue
        held = best.get(row["pipeline"])
        if held is None or row["val_accuracy"] > held["val_accuracy"]:
            best[row["pipeline"]] = row
    return sorted(best.values(), key=lambda row: -row["val_accuracy"])


def format_summary(rows: list[dict], swept_keys: list[str]) -> str:
    """A side-by-side table of the best run per pipeline family (and how many finished), for the terminal."""
    best = best_per_pipeline(rows)
    if not best:
        return "no finished runs yet"
    finished: dict[str, int] = {}
    for row in rows:
        if row.get("status") == "done" and row.get("val_accuracy") is not None:
            finished[row["pipeline"]] = finished.get(row["pipeline"], 0) + 1
    with_test = any(row.get("test_accuracy") is not None for row in best)
    header = ["pipeline", "runs", "val acc", "train acc", *(["test acc"] if with_test else []), "dims",
              "train s", "predict img/s", "model", "settings", "best run"]
    lines = []
    for row in best:
        settings = [f"{key}={_value(row.get(key))}" for key in swept_keys if row.get(key) is not None]
        if row.get("selected"):
            settings.append(str(row["selected"]))
        lines.append([
            row["pipeline"], finished[row["pipeline"]], _percent(row.get("val_accuracy")),
            _percent(row.get("train_accuracy")),
            *([_percent(row.get("test_accuracy"))] if with_test else []),
            _integer(row.get("feature_dim")), _seconds(row.get("train_s")),
            _integer(row.get("predict_images_per_s")), _size(row.get("model_bytes")),
            " ".join(settings) or "-", row["run_id"],
        ])
    left = {0, len(header) - 2, len(header) - 1}
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(len(header))]

    def render(cells: list) -> str:
        return "  ".join(str(c).ljust(w) if i in left else str(c).rjust(w) for i, (c, w) in
                         enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(cells) for cells in lines)])


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return str(value)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _integer(value: float | None) -> str:
    return "-" if value is None else f"{round(value):,}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"
