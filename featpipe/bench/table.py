"""The results table of a batch (results.csv + results.json) and its terminal summary.

Rows are `featpipe.runs.results.results_row`s (the row `featpipe report` shows too) built
from the run folders (the single source of truth), one per planned run in plan order, so the
table of a batch that was interrupted and resumed equals the table of an uninterrupted one,
timing columns aside. Both files are rewritten atomically after every finished run: whenever
the batch stops, the table on disk is complete and valid, or (if it could not be written) gone.

Runs whose configs differ only in the seed are one group (featpipe.runs.groups): every row
carries its group's id, count and validation accuracy mean, standard deviation, min and max.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

from featpipe import atomic
from featpipe.errors import OutputError
from featpipe.runs import folder as run_folder
from featpipe.runs.groups import GROUP_COLUMNS, annotate_groups
from featpipe.runs.results import COLUMN_BY_KEY, ROW_KEYS, TIMING_KEYS, percent, results_row

from .plan import BatchPlan, PlannedRun
from .state import RunState, now_iso

LEADING_COLUMNS = ("run_id", "name")
TRAILING_COLUMNS = tuple(key for key in ROW_KEYS if key != "name")
#: Columns that measure speed and so differ between two executions of the same runs.
TIMING_COLUMNS = TIMING_KEYS
RESULT_FILES = ("results.json", "results.csv")


def result_row(run: PlannedRun, run_state: RunState, swept_keys: list[str],
               out_dir: str | Path | None = None) -> dict[str, Any]:
    """One table row: what was run (the plan's config) and what came out (the run folder)."""
    metrics = run_state.metrics or {}
    history = None
    if run_state.metrics is not None and out_dir is not None:
        content = run_folder.read_json_object(Path(out_dir) / run.run_id / run_folder.HISTORY)
        history = content if isinstance(content, dict) else None
    error = None
    if run_state.error is not None:
        error = f"{run_state.error.get('type', 'Error')}: {run_state.error.get('message', '')}"
    row: dict[str, Any] = {"run_id": run.run_id, "name": run.name}
    row.update({key: run.swept.get(key) for key in swept_keys})
    row.update(results_row(run.name, run_state.status, metrics, run.config.to_dict(), history=history, error=error))
    return row


class ResultsTable:
    """The rows of one batch, kept in plan order, written to OUT/results.csv and OUT/results.json."""

    def __init__(self, plan: BatchPlan, out_dir: str | Path) -> None:
        self.plan = plan
        self.out_dir = Path(out_dir)
        self.swept_keys = plan.swept_keys()
        self.columns = [*LEADING_COLUMNS, *self.swept_keys, *TRAILING_COLUMNS, *GROUP_COLUMNS]
        self._rows: dict[str, dict] = {}

    def update(self, run: PlannedRun, run_state: RunState) -> dict:
        row = result_row(run, run_state, self.swept_keys, self.out_dir)
        self._rows[run.run_id] = row
        return row

    def rows(self) -> list[dict]:
        """The rows in plan order, each with its group's columns (GROUP_COLUMNS)."""
        planned = [run for run in self.plan.runs if run.run_id in self._rows]
        rows = [self._rows[run.run_id] for run in planned]
        annotate_groups(rows, [run.config.to_dict() for run in planned])
        return rows

    def write(self) -> None:
        """Rewrite results.csv and results.json atomically.

        If either cannot be written (full or read-only disk), both are removed rather than left
        stale, and an OutputError says so: the next `featpipe bench` rebuilds them from the folders.
        """
        rows = self.rows()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _csv_cell(row.get(key)) for key in self.columns})
        try:
            for name, write, content in (
                    ("results.json", atomic.write_json, {"batch": self.plan.name, "updated": now_iso(),
                                                         "columns": self.columns, "runs": rows}),
                    ("results.csv", atomic.write_text, buffer.getvalue())):
                with atomic.writing(self.out_dir / name):
                    write(self.out_dir / name, content)
        except OutputError as error:
            for name in RESULT_FILES:
                with contextlib.suppress(OSError):
                    (self.out_dir / name).unlink(missing_ok=True)
            raise OutputError(f"{error}. The results table was removed rather than left out of date; the run "
                              "folders are intact, and running the same command again rebuilds it") from None


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def best_per_pipeline(rows: list[dict]) -> list[dict]:
    """The best done run of each pipeline family, best first: the best run of its best group of repeats
    (highest mean validation accuracy), so a lucky seed does not pick the setting."""
    best: dict[str, dict] = {}

    def rank(row: dict) -> tuple:
        mean = row.get("group_val_mean")
        return (row["val_accuracy"] if mean is None else mean, row["val_accuracy"])

    for row in rows:
        if row.get("status") != "done" or row.get("val_accuracy") is None:
            continue
        held = best.get(row["pipeline"])
        if held is None or rank(row) > rank(held):
            best[row["pipeline"]] = row
    return sorted(best.values(), key=lambda row: tuple(-v for v in rank(row)))


def format_summary(rows: list[dict], swept_keys: list[str]) -> str:
    """A side-by-side table of the best run per pipeline family (and how many finished), for the terminal.

    Values print as `featpipe report`'s table prints them (the same columns and formatters).
    """
    best = best_per_pipeline(rows)
    if not best:
        return "no finished runs yet"
    finished: dict[str, int] = {}
    for row in rows:
        if row.get("status") == "done" and row.get("val_accuracy") is not None:
            finished[row["pipeline"]] = finished.get(row["pipeline"], 0) + 1
    keys = ["val_accuracy", "train_accuracy", *(["test_accuracy"] if any(r.get("test_accuracy") is not None
                                                                      for r in best) else []),
            "feature_dim", "train_s", "predict_images_per_s", "model_bytes"]
    columns = [COLUMN_BY_KEY[key] for key in keys]
    repeated = any((row.get("group_runs") or 0) > 1 for row in rows)
    header = ["pipeline", "runs", *(column.header for column in columns),
              *(["its group: mean ± std (n)"] if repeated else []), "settings", "best run"]
    lines = []
    for row in best:
        settings = [f"{key}={_value(row.get(key))}" for key in swept_keys if row.get(key) is not None]
        if row.get("selected"):
            settings.append(str(row["selected"]))
        group = [group_text(row)] if repeated else []
        lines.append([row["pipeline"], finished[row["pipeline"]], *(column.text(row) for column in columns),
                      *group, " ".join(settings) or "-", row["run_id"]])
    left = {0, len(header) - 2, len(header) - 1}
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(len(header))]

    def render(cells: list) -> str:
        return "  ".join(str(c).ljust(w) if i in left else str(c).rjust(w) for i, (c, w) in
                         enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(cells) for cells in lines)])


def group_text(row: dict) -> str:
    """``95.6% ± 0.4 (10)`` for the row's group of repeats; ``95.6% (1 run, no spread)`` for a lone run."""
    mean = row.get("group_val_mean")
    if mean is None:
        return "-"
    if row.get("group_val_std") is None:
        return f"{percent(mean)} (1 run, no spread)"
    return f"{percent(mean)} ± {100 * row['group_val_std']:.2f} ({row['group_runs']})"


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return str(value)
