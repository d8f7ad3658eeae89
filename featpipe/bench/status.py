"""`featpipe bench status DIR`: which planned runs of a batch folder are done, failed, running, pending.

Reads only the output folder (its manifest, run folders and running markers), so it works
from another terminal while the batch runs, and after it was interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from featpipe.errors import FeatpipeError
from featpipe.runs.results import percent

from .state import STATUSES, OutputFolder, RunState, marker_live, read_json


@dataclass
class BatchStatus:
    """The state of every run a batch folder's manifest plans."""

    name: str
    out_dir: Path
    runs: list[tuple[dict, RunState]]  # (manifest entry, state), in plan order
    lock: dict | None = None

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for _, run_state in self.runs:
            counts[run_state.status] += 1
        return counts


def batch_status(out_dir: str | Path) -> BatchStatus:
    """Read a batch output folder; raises FeatpipeError if it holds no batch."""
    out = OutputFolder(out_dir)
    if not out.path.is_dir():
        raise FeatpipeError(f"{out.path} does not exist (expected a batch output folder, as given to --out)")
    manifest = out.read_manifest()
    if manifest is None:
        raise FeatpipeError(f"{out.path} holds no batch ({out.manifest_path.name} is missing): "
                            "not a batch output folder")
    runs = []
    for entry in manifest["runs"]:
        runs.append((entry, out.run_state(entry["run_id"], entry.get("config_digest"))))
    lock = read_json(out.lock_path)
    return BatchStatus(name=manifest["name"], out_dir=out.path, runs=runs, lock=lock)


def format_status(status: BatchStatus) -> str:
    """One line per run, grouped done, failed, running, pending, after a count line."""
    counts = status.counts()
    lines = [f"batch {status.name} in {status.out_dir}: {len(status.runs)} runs; "
             + ", ".join(f"{counts[s]} {s}" for s in STATUSES)]
    if status.lock and marker_live(status.lock):
        lines.append(f"in use by featpipe bench pid {status.lock.get('pid')} on {status.lock.get('host')} "
                     f"since {status.lock.get('started')}")
    width = max((len(entry["run_id"]) for entry, _ in status.runs), default=0)
    for wanted in STATUSES:
        for entry, run_state in status.runs:
            if run_state.status != wanted:
                continue
            detail = _detail(run_state)
            swept = " ".join(f"{k}={v}" for k, v in (entry.get("swept") or {}).items())
            text = "  ".join(part for part in (detail, swept) if part)
            lines.append(f"  {wanted:<8} {entry['run_id']:<{width}}  {text}".rstrip())
    return "\n".join(lines)


def _detail(run_state: RunState) -> str:
    if run_state.status == "done":
        val = (run_state.metrics or {}).get("accuracy", {}).get("val")
        return f"val {percent(val)}" if val is not None else ""
    if run_state.status == "failed":
        error = run_state.error or {}
        first_line = (str(error.get("message") or "").splitlines() or [""])[0]
        return f"{error.get('type', 'Error')}: {first_line[:160]}"
    if run_state.status == "running":
        marker = run_state.marker or {}
        worker = f"pid {marker.get('pid')} on {marker.get('host')} since {marker.get('started')}"
        stage = format_stage(marker.get("stage"))
        return f"{worker}; {stage}" if stage else worker
    return "; ".join(run_state.notes)


def format_stage(stage) -> str:
    """'MLP training 12/50 epoch (24%), 310 s in (at 17:40:12)' from a running marker's stage."""
    if not isinstance(stage, dict) or not stage.get("path"):
        return ""
    text = " > ".join(str(name) for name in stage["path"])
    done, total, unit = stage.get("done"), stage.get("total"), stage.get("unit") or ""
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        text += f" {done:,}/{total:,} {unit} ({100 * done / total:.0f}%)"
    elif isinstance(done, int) and done:
        text += f" {done:,} {unit}"
    if isinstance(stage.get("seconds"), (int, float)):
        text += f", {stage['seconds']:.0f} s in"
    at = str(stage.get("at") or "")
    return text + (f" (at {at[11:19]})" if len(at) >= 19 else "")
