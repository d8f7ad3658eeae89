"""The comparison table: one row per run, with raw values (for sorting and CSV) and display text.

A row is `featpipe.runs.results.results_row` (the row of `featpipe bench`'s results table) plus
what the report adds: the folder's ``path`` and the batch's ``swept`` values. Columns and number
formats are that module's, shared with `featpipe run`'s summary, so the three agree.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Sequence

from ..bench.plan import format_value
from ..runs import results
from ..runs.folder import RunRecord
from ..runs.groups import GROUP_COLUMNS
from ..runs.results import (COLUMN_BY_KEY, COLUMNS, FAMILIES, FAMILY_MLP_FEATURES, FAMILY_MLP_PIXELS,  # noqa: F401
                            FAMILY_OTHER, FAMILY_SVM, Column, family_of, percent)

#: The group of repeats a run belongs to (featpipe.runs.groups), shown when some group has repeats.
GROUP_COLUMN = Column("group", "group", help="runs whose configs differ only in the seed share a group")
#: The columns the report shows, in order (the bench's summary picks its own few of the same).
REPORT_COLUMNS = (COLUMNS[0], GROUP_COLUMN, *(c for c in COLUMNS[1:] if c.key not in ("pipeline", "load_s", "predict_s")))

def run_features(run: RunRecord) -> list[str]:
    """The run's extractors in concatenation order (from metrics, else from its config)."""
    return results.run_features(run.metrics, run.config)

def run_classifier(run: RunRecord) -> str | None:
    return results.run_classifier(run.metrics, run.config)

def build_row(run: RunRecord, root=None) -> dict:
    """The table row of one run: the results row plus ``swept`` and ``path``."""
    row = results.results_row(run.name, run.status, run.metrics, run.config, history=run.history,
                              error=run.error, path=run.path)
    row["swept"] = " ".join(f"{key}={format_value(value)}" for key, value in run.swept.items()) or None
    row["path"] = run.relative_to(root) if root is not None else str(run.path)
    return row

def build_rows(runs: Sequence[RunRecord], root=None) -> list[dict]:
    """One row per run, best validation accuracy first; runs without one (failed, running) last."""
    rows = [build_row(run, root) for run in runs]
    return sorted(rows, key=sort_key)

def sort_key(row: dict) -> tuple:
    val = row.get("val_accuracy")
    return (val is None, -(val or 0.0), row["name"])

def unfinished_text(row: dict) -> str:
    """Why a row has no results: its error, or what its status means."""
    if row.get("error"):
        return str(row["error"])
    return {"running": "still running", "pending": "not started yet"}.get(row["status"], "no error recorded")

def visible_columns(rows: Sequence[dict]) -> list[Column]:
    """The columns worth showing: those with a value in at least one row (run and status always); the
    group column only when some group holds more than one run."""
    repeated = any((row.get("group_runs") or 0) > 1 for row in rows)
    return [c for c in REPORT_COLUMNS if c.key in ("name", "status")
            or (any(row.get(c.key) is not None for row in rows) and (c.key != "group" or repeated))]

def cell_text(row: dict, column: Column, missing: str = "-") -> str:
    """A row's value in `column` as display text (`missing` where there is none)."""
    return column.text(row, missing)

def to_csv(rows: Sequence[dict]) -> str:
    """The rows as CSV text with raw values (fractions, seconds, bytes) and a header line."""
    keys = [c.key for c in COLUMNS] + ["path", "error", *GROUP_COLUMNS]
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
            f"{percent(best)} has a 95% interval of {low:.1%} to {high:.1%} (Wilson), so differences of that "
            "order between runs may be chance.")
