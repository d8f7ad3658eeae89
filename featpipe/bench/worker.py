"""What a worker does with one run: mark it running, run it, record success or failure.

`run_task` is the function local worker processes and Dask workers call. It never raises
for a failing run: the error (message and traceback) goes to the run folder and the outcome
says ``failed``, so one bad run cannot stop a batch.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

from . import state

#: Test-only hook: "<run name>:<sentinel path>" makes the worker that starts a run of that
#: name end its process abruptly, once (the sentinel file, created atomically, marks that it
#: happened). Read only here, in the worker; nothing in featpipe sets it.
TEST_KILL_ENV = "FEATPIPE_BENCH_TEST_KILL_ONCE"


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run; plain data, so it pickles across processes and machines."""

    run_id: str
    config: dict  # the resolved config (Config.to_dict()), data paths absolute
    config_digest: str  # the planner's Config.digest(), checked again in the worker
    out_dir: str  # absolute path of the batch output folder
    attempt: int = 1
    blas_threads: int | None = None  # BLAS/OpenMP threads for this run (None: leave as is)
    command: tuple[str, ...] | None = None


def run_task(task: RunTask) -> dict[str, Any]:
    """Run one planned run and return its outcome: run_id, status (done/failed), seconds, error."""
    _test_kill_hook(task)
    start = time.perf_counter()
    try:
        state.mark_running(task.out_dir, task.run_id, task.attempt)
        with _blas_limit(task.blas_threads), contextlib.redirect_stderr(_NotATerminal(sys.stderr)):
            metrics = _run(task)
        outcome = {"status": "done", "val_accuracy": metrics.get("accuracy", {}).get("val")}
    except Exception as exc:  # a failing run is recorded and the batch goes on
        message = str(exc) or type(exc).__name__
        error = {"type": type(exc).__name__, "message": message, "attempt": task.attempt, "pid": os.getpid()}
        try:
            state.record_failure(task.out_dir, task.run_id, task.config, error, traceback.format_exc())
        except Exception as record_exc:  # the folder is unwritable: the outcome still tells (the run stays pending)
            message += f" (and recording the failure failed too: {record_exc})"
        outcome = {"status": "failed", "error": f"{type(exc).__name__}: {message}"}
    finally:
        with contextlib.suppress(OSError):
            state.clear_running(task.out_dir, task.run_id)
    return {"run_id": task.run_id, "seconds": time.perf_counter() - start, "attempt": task.attempt,
            "host": state.host_name(), "pid": os.getpid(), **outcome}


def _run(task: RunTask) -> dict:
    from featpipe.config import validate
    from featpipe.errors import ConfigError
    from featpipe.runner import run_experiment

    config = validate(task.config, f"run {task.run_id}")
    if config.digest() != task.config_digest:
        raise ConfigError(
            f"run {task.run_id}: this worker resolves the config differently from the planner (digest "
            f"{config.digest()[:12]} != {task.config_digest[:12]}); install the same featpipe version everywhere"
        )
    from featpipe import progress

    run_dir = os.path.join(task.out_dir, task.run_id)
    # the batch decided this run is to be (re)done: its folder is replaced as a whole
    with progress.listening(StageRecorder(task.out_dir, task.run_id)):
        result = run_experiment(config, run_dir, resume=True, progress=False, command=task.command, replace=True)
    return result.metrics


class StageRecorder:
    """Writes the stage a run is in to its running marker, for `featpipe bench status`.

    A batch's runs show no progress of their own (their workers share one terminal); this keeps
    an hour-long run from being a silent "running". It writes when the open stages change and
    otherwise at most every `every` seconds.
    """

    def __init__(self, out_dir: str, run_id: str, every: float = 5.0) -> None:
        self.out_dir, self.run_id, self.every = out_dir, run_id, every
        self._last_write = float("-inf")
        self._last_path: list[str] | None = None

    def __call__(self, stages: list) -> None:
        path = [stage.desc for stage in stages]
        now = time.monotonic()
        if path == self._last_path and now - self._last_write < self.every:
            return
        self._last_write, self._last_path = now, path
        innermost = stages[-1] if stages else None
        stage = None if innermost is None else {
            "path": path, "done": innermost.done, "total": innermost.total, "unit": innermost.unit,
            "seconds": round(innermost.elapsed(), 1), "at": state.now_iso(),
        }
        with contextlib.suppress(OSError):  # progress news must never fail a run
            state.record_stage(self.out_dir, self.run_id, stage)


class _NotATerminal(io.TextIOBase):
    """stderr that says it is no terminal: progress bars inside a run (``disable=None``) stay off.

    Workers share the terminal of the process that started them; their bars would garble the
    batch's own progress display. Everything written still goes to the real stderr.
    """

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _blas_limit(threads: int | None):
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def _test_kill_hook(task: RunTask) -> None:
    spec = os.environ.get(TEST_KILL_ENV)
    if not spec:
        return
    name, _, sentinel = spec.partition(":")
    if name != task.config.get("name") or not sentinel:
        return
    try:
        fd = os.open(sentinel, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    state.mark_running(task.out_dir, task.run_id, task.attempt)  # as a real run would have
    os._exit(70)
