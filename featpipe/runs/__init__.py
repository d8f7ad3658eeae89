"""Run folders: one home for their layout, writing, reading and results row.

- `folder`: layout, names, atomic writing (`write_run`, `write_failure`), tolerant reading
  (`read_run_record`, `read_metrics`) of every format
- `results`: the results row (`results_row`), its columns, labels, families and formatters,
  shared by `featpipe bench`'s table, `featpipe report`'s table and `featpipe run`'s summary
"""

from .folder import (FORMAT, RunRecord, check_run_name, default_run_name, is_run_dir, metrics_problems,
                     metrics_record, predictions_array, read_correct, read_metrics, read_run_record, write_failure,
                     write_run)
from .results import COLUMNS, ROW_KEYS, TIMING_KEYS, family_of, pipeline_label, results_row

__all__ = [
    "COLUMNS",
    "FORMAT",
    "ROW_KEYS",
    "TIMING_KEYS",
    "RunRecord",
    "check_run_name",
    "default_run_name",
    "family_of",
    "is_run_dir",
    "metrics_problems",
    "metrics_record",
    "pipeline_label",
    "predictions_array",
    "read_correct",
    "read_metrics",
    "read_run_record",
    "results_row",
    "write_failure",
    "write_run",
]
