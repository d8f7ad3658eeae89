"""Run a batch: check the output folder, skip finished runs, execute the rest, keep the table current.

`run_batch` is the library entry point; `bench_file` adds what the command line needs
(loading the batch file, the plan listing, --dry-run, the closing summary).

Resuming is the same command again: a run whose folder holds a finished run of the same
config is skipped, everything else (failed, interrupted, never started) runs. A batch file
edited under the same name (say, a sweep given more values) keeps its finished runs and runs
only the new ones; runs it no longer plans stay on disk but leave the manifest and the table.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from featpipe.errors import FeatpipeError
from featpipe.interrupts import held_interrupts
from featpipe.runs.results import COLUMN_BY_KEY

from .local import LocalExecutor, default_jobs
from .plan import BatchPlan, load_batch
from .state import STATUSES, OutputFolder
from .table import ResultsTable, format_summary
from .worker import RunTask

Echo = Callable[[str], None]


@dataclass
class BatchReport:
    """What one `run_batch` call did and the resulting table."""

    plan: BatchPlan
    out_dir: Path
    rows: list[dict]
    executed: list[str] = field(default_factory=list)  # run IDs that ran to an end here (done or failed)
    outcomes: dict[str, dict] = field(default_factory=dict)  # their last outcome (status, seconds, error)
    retried: list[str] = field(default_factory=list)  # run IDs whose worker was lost, once per loss
    executor: str = ""
    wall_seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C: what finished is kept, the same command continues
    stopped: bool = False  # --fail-fast stopped the batch after a failed run

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    @property
    def failed(self) -> list[str]:
        return [row["run_id"] for row in self.rows if row["status"] == "failed"]

    def summary(self) -> str:
        counts = self.counts()
        n_done_here = sum(1 for o in self.outcomes.values() if o.get("status") == "done")
        lines = [format_summary(self.rows, self.plan.swept_keys()), ""]
        lines.append(f"batch {self.plan.name}: {len(self.rows)} runs, {counts['done']} done ({n_done_here} run now), "
                     f"{counts['failed']} failed, {counts['pending'] + counts['running']} not run; "
                     f"{self.wall_seconds:.1f} s")
        lines.append(f"table: {self.out_dir / 'results.csv'} (and results.json); runs in {self.out_dir}/<run id>/")
        return "\n".join(lines)


def run_batch(
    plan: BatchPlan,
    out_dir: str | Path,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
    retries: int = 2,
    force: bool = False,
    fail_fast: bool = False,
    progress: bool = True,
    echo: Echo | None = None,
    command: Sequence[str] | None = None,
    executor=None,
    on_done: Callable[[Path], str | None] | None = None,
) -> BatchReport:
    """Run every planned run that is not done yet (all of them with `force`) and return the report.

    Parameters
    ----------
    plan : the expanded batch (see `load_batch`).
    out_dir : the batch's output folder; it must be new, empty, or hold this same batch.
    jobs : local worker processes (default: min(cores, available memory / 2 GiB)).
    scheduler, dask_local : run on Dask instead: an existing scheduler's address, or N local workers.
    retries : how often a run whose worker died is started again.
    force : redo runs that are already done.
    fail_fast : stop at the first failed run (the runs in flight are stopped too).
    progress : print a line per finished run (and a progress bar on a terminal) through `echo`.
    executor : a LocalExecutor or DaskExecutor the caller made (and entered) and keeps using
        after this batch, instead of one made here from jobs/scheduler/dask_local.
    on_done : called here, in this process, with the folder of each run that finished done
        (e.g. to log it to MLflow); a line it returns is printed with the run's line.
    """
    started = time.perf_counter()
    echo = echo or _stderr
    out = OutputFolder(out_dir)
    out.check_batch(plan.name)
    if jobs is not None and (scheduler is not None or dask_local is not None):
        raise FeatpipeError("--jobs sets local worker processes; with --scheduler or --dask-local the Dask workers "
                            "set the parallelism (drop --jobs)")
    if executor is not None and (jobs, scheduler, dask_local) != (None, None, None):
        raise FeatpipeError("give either an executor or jobs/scheduler/dask_local, not both")
    states = {run.run_id: out.run_state(run.run_id, run.config.digest()) for run in plan.runs}
    to_run = [run for run in plan.runs if force or states[run.run_id].status != "done"]
    report = BatchReport(plan=plan, out_dir=out.path, rows=[])

    with contextlib.ExitStack() as stack:
        if not to_run:
            executor = None
        elif executor is None:  # ours: entered here (Dask connects: fails before anything is written), closed after
            executor = stack.enter_context(_make_executor(len(to_run), jobs, scheduler, dask_local, retries))
        ctrl_c = stack.enter_context(held_interrupts())  # acted on while waiting for runs, not mid-write
        stack.enter_context(out.lock(list(command) if command else None))
        out.clear_leftovers()  # may put back a folder a killed replace had moved aside: look again
        to_run = [run for run in to_run if force or out.run_state(run.run_id, run.config.digest()).status != "done"]
        _write_manifest(out, plan)
        table = ResultsTable(plan, out.path)
        for run in plan.runs:
            table.update(run, out.run_state(run.run_id, run.config.digest()))
        table.write()
        if executor is not None and to_run:
            report.executor = executor.describe()
            if progress:
                echo(f"running {len(to_run)} of {len(plan.runs)} runs on {report.executor}")
            _execute(plan, out, table, to_run, executor, report, fail_fast, progress, echo, command, on_done)
        for run in plan.runs:  # what the folders say now, whatever happened above
            table.update(run, out.run_state(run.run_id, run.config.digest()))
        table.write()
    report.interrupted = report.interrupted or ctrl_c.received
    report.rows = table.rows()
    report.wall_seconds = time.perf_counter() - started
    return report


def _execute(plan, out, table, to_run, executor, report, fail_fast, progress, echo, command, on_done) -> None:
    from tqdm.auto import tqdm

    by_id = plan.by_id()
    tasks = [RunTask(run.run_id, run.config.to_dict(), run.config.digest(), str(out.path),
                     command=tuple(command) if command else None) for run in to_run]
    bar = tqdm(total=len(tasks), unit="run", desc=plan.name, file=sys.stderr, leave=False,
               disable=None if progress else True)
    say = bar.write if not bar.disable else echo  # tqdm.write keeps the bar intact on a terminal

    def on_outcome(outcome: dict) -> bool:
        run_id = outcome["run_id"]
        if outcome["status"] == "retrying":
            report.retried.append(run_id)
            if progress:
                say(f"  lost     {run_id}: {outcome.get('error')}")
            return True
        run = by_id[run_id]
        row = table.update(run, out.run_state(run_id, run.config.digest()))
        table.write()
        report.executed.append(run_id)
        report.outcomes[run_id] = outcome
        bar.update(1)
        if progress:
            seconds = outcome.get("seconds")
            took = f" ({seconds:.1f} s)" if seconds is not None else ""
            if row["status"] == "done":
                say(f"  done     {run_id}  val {COLUMN_BY_KEY['val_accuracy'].text(row)}{took}")
            else:
                say(f"  FAILED   {run_id}{took}: {outcome.get('error') or row.get('error')}")
        note = on_done(out.path / run_id) if on_done is not None and row["status"] == "done" else None
        if note and progress:
            say(f"           {note}")
        if row["status"] != "done" and fail_fast:
            report.stopped = True
            return False
        return True

    try:
        executor.run(tasks, on_outcome)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        bar.close()


def _make_executor(n_runs: int, jobs, scheduler, dask_local, retries):
    if scheduler is not None or dask_local is not None:
        from .dask_executor import DaskExecutor

        return DaskExecutor(scheduler=scheduler, local_workers=dask_local, retries=retries)
    return LocalExecutor(jobs=jobs if jobs is not None else min(default_jobs(), n_runs), retries=retries)


def _write_manifest(out: OutputFolder, plan: BatchPlan) -> None:
    manifest = out.read_manifest() or {}
    runs = [{"run_id": run.run_id, "name": run.name, "config_digest": run.config.digest(), "swept": run.swept}
            for run in plan.runs]
    out.write_manifest(plan.name, str(plan.path.absolute()), runs, created=manifest.get("created"))


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def plan_lines(plan: BatchPlan, out_dir: str | Path) -> list[str]:
    """The plan, one line per run (ID, state in `out_dir` if it exists, swept values); writes nothing."""
    out = OutputFolder(out_dir)
    out.check_batch(plan.name)
    states = {run.run_id: out.run_state(run.run_id, run.config.digest()).status for run in plan.runs}
    todo = sum(status != "done" for status in states.values())
    lines = [f"batch {plan.name} ({plan.path}): {len(plan.runs)} runs, {todo} to run -> {out.path}"]
    width = max(len(run.run_id) for run in plan.runs)
    for run in plan.runs:
        lines.append(f"  {run.run_id:<{width}}  {states[run.run_id]:<7}  {run.describe_swept()}".rstrip())
    return lines


def bench_file(
    batch_file: str | Path | BatchPlan,
    out_dir: str | Path | None = None,
    *,
    dry_run: bool = False,
    echo: Echo = print,
    **options,
) -> BatchReport | None:
    """Load a batch file, print its plan, and (unless `dry_run`) run it and print the summary.

    `out_dir` defaults to ``runs/<batch name>``; `options` go to `run_batch`. Returns the
    report, or None for a dry run. A BatchPlan (e.g. from the command line's sweeps) is run as is.
    """
    plan = batch_file if isinstance(batch_file, BatchPlan) else load_batch(batch_file)
    out_dir = Path(out_dir) if out_dir is not None else Path("runs") / plan.name
    for line in plan_lines(plan, out_dir):
        echo(line)
    if dry_run:
        return None
    report = run_batch(plan, out_dir, echo=echo, **options)
    echo("")
    echo(report.summary())
    if report.interrupted:
        left = report.counts()["pending"] + report.counts()["running"]
        echo(f"interrupted: {left} run(s) not finished; run the same command again to continue")
    elif report.stopped:
        echo("stopped at the first failed run (--fail-fast); see its error.json and traceback.txt")
    elif report.failed:
        echo(f"{len(report.failed)} run(s) failed; see error.json and traceback.txt in their folders")
    return report
