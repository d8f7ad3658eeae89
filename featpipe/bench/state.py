"""The batch output folder: manifest, lock, per-run state, failure records.

Layout of ``OUT/``::

    batch.json              batch name and the planned runs (ID, name, config digest, swept values)
    results.csv / .json     the results table (see table.py)
    <run_id>/               a run folder (featpipe.runs.folder): a finished run's, or a failure
                            record (error.json, traceback.txt, config.yaml)
    .state/lock.json        held by the featpipe bench process using the folder
    .state/<run_id>.json    "running" marker: host, pid and start time of the worker on it, and
                            the stage the run is in (every few seconds)

Every file is written atomically; an OSError while writing (full, read-only) is an OutputError
naming the path. A run is *done* when its folder holds metrics.json with
status done and the planned config digest; *failed* when it holds error.json; *running*
when a live worker's marker names it; else *pending*. A marker whose process is gone (a
killed worker or a lost machine's, once the folder is taken over) means nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from featpipe import atomic
from featpipe.atomic import host_name, pid_alive
from featpipe.errors import FeatpipeError, OutputError
from featpipe.runs import folder as run_folder

MANIFEST = "batch.json"
STATE_DIR = ".state"
MANIFEST_FORMAT = 1
STATUSES = ("done", "failed", "running", "pending")


@dataclass
class RunState:
    """What the output folder says about one run."""

    status: str  # one of STATUSES
    metrics: dict | None = None  # done: the run's metrics.json
    error: dict | None = None  # failed: the run's error.json
    marker: dict | None = None  # running (or interrupted): the worker's marker
    notes: list[str] = field(default_factory=list)


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def marker_live(marker: dict) -> bool:
    """Whether the process a marker (or lock) names may still be at work."""
    # On this machine the pid tells; a marker from another machine is trusted until taken over.
    if marker.get("host") == host_name():
        return pid_alive(marker.get("pid", -1))
    return True


def read_json(path: Path) -> dict | None:
    """A JSON object from `path`, or None if it is missing, torn or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def marker_path(out_dir: str | Path, run_id: str) -> Path:
    return Path(out_dir) / STATE_DIR / f"{run_id}.json"


def mark_running(out_dir: str | Path, run_id: str, attempt: int) -> None:
    """Record that this process works on `run_id` (read by `bench status`)."""
    atomic.write_json(marker_path(out_dir, run_id),
                      {"run_id": run_id, "host": host_name(), "pid": os.getpid(), "started": now_iso(),
                       "attempt": attempt})


def record_stage(out_dir: str | Path, run_id: str, stage: dict | None) -> None:
    """Add to this process's running marker the stage its run is in (None: between stages)."""
    path = marker_path(out_dir, run_id)
    marker = read_json(path)
    if marker is None or marker.get("pid") != os.getpid():
        return  # not (or no longer) this process's run
    marker["stage"] = stage
    atomic.write_json(path, marker)


def clear_running(out_dir: str | Path, run_id: str) -> None:
    marker_path(out_dir, run_id).unlink(missing_ok=True)


def record_failure(out_dir: str | Path, run_id: str, config: dict, error: dict, traceback_text: str) -> None:
    """Write the run folder of a failed run (see `featpipe.runs.folder.write_failure`).

    `error` holds at least ``type`` and ``message``; the folder replaces any earlier one for
    this run, atomically.
    """
    run_folder.write_failure(Path(out_dir) / run_id, config, error, traceback_text)


class OutputFolder:
    """The folder a batch writes to (see the module docstring for its layout)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(os.path.abspath(Path(path).expanduser()))

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def lock_path(self) -> Path:
        return self.path / STATE_DIR / "lock.json"

    def run_dir(self, run_id: str) -> Path:
        return self.path / run_id

    def read_manifest(self) -> dict | None:
        """The batch manifest, or None when the folder holds none (raises if it is unreadable)."""
        if not self.manifest_path.exists():
            return None
        manifest = read_json(self.manifest_path)
        if manifest is None or not isinstance(manifest.get("name"), str) or not isinstance(manifest.get("runs"), list):
            raise FeatpipeError(f"{self.manifest_path} is not a featpipe batch manifest (unreadable or wrong format)")
        return manifest

    def check_batch(self, batch_name: str) -> dict | None:
        """Refuse a folder that holds another batch, or other files; returns its manifest if any."""
        manifest = self.read_manifest()
        if manifest is not None:
            if manifest["name"] != batch_name:
                raise FeatpipeError(
                    f"output folder {self.path} holds batch {manifest['name']!r}, not {batch_name!r}: "
                    "give this batch its own --out folder"
                )
            return manifest
        if self.path.exists():
            if not self.path.is_dir():
                raise FeatpipeError(f"output folder {self.path} is a file; give a folder for --out")
            # .state and a killed writer's .*.tmp / .*.old are featpipe's own, not another's files
            others = sorted(p.name for p in self.path.iterdir() if p.name != STATE_DIR
                            and not (p.name.startswith(".") and p.suffix in (".tmp", ".old")))
            if others:
                raise FeatpipeError(
                    f"output folder {self.path} is not empty and holds no batch manifest ({MANIFEST}); found "
                    f"{', '.join(others[:3])}{' ...' if len(others) > 3 else ''}: "
                    "give the batch a new or empty --out folder"
                )
        return None

    def write_manifest(self, name: str, batch_file: str, runs: list[dict], created: str | None = None) -> None:
        with atomic.writing(self.manifest_path):
            self._write_manifest(name, batch_file, runs, created)

    def _write_manifest(self, name: str, batch_file: str, runs: list[dict], created: str | None) -> None:
        atomic.write_json(self.manifest_path, {
            "format": MANIFEST_FORMAT, "name": name, "batch_file": batch_file,
            "created": created or now_iso(), "updated": now_iso(), "runs": runs,
        })

    @contextlib.contextmanager
    def lock(self, command: list[str] | None = None) -> Iterator[None]:
        """Hold the folder for one featpipe bench process; a lock whose process died is taken over."""
        with atomic.writing(self.lock_path):
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        record = {"host": host_name(), "pid": os.getpid(), "started": now_iso(), "command": command}
        for _ in range(3):
            with atomic.writing(self.lock_path):
                try:
                    fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    fd = None
            if fd is None:
                holder = read_json(self.lock_path) or {}
                if holder and marker_live(holder):
                    raise FeatpipeError(
                        f"output folder {self.path} is in use by another featpipe bench (pid {holder.get('pid')} on "
                        f"{holder.get('host')}, since {holder.get('started')}); wait for it to finish, or delete "
                        f"{self.lock_path} if that process is gone"
                    ) from None
                self.lock_path.unlink(missing_ok=True)  # left by a process that no longer exists
                continue
            try:
                with atomic.writing(self.lock_path), os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(record, f)
            except OutputError:
                self.lock_path.unlink(missing_ok=True)
                raise
            break
        else:
            raise FeatpipeError(f"cannot take the lock {self.lock_path}; another process keeps recreating it")
        try:
            yield
        finally:
            mine = read_json(self.lock_path) or {}
            if mine.get("pid") == os.getpid() and mine.get("host") == host_name():
                self.lock_path.unlink(missing_ok=True)

    def clear_leftovers(self) -> None:
        """Under the lock: drop stale running markers and what killed writers left behind.

        Holding the lock, no other featpipe bench uses the folder: every running marker is
        stale. Temporary folders are removed when their writer process is gone (see
        `featpipe.atomic.clear_dead_writers`; one from another machine, as on a Dask cluster,
        only once it is old).
        """
        state_dir = self.path / STATE_DIR
        if state_dir.is_dir():
            for marker in state_dir.glob("*.json"):
                if marker.name != "lock.json":
                    marker.unlink(missing_ok=True)
            atomic.clear_dead_writers(state_dir)
        atomic.clear_dead_writers(self.path)

    def run_state(self, run_id: str, config_digest: str | None) -> RunState:
        """The state of one run as its folder and marker tell it."""
        marker = read_json(marker_path(self.path, run_id))
        if marker is not None and marker_live(marker):
            return RunState("running", marker=marker)
        folder = self.run_dir(run_id)
        notes = [f"interrupted (worker pid {marker.get('pid')} on {marker.get('host')} is gone)"] if marker else []
        metrics = read_json(folder / run_folder.METRICS)
        if metrics is not None and metrics.get("status") == run_folder.DONE:
            problems = run_folder.metrics_problems(metrics)
            if problems:
                notes.append(f"its {run_folder.METRICS} is broken ({problems[0]}); it will be redone")
            elif config_digest is None or metrics.get("config_digest") == config_digest:
                return RunState("done", metrics=metrics, notes=notes)
            else:
                notes.append("its folder holds a run of another config (digest differs); it will be redone")
        error = read_json(folder / run_folder.ERROR)
        if error is not None:
            return RunState("failed", error=error, notes=notes)
        return RunState("pending", marker=marker, notes=notes)
