"""Batches on Dask: a real LocalCluster on loopback, a lost worker, and the connection errors."""

import json
import os
import signal
import socket
import time

import pytest

pytest.importorskip("distributed")

from typer.testing import CliRunner  # noqa: E402

from featpipe.bench import batch_status, load_batch, run_batch  # noqa: E402
from featpipe.bench.worker import TEST_KILL_ENV  # noqa: E402
from featpipe.cli import app  # noqa: E402
from featpipe.errors import FeatpipeError  # noqa: E402

BLOCK_FEATPIPE = '''
"""Dask worker preload for a test: this worker cannot import featpipe, as if it were not installed."""
import sys


class _NoFeatpipe:
    def find_spec(self, name, path=None, target=None):
        if name == "featpipe" or name.startswith("featpipe."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
        return None


sys.meta_path.insert(0, _NoFeatpipe())
'''


def test_sweep_on_a_local_cluster_survives_a_lost_worker_and_matches_local_results(
        sweep_batch, tmp_path, monkeypatch, shared_executor, table_without_timings):
    plan = load_batch(sweep_batch)
    local = run_batch(plan, tmp_path / "local", executor=shared_executor, progress=False)
    assert all(row["status"] == "done" for row in local.rows)

    sentinel = tmp_path / "killed-once"
    monkeypatch.setenv(TEST_KILL_ENV, f"tiny-raw:{sentinel}")  # before the cluster starts its workers
    report = run_batch(plan, tmp_path / "dask", dask_local=2, progress=False)
    assert report.executor.startswith("local Dask cluster (2 processes), 2 worker(s)")
    assert sentinel.exists()  # a Dask worker process really died mid-batch
    raw_id = plan.runs[-1].run_id
    assert report.retried == [raw_id]
    assert sorted(report.executed) == sorted(run.run_id for run in plan.runs)
    assert table_without_timings(tmp_path / "dask") == table_without_timings(tmp_path / "local")


def test_ctrl_c_stops_a_dask_batch_at_its_next_wait_and_keeps_what_finished(sweep_batch, tmp_path):
    plan = load_batch(sweep_batch)
    out = tmp_path / "out"
    noted = []

    def on_done(run_dir):  # Ctrl-C mid-bookkeeping: held until the executor waits for the next run
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        noted.append(run_dir.name)

    report = run_batch(plan, out, dask_local=1, progress=False, on_done=on_done)
    done = {entry["run_id"] for entry, state in batch_status(out).runs if state.status == "done"}
    assert report.interrupted and noted and set(noted) <= done and len(done) < len(plan.runs)
    # Dask cannot stop a task that is running: a run in flight may still land its folder while the
    # cluster shuts down, after the table's last rewrite (the next `featpipe bench` reads it back)
    rows = json.loads((out / "results.json").read_text())["runs"]
    assert set(noted) <= {row["run_id"] for row in rows if row["status"] == "done"} <= done
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_fails_within_seconds_before_any_run(sweep_batch, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "out"
    start = time.monotonic()
    result = CliRunner().invoke(app, ["bench", str(sweep_batch), "--out", str(out), "--scheduler", address])
    assert result.exit_code == 1
    assert f"error: cannot reach the Dask scheduler at {address}" in result.output
    assert "Traceback" not in result.output
    assert time.monotonic() - start < 30
    assert not out.exists()


def test_workers_that_cannot_import_featpipe_are_reported(sweep_batch, tmp_path):
    from distributed import LocalCluster

    preload = tmp_path / "no_featpipe.py"
    preload.write_text(BLOCK_FEATPIPE)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, preload=[str(preload)]) as cluster:
        with pytest.raises(FeatpipeError, match=r"Dask workers cannot run featpipe tasks .*\n .*featpipe"):
            run_batch(load_batch(sweep_batch), tmp_path / "out", scheduler=cluster.scheduler_address,
                      progress=False)
    assert not (tmp_path / "out" / "batch.json").exists()
