"""The batch output folder: its lock, leftovers of killed writers, failure records."""

import json
import os
import subprocess

import pytest

from featpipe.bench.state import OutputFolder, host_name, mark_running, record_failure
from featpipe.errors import FeatpipeError


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_lock_is_exclusive_and_a_dead_holder_is_taken_over(tmp_path):
    out = OutputFolder(tmp_path / "out")
    with out.lock():
        held = json.loads(out.lock_path.read_text())
        assert held["pid"] == os.getpid()
        with pytest.raises(FeatpipeError, match="in use by another featpipe bench"):
            with OutputFolder(tmp_path / "out").lock():
                pass
    assert not out.lock_path.exists()

    out.lock_path.write_text(json.dumps({"host": host_name(), "pid": _dead_pid(), "started": "earlier"}))
    with out.lock():  # its holder is gone: taken over
        assert json.loads(out.lock_path.read_text())["pid"] == os.getpid()


def test_leftovers_of_dead_writers_are_cleared_but_young_ones_kept(tmp_path):
    out = OutputFolder(tmp_path / "out")
    mark_running(out.path, "some-run", attempt=1)
    old = out.path / ".some-run.abc.tmp"
    young = out.path / ".other-run.def.tmp"
    for folder in (old, young):
        folder.mkdir()
        (folder / "model.npz").write_bytes(b"partial")
    os.utime(old, (1, 1))
    out.clear_leftovers()
    assert not old.exists() and young.exists()
    assert not list((out.path / ".state").glob("some-run*"))


def test_failure_record_replaces_the_run_folder_whole(tmp_path):
    run_dir = tmp_path / "r-1"
    run_dir.mkdir()
    (run_dir / "stale.txt").write_text("from an earlier attempt")
    record_failure(tmp_path, "r-1", {"name": "r", "seed": 0}, {"type": "ValueError", "message": "no"}, "Traceback\n")
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.yaml", "error.json", "traceback.txt"]
    error = json.loads((run_dir / "error.json").read_text())
    assert error["status"] == "failed" and error["run_id"] == "r-1" and error["message"] == "no"


def test_a_running_runs_stage_reaches_bench_status(tmp_path):
    from featpipe import progress
    from featpipe.bench.status import format_stage
    from featpipe.bench.worker import StageRecorder

    mark_running(tmp_path, "run-a", attempt=1)
    recorder = StageRecorder(str(tmp_path), "run-a", every=3600)
    marker = tmp_path / ".state" / "run-a.json"
    with progress.listening(recorder):
        with progress.stage("features", enabled=False):
            with progress.stage("encoding train", total=400, unit="img", enabled=False) as bar:
                bar.update(100)  # same stages, within `every` of the last write: not written
                stage = json.loads(marker.read_text())["stage"]
                assert stage["path"] == ["features", "encoding train"] and stage["done"] == 0
                recorder.every = 0
                bar.update(100)
                stage = json.loads(marker.read_text())["stage"]
    assert (stage["done"], stage["total"], stage["unit"]) == (200, 400, "img")
    assert format_stage(stage).startswith("features > encoding train 200/400 img (50%), ")
    after = json.loads(marker.read_text())
    assert after["stage"] is None and after["pid"] == os.getpid()  # between stages; the marker stays whole
    assert format_stage(None) == "" and format_stage({"path": []}) == ""
