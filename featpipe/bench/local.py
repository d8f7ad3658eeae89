"""Local executor: a small pool of spawned worker processes, one run at a time each.

Why not `concurrent.futures.ProcessPoolExecutor`: when one of its workers dies, the whole
pool breaks and every run in flight is lost with it, with no way to tell which run killed
it. Here each worker has its own pipe and process sentinel, so a worker that dies is
charged to exactly the run it was on: that run is retried (up to `retries` times) in a
fresh worker while the other workers carry on. Ctrl-C (or a fail-fast stop) terminates the
workers at once instead of waiting for their runs to end.

Workers are started with the "spawn" method (no inherited locks or BLAS thread pools) and
with OMP/OpenBLAS/MKL thread counts set in their environment before numpy loads, so that
``jobs x threads`` does not exceed the cores; `run_task` also applies threadpoolctl limits.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from typing import Callable

from featpipe.errors import FeatpipeError
from featpipe.interrupts import interruptible
from featpipe.memory import system_available_bytes
from featpipe.nn.parallel import usable_cores

from . import state
from .worker import RunTask, run_task

BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
            "NUMEXPR_NUM_THREADS")
JOB_MEMORY_BYTES = 2 * 1024**3  # what one small-to-medium run is assumed to need, for the default --jobs
_MAX_STARTUP_DEATHS = 3

Outcome = dict
OnOutcome = Callable[[Outcome], bool]


def available_memory() -> int | None:
    """Bytes of memory available for new work, or None if unknown (what decides the default --jobs)."""
    return system_available_bytes()


def default_jobs() -> int:
    """min(cores, available memory / 2 GiB), at least 1."""
    jobs = usable_cores()
    memory = available_memory()
    if memory is not None:
        jobs = min(jobs, memory // JOB_MEMORY_BYTES)
    return max(1, int(jobs))


def blas_threads_for(jobs: int) -> int:
    """BLAS threads per worker so that all workers together use the cores once: cores // jobs."""
    return max(1, usable_cores() // max(1, jobs))


@contextlib.contextmanager
def _child_environment(threads: int):
    """Set BLAS thread counts in os.environ while a worker is spawned (it copies the environment)."""
    saved = {name: os.environ.get(name) for name in BLAS_ENV}
    os.environ.update({name: str(threads) for name in BLAS_ENV})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def worker_main(conn, parent_pid: int) -> None:
    """A worker process: import the runner once, then run tasks from `conn` until told to stop."""
    # Ctrl-C reaches the whole process group; the parent decides and terminates the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent_pid)
    # tqdm's default lock is a process-shared semaphore; a worker terminated mid-run would leak
    # it (and the resource tracker would warn). Workers draw no bars, so a thread lock does.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    try:
        import featpipe.runner  # noqa: F401  (paid once per worker, not per run)
    except BaseException:
        conn.send(("fatal", traceback.format_exc()))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(("outcome", run_task(task)))


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker soon after its parent dies (e.g. killed), instead of running on orphaned."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="featpipe-parent-watch").start()


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    task: RunTask | None = None
    ready: bool = False


class LocalExecutor:
    """Runs tasks in `jobs` spawned worker processes (see the module docstring).

    Parameters
    ----------
    jobs : number of worker processes.
    retries : how many times a run whose worker died is started again before it counts as failed.
    blas_threads : BLAS threads per worker (default: cores // jobs).
    """

    def __init__(self, jobs: int, retries: int = 2, blas_threads: int | None = None) -> None:
        if jobs < 1:
            raise FeatpipeError(f"--jobs must be at least 1, got {jobs}")
        if retries < 0:
            raise FeatpipeError(f"--retries must be 0 or more, got {retries}")
        self.jobs = jobs
        self.retries = retries
        self.blas_threads = blas_threads or blas_threads_for(jobs)

        self._workers: list[_Worker] = []
        self._kept = False

    def describe(self) -> str:
        processes = "process" if self.jobs == 1 else "processes"
        return f"{self.jobs} local worker {processes}, {self.blas_threads} BLAS thread(s) each"

    def __enter__(self) -> "LocalExecutor":
        """Keep the workers (and what they imported) from one `run` to the next, until the block ends."""
        self._kept = True
        return self

    def __exit__(self, *exc_info) -> None:
        self._kept = False
        self._stop(self._workers)

    def run(self, tasks: list[RunTask], on_outcome: OnOutcome) -> None:
        """Run `tasks`; call `on_outcome` with each outcome (status done/failed/retrying).

        `on_outcome` returning False stops the batch: the remaining runs are not started and the
        running ones are terminated.
        """
        queue = deque(replace(task, blas_threads=self.blas_threads) for task in tasks)
        context = multiprocessing.get_context("spawn")
        workers = self._workers
        losses: dict[str, int] = {}
        startup_deaths = 0
        try:
            while queue or any(w.task is not None for w in workers):
                busy = sum(w.task is not None for w in workers)
                while len(workers) < min(self.jobs, busy + len(queue)):
                    workers.append(self._start(context))
                for worker in workers:
                    if worker.task is None and queue:
                        try:
                            worker.conn.send(queue[0])
                        except OSError:  # it died while idle: noticed below, the run goes to another
                            continue
                        worker.task = queue.popleft()
                with interruptible():  # Ctrl-C is acted on here, never mid-bookkeeping
                    wait([w.conn for w in workers] + [w.process.sentinel for w in workers])
                for worker in list(workers):
                    keep_going, died = self._drain(worker, on_outcome)
                    if not keep_going:
                        return
                    if not died:
                        continue
                    workers.remove(worker)
                    lost, worker.task = worker.task, None
                    code = worker.process.exitcode
                    if lost is None:
                        startup_deaths += 0 if worker.ready else 1
                        if startup_deaths >= _MAX_STARTUP_DEATHS:
                            raise FeatpipeError(f"worker processes keep dying while starting (exit code {code})")
                        continue
                    state.clear_running(lost.out_dir, lost.run_id)
                    losses[lost.run_id] = losses.get(lost.run_id, 0) + 1
                    if losses[lost.run_id] <= self.retries:
                        queue.appendleft(replace(lost, attempt=lost.attempt + 1))
                        outcome = {"run_id": lost.run_id, "status": "retrying", "attempt": lost.attempt,
                                   "error": f"worker process lost (exit code {code}); retry "
                                            f"{losses[lost.run_id]} of {self.retries}"}
                    else:
                        outcome = _record_lost(lost, code, losses[lost.run_id])
                    if not on_outcome(outcome):
                        return
        finally:
            # Busy workers (a stop, Ctrl-C, an error) are terminated; idle ones stay if kept.
            self._stop([w for w in workers if w.task is not None or not self._kept])

    def _start(self, context) -> _Worker:
        parent_end, child_end = context.Pipe(duplex=True)
        process = context.Process(target=worker_main, args=(child_end, os.getpid()), daemon=True,
                                  name="featpipe-bench-worker")
        with _child_environment(self.blas_threads):
            process.start()
        child_end.close()
        return _Worker(process, parent_end)

    def _drain(self, worker: _Worker, on_outcome: OnOutcome) -> tuple[bool, bool]:
        """Handle every message the worker sent; returns (keep going, worker died)."""
        try:
            while worker.conn.poll():
                kind, payload = worker.conn.recv()
                if kind == "ready":
                    worker.ready = True
                elif kind == "fatal":
                    raise FeatpipeError(f"a worker process could not start:\n{payload}")
                elif kind == "outcome":
                    worker.task = None
                    if not on_outcome(payload):
                        return False, False
        except (EOFError, OSError):
            return True, True
        return True, not worker.process.is_alive()

    def _stop(self, workers: list[_Worker]) -> None:
        """Ask idle workers to leave; terminate busy ones (a stop or Ctrl-C); clean their markers."""
        workers = list(workers)
        self._workers[:] = [w for w in self._workers if w not in workers]
        for worker in workers:
            try:
                if worker.task is None:
                    worker.conn.send(None)
                else:
                    worker.process.terminate()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 5
        for worker in workers:
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1)
            if worker.task is not None:
                state.clear_running(worker.task.out_dir, worker.task.run_id)
            worker.conn.close()


def _record_lost(task: RunTask, exit_code: int | None, times: int) -> Outcome:
    """Record a run whose worker died more often than allowed as failed."""
    message = (f"the worker process running it died {times} time(s) (last exit code {exit_code}): killed, "
               "out of memory, or a crash in native code")
    try:
        state.record_failure(task.out_dir, task.run_id, task.config,
                             {"type": "WorkerLost", "message": message, "attempt": task.attempt},
                             f"WorkerLost: {message}\n(no Python traceback: the process ended abruptly)\n")
    except Exception as exc:  # keep the batch going; the outcome still says what happened
        message += f" (and recording the failure failed: {exc})"
    return {"run_id": task.run_id, "status": "failed", "attempt": task.attempt, "error": f"WorkerLost: {message}"}
