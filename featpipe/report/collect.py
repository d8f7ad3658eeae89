"""Find run folders under a directory and read them, tolerating failed, running and corrupt runs.

A run folder is a folder holding ``config.yaml`` and either ``metrics.json`` (the runner's
result) or ``error.json`` (a batch's record of a failed run). Hidden folders (the runner's
temporary ``.NAME.*.tmp`` folders, ``.checkpoints``) are never runs. A run whose files cannot be
read is skipped with a warning that names the file, so one bad folder never hides the others.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import yaml_safe
from ..errors import FeatpipeError, ModelError

RUN_MARKERS = ("metrics.json", "error.json")
BATCH_MANIFEST = "batch.json"  # written by featpipe bench (featpipe.bench.state)

#: Statuses a run can be shown with; anything else a batch writes is shown as it is.
DONE, FAILED = "done", "failed"


@dataclass
class RunRecord:
    """What the report knows about one run folder.

    Attributes
    ----------
    path : the run folder.
    name : the run's name (metrics ``name``, else config ``name``, else the folder name).
    status : ``"done"``, ``"failed"``, or what the run's metrics say (e.g. ``"running"``).
    metrics : metrics.json's content ({} when there is none).
    config : config.yaml's content as plain data ({} when unreadable).
    error : a one-line error message for failed runs, else None.
    history : history.json's content for MLP runs (per-epoch lists), else None.
    swept : the values a batch swept to make this run ({} outside a batch).
    """

    path: Path
    name: str
    status: str
    metrics: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    error: str | None = None
    history: dict | None = None
    swept: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status == DONE

    def relative_to(self, root: Path) -> str:
        """The folder's path relative to `root` ("." for the root itself), for display."""
        try:
            return str(self.path.relative_to(root)) or "."
        except ValueError:
            return str(self.path)


@dataclass
class Collection:
    """The runs found under `root`, plus warnings about folders that were skipped or odd."""

    root: Path
    runs: list[RunRecord]
    warnings: list[str] = field(default_factory=list)


def is_run_dir(path: Path) -> bool:
    """True if `path` holds config.yaml and metrics.json or error.json."""
    return (path / "config.yaml").is_file() and any((path / marker).is_file() for marker in RUN_MARKERS)


def find_run_dirs(root: str | os.PathLike) -> list[Path]:
    """Every run folder at or below `root`, sorted by path; hidden folders are not searched.

    A run folder's own subfolders are not searched (a run does not contain runs).
    """
    root = Path(root)
    if is_run_dir(root):
        return [root]
    found = []
    for folder, subfolders, _files in os.walk(root):
        here = Path(folder)
        if here != root and is_run_dir(here):
            found.append(here)
            subfolders[:] = []
            continue
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
    return sorted(found)


def read_run_record(path: Path) -> tuple[RunRecord | None, list[str]]:
    """Read one run folder; returns (record or None if unreadable, warnings)."""
    warnings: list[str] = []
    config = _read_config(path / "config.yaml", warnings)
    metrics_path, error_path = path / "metrics.json", path / "error.json"
    metrics: dict = {}
    if metrics_path.is_file():
        metrics = _read_json_object(metrics_path)
        if isinstance(metrics, str):
            warnings.append(f"skipped {path}: {metrics_path.name} is unreadable ({metrics})")
            return None, warnings
    error = None
    if error_path.is_file():
        content = _read_json_object(error_path)
        error = _error_message(content) if isinstance(content, dict) else f"error.json unreadable ({content})"
    status = str(metrics.get("status") or (FAILED if error is not None else DONE))
    if status == DONE and error is None and not isinstance(metrics.get("accuracy"), dict):
        warnings.append(f"skipped {path}: {metrics_path.name} has no 'accuracy' section (not a finished run's metrics)")
        return None, warnings
    if status == FAILED and error is None:
        error = _error_message(metrics.get("error")) if metrics.get("error") else "failed (no error recorded)"
    history = None
    if (path / "history.json").is_file():
        history = _read_json_object(path / "history.json")
        if isinstance(history, str):
            warnings.append(f"{path / 'history.json'}: unreadable ({history}); no learning curve for this run")
            history = None
    name = str(metrics.get("name") or config.get("name") or path.name)
    record = RunRecord(path=path, name=name, status=status, metrics=metrics, config=config, error=error,
                       history=history)
    return record, warnings


def collect_runs(root: str | os.PathLike) -> Collection:
    """Read every run folder under `root`, plus the planned runs of any batch folder there.

    Raises
    ------
    ModelError if `root` does not exist or holds no run at all, or if none can be read.
    """
    root = Path(root)
    if not root.exists():
        raise ModelError(f"{root}: no such folder (expected a run folder or a folder of run folders)")
    if not root.is_dir():
        raise ModelError(f"{root}: not a folder (expected a run folder or a folder of run folders)")
    paths = find_run_dirs(root)
    runs, warnings = [], []
    for path in paths:
        record, notes = read_run_record(path)
        warnings.extend(notes)
        if record is not None:
            runs.append(record)
    if paths and not runs:
        raise ModelError(f"{root}: found {len(paths)} run folder(s) but none could be read:\n  " + "\n  ".join(warnings))
    runs += merge_batches(root, runs, warnings)
    if not runs:
        raise ModelError(
            f"{root}: no run folders found (a run folder holds config.yaml and metrics.json or error.json; "
            "make one with `featpipe run` or `featpipe bench`)"
        )
    return Collection(root=root, runs=runs, warnings=warnings)


def find_batch_dirs(root: Path) -> list[Path]:
    """Folders at or below `root` holding a batch manifest (batch.json), hidden folders excluded."""
    found = []
    for folder, subfolders, files in os.walk(root):
        if BATCH_MANIFEST in files:
            found.append(Path(folder))
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
    return found


def merge_batches(root: Path, runs: list[RunRecord], warnings: list[str]) -> list[RunRecord]:
    """Add what batch manifests know: swept values of found runs, and the planned runs with no
    folder yet (running or pending, shown as such). Returns the added records."""
    from ..bench.status import batch_status

    by_path = {run.path.resolve(): run for run in runs}
    added = []
    for folder in find_batch_dirs(root):
        try:
            status = batch_status(folder)
        except FeatpipeError as error:
            warnings.append(f"{folder / BATCH_MANIFEST}: batch manifest not used ({error})")
            continue
        for entry, state in status.runs:
            path = folder / str(entry.get("run_id"))
            swept = entry.get("swept") if isinstance(entry.get("swept"), dict) else {}
            found = by_path.get(path.resolve())
            if found is not None:
                found.swept = swept
            elif state.status not in (DONE, FAILED):
                added.append(RunRecord(path=path, name=str(entry.get("name") or path.name), status=state.status,
                                       swept=swept, error="; ".join(state.notes) or None))
    return added


def _read_config(path: Path, warnings: list[str]) -> dict:
    try:
        data = yaml_safe.read_yaml_file(path, "config")  # bounded: a run folder may be hostile
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        warnings.append(f"{path}: unreadable config ({_first_line(exc)}); using metrics.json alone")
        return {}
    if not isinstance(data, dict):
        warnings.append(f"{path}: config is not a mapping; using metrics.json alone")
        return {}
    return data


def _read_json_object(path: Path) -> dict | str:
    """The JSON object in `path`, or a short description of why it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return _first_line(exc)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc}"
    if not isinstance(data, dict):
        return f"expected a JSON object, found {type(data).__name__}"
    return data


def _error_message(content: Any) -> str:
    """A one-line message from whatever a batch recorded about a failure."""
    if isinstance(content, dict):
        kind = content.get("type") or content.get("error_type") or content.get("exception")
        message = content.get("message") or content.get("error") or content.get("detail")
        if message is None:
            message = json.dumps(content)[:300]
        return f"{kind}: {message}" if kind else str(message)
    return _first_line(content)


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


@dataclass
class DataGroup:
    """Runs scored on the same validation images (same source and data fingerprint)."""

    key: str
    label: str
    runs: list[RunRecord]


def group_by_data(runs: list[RunRecord]) -> list[DataGroup]:
    """Split runs by the data they were scored on, largest group first.

    Finished runs are grouped by data source and validation-set fingerprint: accuracies are
    comparable only within a group. A run without metrics (failed, running) joins the group of a
    finished run with the same ``data`` config section, or a group of its own.
    """
    by_config: dict[str, str] = {}
    labels: dict[str, str] = {}
    members: dict[str, list[RunRecord]] = {}
    for run in runs:
        data = run.metrics.get("data") if run.done else None
        if isinstance(data, dict) and data.get("fingerprints"):
            key = f"{data.get('source')}|{data['fingerprints'].get('val') or data['fingerprints'].get('train')}"
            by_config.setdefault(_config_data_key(run), key)
            labels.setdefault(key, _data_label(data))
    unknown = []
    for run in runs:
        data = run.metrics.get("data") if run.done else None
        if isinstance(data, dict) and data.get("fingerprints"):
            key = f"{data.get('source')}|{data['fingerprints'].get('val') or data['fingerprints'].get('train')}"
        elif not isinstance(run.config.get("data"), dict):
            unknown.append(run)  # e.g. a batch's pending run: nothing says what data it will read
            continue
        else:
            key = by_config.get(_config_data_key(run)) or f"config|{_config_data_key(run)}"
            labels.setdefault(key, _config_label(run.config.get("data")))
        members.setdefault(key, []).append(run)
    groups = [DataGroup(key=key, label=labels[key], runs=group) for key, group in members.items()]
    groups.sort(key=lambda g: (-sum(run.done for run in g.runs), -len(g.runs)))
    if unknown:
        if groups:
            groups[0].runs.extend(unknown)
        else:
            groups.append(DataGroup(key="unknown", label="data not known yet (no run has finished)", runs=unknown))
    return groups


def _config_data_key(run: RunRecord) -> str:
    return json.dumps(run.config.get("data"), sort_keys=True, default=str)


def _data_label(data: dict) -> str:
    sizes = data.get("sizes") or {}
    counts = ", ".join(f"{n:,} {split}" for split, n in sizes.items())
    fingerprint = (data.get("fingerprints") or {}).get("val") or ""
    shape = "x".join(str(s) for s in data.get("image_shape") or [])
    return f"{data.get('source', '?')} ({counts} images{', ' + shape if shape else ''}; val fingerprint {fingerprint[:10]})"


def _config_label(data: Any) -> str:
    if not isinstance(data, dict):
        return "unknown data (no readable config)"
    where = data.get("root") or ""
    return f"{data.get('source', '?')}{':' + str(where) if where else ''} (from the config; no finished run)"
