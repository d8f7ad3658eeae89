"""Never lose or half-write a result: unique run folders, names that are not paths, clear errors
on full / read-only / forbidden output folders, consistent batch state, no leftovers of killed
writers, and an interrupted `featpipe run` that says so.

A full disk or a read-only folder is simulated by making featpipe's writes raise the OSError the
kernel would (tests run as root, whom chmod does not stop).
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featpipe import atomic
from featpipe.bench import load_batch, run_batch
from featpipe.bench.worker import run_task
from featpipe.cli import app
from featpipe.errors import OutputError

FAST_SVM = """
name: tiny-hog
seed: 0
data: {source: digits, n_train: 200, val_fraction: 0.25}
features:
  hog: {pixels_per_cell: 2, cells_per_block: 2}
svm: {C: 0.1}
output: {plots: false}
"""

BATCH = """
name: safe
runs:
  - config: tiny.yaml
"""

ERRORS = [(errno.ENOSPC, "No space left on device", "full"),
          (errno.EROFS, "Read-only file system", "read-only"),
          (errno.EACCES, "Permission denied", "permission denied")]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_clean_error(result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for fragment in fragments:
        assert fragment in result.output, result.output


def entries(folder: Path) -> list[str]:
    """Everything in `folder`, hidden entries included, sorted."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def config(write_config) -> Path:
    return write_config(FAST_SVM, "tiny.yaml")


def failing_writes(monkeypatch, code: int, message: str, when=lambda path: True) -> None:
    """Make every atomic write (and temporary folder) whose path passes `when` fail with `code`."""
    real_write, real_mkdtemp = atomic.write_bytes, atomic.tempfile.mkdtemp

    def write_bytes(path, data):
        if when(Path(path)):
            raise OSError(code, message, str(path))
        return real_write(path, data)

    def mkdtemp(suffix=None, prefix=None, dir=None):
        if dir is not None and when(Path(dir) / (prefix or "")):
            raise OSError(code, message, str(dir))
        return real_mkdtemp(suffix, prefix, dir)

    monkeypatch.setattr(atomic, "write_bytes", write_bytes)
    monkeypatch.setattr(atomic.tempfile, "mkdtemp", mkdtemp)


# --- unique names, never replaced without --force -----------------------------------------------


def test_two_runs_with_the_same_name_both_survive(tmp_path, config):
    out = tmp_path / "runs"
    assert invoke("run", config, "--out", out, "--name", "r", "-q").exit_code == 0
    first = (out / "r" / "metrics.json").read_bytes()
    second = invoke("run", config, "--out", out, "--name", "r", "-q")
    assert second.exit_code == 0, second.output
    assert "holds another run" in second.output and str(out / "r-2") in second.output
    assert (out / "r" / "metrics.json").read_bytes() == first  # untouched
    assert json.loads((out / "r-2" / "metrics.json").read_text())["status"] == "done"
    assert entries(out) == [".checkpoints", "r", "r-2"] or entries(out) == ["r", "r-2"]


def test_default_names_in_the_same_second_do_not_collide(tmp_path, config, monkeypatch):
    from datetime import datetime

    import featpipe.runs.folder as folder

    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(folder, "datetime", FrozenClock)
    out = tmp_path / "runs"
    for _ in range(3):
        assert invoke("run", config, "--out", out, "-q").exit_code == 0
    names = [name for name in entries(out) if not name.startswith(".")]
    assert names == ["tiny-hog-20260102-030405", "tiny-hog-20260102-030405-2", "tiny-hog-20260102-030405-3"]


def test_force_replaces_the_folder_of_that_name(tmp_path, config):
    out = tmp_path / "runs"
    assert invoke("run", config, "--out", out, "--name", "r", "-q").exit_code == 0
    (out / "r" / "stale.txt").write_text("from the first run")
    assert invoke("run", config, "--out", out, "--name", "r", "--force", "-q").exit_code == 0
    assert not (out / "r" / "stale.txt").exists() and not (out / "r-2").exists()
    assert [n for n in entries(out) if n.endswith((".tmp", ".old"))] == []


def test_a_name_taken_while_the_run_was_writing_goes_beside_it(tmp_path):
    """The name is reserved atomically at the end: a folder that appeared meanwhile is not replaced."""
    from featpipe.runs.folder import _move_into_place

    staged = atomic.staging_dir(tmp_path / "r")
    (staged / "metrics.json").write_text("{}")
    (tmp_path / "r").mkdir()  # another run took the name
    (tmp_path / "r" / "metrics.json").write_text('{"theirs": true}')
    assert _move_into_place(staged, tmp_path / "r", replace=False) == tmp_path / "r-2"
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == {"theirs": True}
    assert entries(tmp_path / "r-2") == ["metrics.json"]  # the writer record is gone


@pytest.mark.parametrize("name", ["../x", "a/b", "/abs", ".hidden", "..", "", "x\\y", "na me"])
def test_a_run_name_is_a_name_not_a_path(tmp_path, config, name):
    out = tmp_path / "runs"
    result = invoke("run", config, "--out", out, "--name", name, "-q")
    assert_clean_error(result, 2, f"--name {name!r}", "a run name is a name, not a path")
    assert entries(tmp_path) == ["tiny.yaml"]  # nothing written, in --out or beside it


# --- full, read-only and forbidden output folders -------------------------------------------------


@pytest.mark.parametrize("code, message, what", ERRORS)
def test_run_on_an_unwritable_output_folder(tmp_path, config, monkeypatch, code, message, what):
    out = tmp_path / "runs"
    failing_writes(monkeypatch, code, message, when=lambda path: out in path.parents or path == out)
    result = invoke("run", config, "--out", out, "--name", "r", "-q")
    assert_clean_error(result, 1, "cannot write", str(out / "r"), message)
    assert [n for n in entries(out) if n != ".checkpoints"] == []  # no run, no temporary folder


def test_a_failure_half_way_through_the_folder_leaves_nothing(tmp_path, config, monkeypatch):
    """The model is written, then metrics.json fails: no half run, named as it would have been."""
    out = tmp_path / "runs"
    failing_writes(monkeypatch, errno.ENOSPC, "No space left on device", when=lambda path: path.name == "metrics.json")
    result = invoke("run", config, "--out", out, "--name", "r", "-q")
    assert_clean_error(result, 1, f"cannot write {out / 'r' / 'metrics.json'}: No space left on device")
    assert [n for n in entries(out) if n != ".checkpoints"] == []


def test_an_error_without_a_file_name_names_the_destination(tmp_path, monkeypatch):
    """As the kernel reports a full disk when the data reaches it: at fsync, without a file name."""
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match=r"cannot write .*results\.json: No space left on device; the file system is full"):
        atomic.write_json(tmp_path / "results.json", {})
    target = tmp_path / "run"
    with pytest.raises(OutputError, match=re.escape(f"cannot write {target / 'error.json'}: No space left")):
        from featpipe.runs.folder import write_failure

        write_failure(target, {"name": "x"}, {"type": "E", "message": "m"}, "tb")
    assert entries(tmp_path) == []


# --- featpipe bench keeps its state consistent -----------------------------------------------------


class InProcessExecutor:
    """Runs tasks one after the other in this process, so monkeypatched writes reach them."""

    def describe(self) -> str:
        return "this process"

    def run(self, tasks, on_outcome) -> None:
        for task in tasks:
            if not on_outcome(run_task(task)):
                return


@pytest.fixture
def batch(tmp_path, config) -> Path:
    path = tmp_path / "batch.yaml"
    path.write_text(BATCH)
    return path


def table(out: Path) -> dict[str, str]:
    return {row["run_id"]: row["status"] for row in json.loads((out / "results.json").read_text())["runs"]}


def test_bench_run_that_cannot_write_its_folder_stays_pending_everywhere(tmp_path, batch, monkeypatch):
    plan = load_batch(batch)
    (run,) = plan.runs
    out = tmp_path / "out"
    folder = out / run.run_id  # it, and the temporary folder it is built in, cannot be written
    failing_writes(monkeypatch, errno.ENOSPC, "No space left on device",
                   when=lambda path: any(part == run.run_id or part.startswith(f".{run.run_id}.")
                                         for part in path.parts))
    report = run_batch(plan, out, executor=InProcessExecutor(), progress=False)
    assert [row["status"] for row in report.rows] == ["pending"]  # neither done nor a failure record
    assert table(out) == {run.run_id: "pending"}
    assert not folder.exists() and [n for n in entries(out) if n.endswith((".tmp", ".old"))] == []
    assert "No space left on device" in report.outcomes[run.run_id]["error"]
    monkeypatch.undo()
    again = run_batch(plan, out, executor=InProcessExecutor(), progress=False)
    assert table(out) == {run.run_id: "done"} and again.executed == [run.run_id]


def test_bench_whose_table_cannot_be_written_stops_with_one_message(tmp_path, batch, monkeypatch):
    """The run lands in its folder, results.json cannot follow: the stale table is removed, not kept."""
    out = tmp_path / "out"
    writes = []
    real_write = atomic.write_bytes

    def write_bytes(path, data):
        if Path(path).name.startswith("results."):
            writes.append(path)
            if len(writes) > 2:  # the table before the run (json + csv) is written; the one after is not
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data)

    monkeypatch.setattr(atomic, "write_bytes", write_bytes)
    result = invoke("bench", batch, "--out", out, "-q", "--jobs", "1")
    assert_clean_error(result, 1, f"cannot write {out / 'results.json'}: No space left on device",
                       "running the same command again rebuilds it")
    assert result.output.count("error:") == 1
    assert not (out / "results.json").exists() and not (out / "results.csv").exists()
    (run_id,) = [n for n in entries(out) if not n.startswith(".") and n != "batch.json"]
    assert json.loads((out / run_id / "metrics.json").read_text())["status"] == "done"
    monkeypatch.undo()
    again = invoke("bench", batch, "--out", out, "-q")
    assert again.exit_code == 0, again.output
    assert table(out) == {run_id: "done"}  # rebuilt from the folder; nothing was run again
    assert json.loads((out / run_id / "metrics.json").read_text())["started"]


def test_bench_on_a_read_only_output_folder(tmp_path, batch, monkeypatch):
    out = tmp_path / "out"
    failing_writes(monkeypatch, errno.EROFS, "Read-only file system", when=lambda path: out in path.parents)
    result = invoke("bench", batch, "--out", out, "-q", "--jobs", "1")
    assert_clean_error(result, 1, "cannot write", str(out), "Read-only file system")
    assert result.output.count("error:") == 1


# --- what killed writers leave behind ----------------------------------------------------------------


def _killed_writer(folder: Path, name: str) -> Path:
    """Start a process that is writing `folder/name` through atomic_dir, SIGKILL it, return its temporary folder."""
    script = textwrap.dedent(f"""
        import sys, time
        from featpipe import atomic
        with atomic.atomic_dir({str(folder / name)!r}) as tmp:
            (tmp / "model.npz").write_bytes(b"partial")
            print(tmp, flush=True)
            time.sleep(60)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    tmp = Path(process.stdout.readline().strip())
    process.kill()
    process.wait()
    assert tmp.is_dir() and tmp.name.startswith(f".{name}.") and tmp.name.endswith(".tmp")
    return tmp


def test_bench_clears_what_a_killed_writer_left_on_the_next_run(tmp_path, batch):
    out = tmp_path / "out"
    plan = load_batch(batch)
    (run,) = plan.runs
    run_batch(plan, out, executor=InProcessExecutor(), progress=False)
    leftover = _killed_writer(out, run.run_id)
    # and a replace killed between its two renames: the earlier folder is put back
    old = Path(atomic.tempfile.mkdtemp(prefix=f".{run.run_id}.", suffix=".old", dir=out))
    os.replace(out / run.run_id, old / "x")
    (old / atomic.WRITER_FILE).write_text(json.dumps({"host": atomic.host_name(), "pid": _dead_pid()}))
    result = invoke("bench", batch, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert not leftover.exists() and not old.exists()
    assert [n for n in entries(out) if n.endswith((".tmp", ".old"))] == []
    assert table(out) == {run.run_id: "done"}  # the restored folder counts: nothing was redone
    assert (out / run.run_id / "metrics.json").is_file()


def test_run_clears_what_a_killed_run_left_but_not_a_live_writer(tmp_path, config):
    out = tmp_path / "runs"
    dead = _killed_writer(out, "earlier")
    live = atomic.staging_dir(out / "in-progress")  # this process: alive
    assert invoke("run", config, "--out", out, "--name", "r", "-q").exit_code == 0
    assert not dead.exists() and live.exists()


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# --- Ctrl-C ------------------------------------------------------------------------------------------


def test_ctrl_c_during_run_says_nothing_was_written_and_how_to_resume(tmp_path, config, monkeypatch):
    import featpipe.runner as runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_fit_classifier", interrupted)
    out = tmp_path / "runs"
    result = invoke("run", config, "--out", out, "--name", "r", "-q")
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output and "nothing was written" in result.output and "--resume" in result.output
    assert "Traceback" not in result.output
    assert [n for n in entries(out) if n != ".checkpoints"] == []
