"""The comparison report over a folder of runs: a sortable table and figures, as a self-contained
HTML page, a Markdown page and a CSV table (``featpipe report DIR``).

Modules: `collect` finds and reads run folders, `table` makes one row per run, `figures` draws
from metrics, `pictures` from saved models and reloaded images, `model` is the page they show, `html`
and `markdown` render it, `build` ties them together and writes the files atomically.
"""

from .build import ReportFiles, build_report, make_report, run_summary
from .collect import Collection, DataGroup, RunRecord, collect_runs, find_run_dirs, group_by_data
from .model import Report, Section
from .table import COLUMNS, build_rows, family_of, to_csv

__all__ = [
    "COLUMNS",
    "Collection",
    "DataGroup",
    "Report",
    "ReportFiles",
    "RunRecord",
    "Section",
    "build_report",
    "build_rows",
    "collect_runs",
    "family_of",
    "find_run_dirs",
    "group_by_data",
    "make_report",
    "run_summary",
    "to_csv",
]
