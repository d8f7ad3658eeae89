"""Find run folders under a directory and read them, tolerating failed, running and corrupt runs.

A run folder (featpipe.runs.folder, which reads each one) holds ``config.yaml`` and either
``metrics.json`` (the runner's result) or ``error.json`` (a batch's record of a failed run).
Hidden folders (temporary ``.NAME.*.tmp`` folders, ``.checkpoints``) are never runs. A broken
run (a file that cannot be read, metrics of the wrong shape) is skipped with a warning that
names the file, so one bad folder never hides the others. Copies of one run found in two
folders (`run_identity`) are shown once, and the collection lists which it folded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FeatpipeError, ModelError
from ..runs.folder import (DONE, ERROR, FAILED, RUN_MARKERS, RunRecord, find_run_dirs, is_run_dir,  # noqa: F401
                           read_json_object, read_run_record)

BATCH_MANIFEST = "batch.json"  # written by featpipe bench (featpipe.bench.state)


@dataclass
class Collection:
    """The runs found under `root`, plus warnings about folders that were skipped or odd."""

    root: Path
    runs: list[RunRecord]
    warnings: list[str] = field(default_factory=list)
    folded: list[tuple[Path, Path]] = field(default_factory=list)  # (the copy shown, a copy left out)


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
    runs, folded = fold_copies(runs)
    return Collection(root=root, runs=runs, warnings=warnings, folded=folded)


def run_identity(run: RunRecord) -> str | None:
    """What makes two folders copies of one run: the content of its record, or None (not yet run).

    A finished run's record is its metrics.json, a failed run's its error.json (with the batch's
    run ID) and config; compared as parsed JSON, so a copy re-indented still matches. Each holds
    the config, the time the run finished (to the second) and the machine, and metrics.json every
    timing too, so two executions of one config never share an identity; only copies of one do.
    """
    if run.done and run.metrics:
        record = run.metrics
    elif run.status == FAILED and (run.path / ERROR).is_file():
        record = read_json_object(run.path / ERROR)
        if isinstance(record, str):
            return None
    else:
        return None
    text = json.dumps({"status": run.status, "record": record, "config": run.config}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fold_copies(runs: list[RunRecord]) -> tuple[list[RunRecord], list[tuple[Path, Path]]]:
    """`runs` with copies of one run (same `run_identity`) shown once, the first by folder path;
    returns them and the (kept, left out) folder pairs. The kept copy takes a batch's swept values
    from a left-out one if it has none of its own."""
    first: dict[str, RunRecord] = {}
    kept, folded = [], []
    for run in sorted(runs, key=lambda r: str(r.path)):
        identity = run_identity(run)
        if identity is not None and identity in first:
            original = first[identity]
            original.swept = original.swept or run.swept
            folded.append((original.path, run.path))
            continue
        if identity is not None:
            first[identity] = run
        kept.append(run)
    order = {id(run): index for index, run in enumerate(runs)}
    return sorted(kept, key=lambda r: order[id(r)]), folded


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


@dataclass
class DataGroup:
    """Runs of one data set: the same source and data settings, whatever their seed or validation fraction."""

    key: str
    label: str
    runs: list[RunRecord]


#: Data settings that change only which images are held out, not the data set (the seed does too).
SPLIT_KEYS = ("val_fraction", "cache_dir")


def group_by_data(runs: list[RunRecord]) -> list[DataGroup]:
    """Split runs by the data set they ran on, largest group first.

    A data set is the data source plus the config's data settings other than the split's
    (`SPLIT_KEYS`): runs that differ in the seed or the validation fraction hold out other images
    of the same data set, so they share a section, where repeats become groups. Runs without a
    readable config (a batch's pending runs) join the largest group.
    """
    labels: dict[str, str] = {}
    fingerprints: dict[str, set] = {}
    members: dict[str, list[RunRecord]] = {}
    unknown = []
    sources = {}  # a finished run's source (as its metrics name it) for unfinished runs of the same data config
    for run in runs:
        data = _metrics_data(run)
        if data is not None and data.get("source"):
            sources.setdefault(_config_data_key(run), data["source"])
    for run in runs:
        data = _metrics_data(run)
        if not isinstance(run.config.get("data"), dict) and data is None:
            unknown.append(run)  # e.g. a batch's pending run: nothing says what data it will read
            continue
        key = _data_set_key(run, data, sources.get(_config_data_key(run)))
        members.setdefault(key, []).append(run)
        if data is not None and data.get("fingerprints"):
            fingerprints.setdefault(key, set()).add((data["fingerprints"] or {}).get("val"))
            labels.setdefault(key, _data_label(data))
    for key, group in members.items():
        labels.setdefault(key, _config_label(group[0].config.get("data")))
        splits = len(fingerprints.get(key, ()))
        if splits > 1:
            labels[key] = labels[key].split("; val fingerprint")[0] + f"; {splits} different validation splits)"
    groups = [DataGroup(key=key, label=labels[key], runs=group) for key, group in members.items()]
    groups.sort(key=lambda g: (-sum(run.done for run in g.runs), -len(g.runs)))
    if unknown:
        if groups:
            groups[0].runs.extend(unknown)
        else:
            groups.append(DataGroup(key="unknown", label="data not known yet (no run has finished)", runs=unknown))
    return groups


def _metrics_data(run: RunRecord) -> dict | None:
    data = run.metrics.get("data") if run.done else None
    return data if isinstance(data, dict) else None


def _data_set_key(run: RunRecord, data: dict | None, known_source: str | None) -> str:
    section = run.config.get("data") if isinstance(run.config.get("data"), dict) else {}
    named = (data or {}).get("source") or known_source  # a finished run names the file it read
    ignored = (*SPLIT_KEYS, "source", *(("root",) if named else ()))  # the config's spelling of that file
    settings = {k: v for k, v in section.items() if k not in ignored}
    # a split's source names the split ("digits|split(val_fraction=0.1, seed=9):train"): same data set
    source = _one_spelling(str(named or section.get("source")).split("|split(")[0])
    if data is not None and not section:  # an unreadable config: the metrics alone say what data it was
        settings = {"class_names": data.get("class_names"), "image_shape": data.get("image_shape")}
    return json.dumps({"source": source, **settings}, sort_keys=True, default=str)


def _one_spelling(source: str) -> str:
    """``folder:/a/b/../shared/x.tar.gz[train]`` as ``folder:/a/shared/x.tar.gz[train]``: one file, one key."""
    kind, sep, rest = source.partition(":")
    if not sep or not rest:
        return source
    path, bracket, tail = rest.partition("[")
    return f"{kind}:{os.path.normpath(path)}{bracket}{tail}"


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
