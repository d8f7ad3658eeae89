"""`featpipe bench` and `featpipe bench status` through Typer's CliRunner."""

import json

import pytest
from typer.testing import CliRunner

from featpipe.cli import app


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_help_lists_run_and_status():
    result = invoke("bench", "--help")
    assert result.exit_code == 0
    assert "run" in result.output and "status" in result.output


def test_dry_run_shows_one_line_per_run_and_writes_nothing(sweep_batch, tmp_path):
    out = tmp_path / "out"
    result = invoke("bench", sweep_batch, "--out", out, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("batch sweep (") and "4 runs, 4 to run" in lines[0]
    assert [line.split()[0].rsplit("-", 1)[0] for line in lines[1:]] == ["tiny-hog"] * 3 + ["tiny-raw"]
    assert [line.split()[-1] for line in lines[1:4]] == ["svm.C=0.01", "svm.C=0.1", "svm.C=1.0"]
    assert not out.exists()


def test_bench_runs_prints_the_table_and_status_lists_every_run(write_batch, tmp_path):
    batch = write_batch("""
name: cli
runs:
  - config: tiny-hog.yaml
  - config: tiny-raw.yaml
    name: broken
    set: {data.use_test: true}
""")
    out = tmp_path / "out"
    result = invoke("bench", batch, "--out", out, "--jobs", "1")
    assert result.exit_code == 1, result.output  # a run failed
    assert "hog -> linear SVM" in result.output and "val acc" in result.output
    assert "1 run(s) failed; see error.json" in result.output
    rows = json.loads((out / "results.json").read_text())["runs"]
    assert [row["status"] for row in rows] == ["done", "failed"]

    status = invoke("bench", "status", out)
    assert status.exit_code == 0
    assert "2 runs; 1 done, 1 failed, 0 running, 0 pending" in status.output
    assert "failed   broken-" in status.output and "ConfigError: data.use_test" in status.output


@pytest.mark.parametrize("body, message, code", [
    ("name: b\nruns:\n  - config: tiny-hog.yaml\n    grid: {svm.Cee: [1]}\n", "unknown key 'svm.Cee'", 2),
    ("name: b\nruns:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [1}\n", "YAML syntax error at line 4", 2),
    ("name: b\nruns:\n  - config: missing.yaml\n", "config file not found", 2),
    ("name: b\nruns:\n  - config: tiny-hog.yaml\n    zip: {svm.C: [1], seed: [1, 2]}\n", "equal lengths", 2),
])
def test_bad_batch_files_exit_nonzero_with_the_cause_and_no_traceback(write_batch, tmp_path, body, message, code):
    result = invoke("bench", write_batch(body), "--out", tmp_path / "out")
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_other_batch_in_the_output_folder_and_status_of_a_non_batch_folder(sweep_batch, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "batch.json").write_text(json.dumps({"name": "another", "runs": []}))
    result = invoke("bench", sweep_batch, "--out", out)
    assert result.exit_code == 1 and "holds batch 'another', not 'sweep'" in result.output

    result = invoke("bench", "status", tmp_path)
    assert result.exit_code == 1 and "holds no batch" in result.output


def test_status_tells_done_failed_running_and_interrupted_runs(tmp_path):
    import os
    import subprocess

    from featpipe.bench.state import OutputFolder, host_name, mark_running

    out = OutputFolder(tmp_path / "out")
    ids = ["r-done", "r-failed", "r-running", "r-interrupted", "r-pending"]
    out.write_manifest("handmade", "batch.yaml", [{"run_id": i, "name": "r", "config_digest": "d" * 64,
                                                    "swept": {"svm.C": k}} for k, i in enumerate(ids)])
    (out.path / "r-done").mkdir()
    (out.path / "r-done" / "metrics.json").write_text(json.dumps(
        {"status": "done", "config_digest": "d" * 64, "accuracy": {"val": 0.875}}))
    (out.path / "r-failed").mkdir()
    (out.path / "r-failed" / "error.json").write_text(json.dumps({"type": "ValueError", "message": "bad\nmore"}))
    mark_running(out.path, "r-running", attempt=1)  # this test's process: alive
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no process
    (out.path / ".state" / "r-interrupted.json").write_text(json.dumps(
        {"host": host_name(), "pid": gone.pid, "started": "earlier"}))

    result = invoke("bench", "status", out.path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("5 runs; 1 done, 1 failed, 1 running, 2 pending")
    assert lines[1].split()[:3] == ["done", "r-done", "val"] and "87.50%" in lines[1]
    assert lines[2].split()[:3] == ["failed", "r-failed", "ValueError:"] and "more" not in lines[2]
    assert lines[3].split()[:2] == ["running", "r-running"] and f"pid {os.getpid()}" in lines[3]
    assert lines[4].split()[:2] == ["pending", "r-interrupted"] and "interrupted" in lines[4]
    assert lines[5].split()[:2] == ["pending", "r-pending"] and lines[5].endswith("svm.C=4")


def test_dask_without_the_extra_names_the_extra(sweep_batch, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails, as if not installed
    result = invoke("bench", sweep_batch, "--out", tmp_path / "out", "--dask-local", "2")
    assert result.exit_code == 1
    assert "pip install 'featpipe[distributed]'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
