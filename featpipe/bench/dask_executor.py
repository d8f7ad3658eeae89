"""Dask executor: runs as tasks on a Dask distributed cluster (an existing one, or a local one).

Each run is one ``client.submit(run_task, task, pure=False, retries=...)``; workers write run
folders straight to the shared output path, and the client collects outcomes as they finish.
A worker lost mid-run makes the scheduler raise `KilledWorker` for that task (a local
cluster is started with ``allowed-failures = 0`` so every loss is seen here); the run is
submitted again up to `retries` times, then recorded as failed.

On connecting, a tiny task on every worker checks that it can import featpipe (and which
version): a worker without it would otherwise fail every run, or hang.

Threads: Dask's nannies start worker processes with OMP/MKL/OpenBLAS thread counts of 1
(``distributed.nanny.pre-spawn-environ``), and the local cluster runs one task thread per
worker process, so N local workers keep N cores busy without oversubscribing them. The output
folder must be on a file system every worker shares (it is the path the client was given,
made absolute).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

from featpipe import __version__
from featpipe.errors import FeatpipeError
from featpipe.interrupts import interruptible

from . import state
from .worker import RunTask, run_task

EXTRA_HINT = "install the extra: pip install 'featpipe[distributed]'"


def _import_distributed():
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError as exc:
        raise FeatpipeError(f"running a batch on Dask needs dask.distributed, which is not installed ({exc}); "
                            f"{EXTRA_HINT}") from None
    return distributed


#: What the probe task evaluates on each worker. It is sent as text to the builtin `eval`, so the
#: task itself deserializes anywhere; a worker that cannot import featpipe then answers with an
#: ImportError, instead of failing to unpickle a featpipe function, which breaks the worker's
#: connection and leaves the client waiting.
_PROBE = "__import__('featpipe.bench.worker').__version__"


class DaskExecutor:
    """Runs tasks on Dask: `scheduler` = address of an existing cluster, or `local_workers` = N to start one.

    Use as a context manager: entering connects (or starts the local cluster) and checks the
    workers; leaving closes what it opened.
    """

    def __init__(self, scheduler: str | None = None, local_workers: int | None = None, retries: int = 2,
                 connect_timeout: float = 5.0, check_timeout: float = 60.0) -> None:
        if (scheduler is None) == (local_workers is None):
            raise FeatpipeError("give either a scheduler address (--scheduler) or a number of local Dask workers "
                                "(--dask-local), not both")
        if local_workers is not None and local_workers < 1:
            raise FeatpipeError(f"--dask-local must be at least 1, got {local_workers}")
        if retries < 0:
            raise FeatpipeError(f"--retries must be 0 or more, got {retries}")
        self.scheduler = scheduler
        self.local_workers = local_workers
        self.retries = retries
        self.connect_timeout = connect_timeout
        self.check_timeout = check_timeout
        self.client = None
        self.cluster = None
        self._config = None

    def describe(self) -> str:
        n = len(self.client.scheduler_info().get("workers", {})) if self.client is not None else "?"
        if self.local_workers:
            where = f"local Dask cluster ({self.local_workers} processes)"
        else:
            where = f"Dask at {self.scheduler}"
        return f"{where}, {n} worker(s)"

    def __enter__(self) -> "DaskExecutor":
        distributed = _import_distributed()
        import dask

        try:
            if self.local_workers is not None:
                # Every lost worker surfaces here as KilledWorker and counts against --retries; a
                # worker holds one run at a time (saturation 1.0: no run queued behind the one it is
                # on), so a lost worker is charged to the run it was on only.
                self._config = dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                                "distributed.scheduler.worker-saturation": 1.0})
                self._config.__enter__()
                self.cluster = distributed.LocalCluster(
                    n_workers=self.local_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=logging.ERROR,
                )
                self.client = distributed.Client(self.cluster, timeout=f"{self.connect_timeout}s")
            else:
                self.client = self._connect(distributed)
            self._check_workers(distributed)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _connect(self, distributed):
        address = self.scheduler if "://" in self.scheduler else f"tcp://{self.scheduler}"
        try:
            return distributed.Client(address, timeout=f"{self.connect_timeout}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise FeatpipeError(f"cannot reach the Dask scheduler at {address} within {self.connect_timeout:g} s "
                                f"({type(exc).__name__}: {exc}); is it running, and is the address right?") from None

    def _check_workers(self, distributed) -> None:
        """Fail clearly unless every worker can import featpipe (one tiny task per worker)."""
        expected = self.local_workers or 1  # a cluster of ours: all of them; someone else's: at least one
        try:
            self.client.wait_for_workers(expected, timeout=self.check_timeout)
        except (TimeoutError, OSError) as exc:
            raise FeatpipeError(f"the Dask scheduler {self.client.scheduler.address} has fewer than {expected} "
                                f"worker(s) (waited {self.check_timeout:g} s: {exc})") from None
        workers = list(self.client.scheduler_info().get("workers", {}))
        futures = {address: self.client.submit(eval, _PROBE, pure=False, workers=[address], allow_other_workers=False,
                                               key=f"featpipe-probe-{i}") for i, address in enumerate(workers)}
        problems = []
        for address, future in futures.items():
            try:
                version = future.result(timeout=self.check_timeout)
            except Exception as exc:  # unpicklable on the worker (no featpipe), timeout, lost worker
                problems.append(f"{address}: {type(exc).__name__}: {exc}")
                continue
            if version != __version__:
                problems.append(f"{address}: featpipe {version}, here {__version__}")
        if problems:
            raise FeatpipeError("Dask workers cannot run featpipe tasks (every worker needs the same featpipe "
                                f"installed; {EXTRA_HINT} in the workers' environment):\n  " + "\n  ".join(problems))

    def __exit__(self, *exc_info) -> None:
        for closing in (self.client, self.cluster):
            if closing is not None:
                try:
                    closing.close()
                except Exception:  # closing after a failure must not hide that failure
                    pass
        self.client = self.cluster = None
        if self._config is not None:
            self._config.__exit__(None, None, None)
            self._config = None

    def run(self, tasks: list[RunTask], on_outcome: Callable[[dict], bool]) -> None:
        """Submit `tasks` and report each outcome as it finishes (see LocalExecutor.run)."""
        distributed = _import_distributed()
        client = self.client
        if client is None:
            raise FeatpipeError("DaskExecutor.run needs the executor entered first (use it in a `with` block)")
        pending: dict = {}
        losses: dict[str, int] = {}

        def submit(task: RunTask):
            future = client.submit(run_task, task, pure=False, retries=self.retries,
                                   key=f"featpipe-run-{task.run_id}-{task.attempt}")
            pending[future] = task
            return future

        finished = distributed.as_completed([submit(task) for task in tasks])
        try:
            while True:
                with interruptible():  # Ctrl-C is acted on here, never mid-bookkeeping
                    future = next(finished, None)
                if future is None:
                    break
                task = pending.pop(future)
                try:
                    outcome = future.result()
                except distributed.KilledWorker as exc:
                    state.clear_running(task.out_dir, task.run_id)
                    losses[task.run_id] = losses.get(task.run_id, 0) + 1
                    if losses[task.run_id] <= self.retries:
                        finished.add(submit(replace(task, attempt=task.attempt + 1)))
                        outcome = {"run_id": task.run_id, "status": "retrying", "attempt": task.attempt,
                                   "error": f"Dask worker lost ({exc}); retry {losses[task.run_id]} of {self.retries}"}
                    else:
                        message = f"its Dask worker died {losses[task.run_id]} time(s): {exc}"
                        outcome = _record_infrastructure_failure(task, "WorkerLost", message)
                except Exception as exc:  # the task itself could not run (serialization, worker environment)
                    outcome = _record_infrastructure_failure(task, type(exc).__name__, str(exc))
                if not on_outcome(outcome):
                    return
        finally:
            if pending:
                client.cancel(list(pending), force=True)
                for task in pending.values():
                    state.clear_running(task.out_dir, task.run_id)


def _record_infrastructure_failure(task: RunTask, kind: str, message: str) -> dict:
    try:
        state.record_failure(task.out_dir, task.run_id, task.config,
                             {"type": kind, "message": message, "attempt": task.attempt},
                             f"{kind}: {message}\n(raised by Dask, outside the run)\n")
    except Exception as exc:
        message += f" (and recording the failure failed: {exc})"
    return {"run_id": task.run_id, "status": "failed", "attempt": task.attempt, "error": f"{kind}: {message}"}
