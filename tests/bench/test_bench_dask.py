"""Batches on Dask: a real LocalCluster on loopback, a lost worker, and the connection errors."""

import socket
import time

import pytest

pytest.importorskip("distributed")

from typer.testing import CliRunner  # noqa: E402

from featpipe.bench import load_batch, run_batch  # noqa: E402
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
