"""Batches of runs: sweeps of configs run in parallel (local processes or Dask), resumable.

- `plan`: batch files -> expanded runs with stable IDs (`load_batch`, `BatchPlan`, `PlannedRun`)
- `identity`: run IDs from the resolved config and a cheap identity of the data
- `state`: the output folder (manifest, lock, run states, failure records)
- `worker`: what a worker does with one run (`run_task`)
- `local` / `dask_executor`: where runs execute (`LocalExecutor`, `DaskExecutor`)
- `table`: results.csv / results.json and the terminal summary
- `batch`: the orchestration (`run_batch`, `bench_file`); `status`: `batch_status`
"""

from .batch import BatchReport, bench_file, plan_lines, run_batch
from .plan import BatchPlan, PlannedRun, load_batch, parse_batch
from .status import BatchStatus, batch_status, format_status
from .table import TIMING_COLUMNS

__all__ = [
    "TIMING_COLUMNS",
    "BatchPlan",
    "BatchReport",
    "BatchStatus",
    "PlannedRun",
    "batch_status",
    "bench_file",
    "format_status",
    "load_batch",
    "parse_batch",
    "plan_lines",
    "run_batch",
]
