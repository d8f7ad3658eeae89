"""Batches on local worker processes: results, resumption, isolation of failures and lost workers."""

import json
from pathlib import Path
import os
import signal
import subprocess
import sys
import time

import pytest

from featpipe.bench import batch_status, format_status, load_batch, run_batch
from featpipe.bench.local import LocalExecutor
from featpipe.bench.worker import TEST_KILL_ENV
from featpipe.errors import FeatpipeError


def test_sweep_runs_every_run_once_and_a_rerun_runs_nothing(sweep_batch, tmp_path, table_without_timings,
                                                            shared_executor):
    plan = load_batch(sweep_batch)
    out = tmp_path / "out"
    report = run_batch(plan, out, executor=shared_executor, progress=False)
    ids = [run.run_id for run in plan.runs]
    assert sorted(report.executed) == sorted(ids)
    assert [row["run_id"] for row in report.rows] == ids  # plan order
    assert all(row["status"] == "done" for row in report.rows)
    for run, row in zip(plan.runs, report.rows):
        metrics = json.loads((out / run.run_id / "metrics.json").read_text())
        assert row["val_accuracy"] == metrics["accuracy"]["val"] > 0.5
        assert metrics["config_digest"] == run.config.digest()
        assert row.get("svm.C") == run.swept.get("svm.C")
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["name"] == "sweep" and [r["run_id"] for r in manifest["runs"]] == ids
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("run_id,name,svm.C,pipeline,") and len(csv_lines) == 1 + len(ids)

    before = table_without_timings(out)
    again = run_batch(plan, out, progress=False)
    assert again.executed == [] and table_without_timings(out) == before
    assert "4 done" in format_status(batch_status(out))


def test_failing_run_is_recorded_and_the_batch_goes_on(write_batch, tmp_path, shared_executor):
    # digits has no test split, so this run fails inside the runner; the others must not care.
    plan = load_batch(write_batch("""
name: isolation
runs:
  - config: tiny-hog.yaml
    name: broken
    set: {data.use_test: true}
  - config: tiny-raw.yaml
"""))
    out = tmp_path / "out"
    report = run_batch(plan, out, executor=shared_executor, progress=False)
    broken, fine = plan.runs
    assert report.failed == [broken.run_id]
    error = json.loads((out / broken.run_id / "error.json").read_text())
    assert error["status"] == "failed" and error["type"] == "ConfigError"
    assert "use_test" in error["message"]
    assert "Traceback" in (out / broken.run_id / "traceback.txt").read_text()
    assert (out / fine.run_id / "metrics.json").is_file()
    rows = {row["run_id"]: row for row in report.rows}
    assert rows[broken.run_id]["status"] == "failed" and "use_test" in rows[broken.run_id]["error"]
    assert rows[fine.run_id]["status"] == "done"
    assert "1 done, 1 failed" in format_status(batch_status(out))

    # --fail-fast: the failed run is tried again (it is not done) and stops the batch. One worker,
    # so the other run cannot finish first on a loaded machine (it would with two: a race).
    (out / fine.run_id).rename(tmp_path / "moved")
    stopped = run_batch(plan, out, jobs=1, fail_fast=True, progress=False)
    assert stopped.stopped and stopped.executed == [broken.run_id]
    assert [row["status"] for row in stopped.rows] == ["failed", "pending"]


def test_killed_worker_is_retried_and_the_batch_completes(sweep_batch, tmp_path, monkeypatch):
    plan = load_batch(sweep_batch)
    victim = plan.runs[1]
    sentinel = tmp_path / "killed-once"
    monkeypatch.setenv(TEST_KILL_ENV, f"{victim.name}:{sentinel}")
    out = tmp_path / "out"
    report = run_batch(plan, out, jobs=2, progress=False)
    assert sentinel.exists()  # a worker really died
    assert len(report.retried) == 1 and report.retried[0].startswith("tiny-hog-")
    assert all(row["status"] == "done" for row in report.rows)
    assert sorted(report.executed) == sorted(run.run_id for run in plan.runs)
    assert not list((out / ".state").glob("tiny-*.json"))  # no stale running marker


def test_worker_lost_more_often_than_allowed_fails_only_its_run(write_batch, tmp_path, monkeypatch):
    plan = load_batch(write_batch("name: lost\nruns:\n  - config: tiny-hog.yaml\n  - config: tiny-raw.yaml\n"))
    monkeypatch.setenv(TEST_KILL_ENV, f"tiny-raw:{tmp_path / 'once'}")
    report = run_batch(plan, tmp_path / "out", jobs=1, retries=0, progress=False)
    hog, raw = report.rows
    assert hog["status"] == "done"
    assert raw["status"] == "failed" and raw["error"].startswith("WorkerLost: the worker process running it died 1")


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _done_count(out) -> int:
    try:
        rows = json.loads((out / "results.json").read_text())["runs"]
    except (OSError, ValueError, KeyError):
        return 0
    return sum(row["status"] == "done" for row in rows)


def _start_cli(batch, out) -> subprocess.Popen:
    command = [sys.executable, "-m", "featpipe.cli", "bench", str(batch), "--out", str(out), "--jobs", "1", "-q"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _children(pid: int) -> list[int]:
    """Process IDs of `pid`'s children (Linux /proc), empty if none or unknown."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _interrupt_after(process: subprocess.Popen, out, n_done: int, how: signal.Signals) -> tuple[str, str]:
    try:
        _wait_for(lambda: _done_count(out) >= n_done or process.poll() is not None, 120, f"{n_done} finished run(s)")
        process.send_signal(how)
        return process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


# Eight runs: each interruption below may land a run or two later than asked (the run in flight
# finishes; under load the signal comes late), and some runs must be left for the resume.
LONG_SWEEP = """
name: sweep
runs:
  - config: tiny-hog.yaml
    grid: {svm.C: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]}
  - config: tiny-raw.yaml
"""


def test_interrupted_batch_resumes_with_only_the_missing_runs(write_batch, tmp_path, table_without_timings,
                                                             shared_executor):
    sweep_batch = write_batch(LONG_SWEEP)
    plan = load_batch(sweep_batch)
    whole = tmp_path / "whole"
    run_batch(plan, whole, executor=shared_executor, progress=False)

    # Ctrl-C: the command stops its workers, keeps what finished, says how to go on, exits 130.
    out = tmp_path / "out"
    process = _start_cli(sweep_batch, out)
    stdout, stderr = _interrupt_after(process, out, 1, signal.SIGINT)
    assert process.returncode == 130 and "run the same command again to continue" in stdout, stderr
    assert "Traceback" not in stderr
    after_sigint = _done_count(out)
    assert 1 <= after_sigint < len(plan.runs), "the interruption came too late to test resuming"

    # A killed parent cannot clean up: its lock is left behind (and taken over below), its worker
    # leaves after finishing the run it holds; wait for that, or it could finish a run mid-resume.
    process = _start_cli(sweep_batch, out)
    workers = []
    _wait_for(lambda: bool(workers.extend(_children(process.pid)) or workers) or process.poll() is not None,
              120, "the batch's worker process")
    _interrupt_after(process, out, after_sigint + 1, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL and (out / ".state" / "lock.json").exists()
    _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 120, "the orphaned worker to leave")
    # results.json may lag by the run whose folder landed just before the kill: read the folders
    finished_before = {entry["run_id"] for entry, state in batch_status(out).runs if state.status == "done"}
    assert len(finished_before) < len(plan.runs), "the interruption came too late to test resuming"

    resumed = run_batch(plan, out, executor=shared_executor, progress=False)
    assert sorted(resumed.executed) == sorted({run.run_id for run in plan.runs} - finished_before)
    assert table_without_timings(out) == table_without_timings(whole)


def test_ctrl_c_during_bookkeeping_lets_it_finish_then_stops_the_batch(sweep_batch, tmp_path, shared_executor):
    # The parent spends its waking time rewriting the table; a Ctrl-C landing there used to be raised
    # inside pydantic's serializer, which turned it into an error (exit 1, traceback) on CI.
    plan = load_batch(sweep_batch)
    out = tmp_path / "out"
    finished_after_ctrl_c = []

    def on_done(run_dir):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        finished_after_ctrl_c.append(run_dir.name)
        [run.config.to_dict() for run in plan.runs]  # what the table does next, where it struck

    report = run_batch(plan, out, executor=shared_executor, progress=False, on_done=on_done)
    assert report.interrupted and len(finished_after_ctrl_c) >= 1
    done = {entry["run_id"] for entry, state in batch_status(out).runs if state.status == "done"}
    assert set(finished_after_ctrl_c) <= done and len(done) < len(plan.runs)
    rows = json.loads((out / "results.json").read_text())["runs"]
    assert {row["run_id"] for row in rows if row["status"] == "done"} == done
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_output_folder_of_another_batch_is_refused_before_any_run(sweep_batch, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "batch.json").write_text(json.dumps({"name": "other", "runs": []}))
    plan = load_batch(sweep_batch)
    with pytest.raises(FeatpipeError, match=r"holds batch 'other', not 'sweep'"):
        run_batch(plan, out, jobs=1, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["batch.json"]

    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(FeatpipeError, match=r"not empty and holds no batch manifest .*notes.txt"):
        run_batch(plan, stray, jobs=1, progress=False)


def test_a_folder_in_use_by_a_live_process_is_refused(sweep_batch, tmp_path):
    plan = load_batch(sweep_batch)
    out = tmp_path / "out"
    (out / ".state").mkdir(parents=True)
    from featpipe.bench.state import host_name

    (out / ".state" / "lock.json").write_text(json.dumps({"host": host_name(), "pid": os.getppid(), "started": "x"}))
    with pytest.raises(FeatpipeError, match=r"in use by another featpipe bench \(pid \d+"):
        run_batch(plan, out, jobs=1, progress=False)


def test_concurrent_runs_share_the_feature_cache(write_batch, tmp_path, shared_executor):
    # Two workers compute the same HOG features at the same time, each writing the shared cache.
    plan = load_batch(write_batch("name: shared\nruns:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [0.1, 1.0]}\n"))
    first = run_batch(plan, tmp_path / "out", executor=shared_executor, progress=False)
    assert all(row["status"] == "done" for row in first.rows)
    assert list((tmp_path / "cache").rglob("*.npy"))  # features written to the shared cache
    forced = run_batch(plan, tmp_path / "out", executor=shared_executor, force=True, progress=False)
    assert sorted(forced.executed) == sorted(run.run_id for run in plan.runs)
    for run in plan.runs:
        metrics = json.loads((tmp_path / "out" / run.run_id / "metrics.json").read_text())
        assert all(metrics["feature_cache_hits"].values()), metrics["feature_cache_hits"]
    assert [r["val_accuracy"] for r in forced.rows] == [r["val_accuracy"] for r in first.rows]
