"""Reports never crash on, or get rewritten by, what a run folder holds: broken metrics are a broken
run with a warning naming the file; names and messages copied into Markdown are escaped; run
folders written before the format field existed still load, evaluate and appear."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featpipe.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from report_runs import write_failed_run, write_run  # noqa: E402  (the run-folder writer's fixtures)

HOSTILE = "**bold** <script>alert(1)</script> | [link](http://x) # `code` &amp; $x$ ~~no~~ _em_"


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def edit_metrics(run_dir: Path, **changes) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.update(changes)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


@pytest.mark.parametrize("change, culprit", [
    ({"accuracy": {"train": 1.0, "val": "0.9"}}, "accuracy.val is '0.9'"),
    ({"accuracy": "high"}, "no 'accuracy' section"),
    ({"accuracy": {"val": 7}}, "accuracy.val is 7"),
    ({"timings": {"train": "slow"}}, "timings.train is 'slow'"),
    ({"feature_dim": "many"}, "feature_dim is 'many'"),
    ({"scores": {"val": {"accuracy": 0.9, "confusion": [[1, "x"], [0, 1]]}}}, "scores.val.confusion"),
    ({"data": {"sizes": {"val": "thirty"}}}, "data.sizes"),
    ({"selection": {"parameter": "svm.C"}}, "selection has no 'chosen'"),
])
def test_malformed_metrics_are_a_broken_run_not_a_crash(tmp_path, change, culprit):
    write_run(tmp_path, "good", val=0.9)
    bad = write_run(tmp_path, "bad", val=0.8)
    edit_metrics(bad, **change)
    result = invoke("report", tmp_path, "--no-images", "-q")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    warning = next(line for line in result.output.splitlines() if str(bad) in line)
    assert "broken run" in warning and "metrics.json" in warning and culprit in warning
    assert "report of 1 run(s)" in result.output
    rows = (tmp_path / "report.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("good,")


def test_a_folder_of_broken_runs_only_is_one_clear_error(tmp_path):
    edit_metrics(write_run(tmp_path, "bad"), accuracy={"val": "NaN%"})
    result = invoke("report", tmp_path, "--no-images", "-q")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "none could be read" in result.output and "accuracy.val is 'NaN%'" in result.output
    assert not (tmp_path / "report.html").exists()


def test_evaluate_names_broken_metrics(tmp_path):
    run = write_run(tmp_path, "bad")
    edit_metrics(run, accuracy={"val": "0.9"})
    result = invoke("evaluate", run, "--data", "digits", "-q")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{run / 'metrics.json'}" in result.output and "accuracy.val" in result.output


def test_bench_redoes_a_run_whose_metrics_are_broken(tmp_path):
    from featpipe.bench.state import OutputFolder

    run = write_run(tmp_path, "r-1")
    edit_metrics(run, accuracy={"val": "0.9"})
    state = OutputFolder(tmp_path).run_state("r-1", None)
    assert state.status == "pending" and "accuracy.val" in state.notes[0]


def _table_cells(line: str) -> list[str]:
    """The cells of a Markdown table line, split at pipes that are not escaped."""
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_markdown_escapes_what_runs_copy_into_headings_and_tables(tmp_path):
    first = write_run(tmp_path / "a", "hostile", val=0.9, source="digits")
    edit_metrics(first, name=HOSTILE, data={**json.loads((first / "metrics.json").read_text())["data"],
                                            "source": "<b>src</b> | #x"})
    write_run(tmp_path / "b", "other", val=0.8, data_fingerprint="b" * 64)  # a second data set: headings
    write_failed_run(tmp_path / "a", "broken", message="- <img src=x onerror=alert(1)> | *boom*")
    result = invoke("report", tmp_path, "--no-images", "-q")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.md").read_text()
    fences = re.findall(r"^(`{3,})text\n.*?^\1$", page, flags=re.S | re.M)
    assert fences and any(HOSTILE in block for block in re.findall(r"^`{3,}text\n.*?^`{3,}$", page, flags=re.S | re.M))
    text = re.sub(r"^(`{3,})text\n.*?^\1$", "", page, flags=re.S | re.M)  # code blocks show text verbatim
    assert not re.search(r"(?<!\\)<(script|img|b>)", text)  # no tag that is not escaped
    assert "\\<script\\>alert(1)\\</script\\>" in text and "\\*\\*bold\\*\\*" in text and "\\[link\\]" in text
    heading = next(line for line in text.splitlines() if line.startswith("## ") and "src" in line)
    assert "\\<b\\>src\\</b\\> \\| \\#x" in heading
    tables = [block.splitlines() for block in text.split("\n\n") if block.startswith("| ")]
    for table in tables:  # the runs table and the figure legends: no cell split by a name
        assert all(len(_table_cells(line)) == len(_table_cells(table[0])) for line in table)
    assert any(line.startswith("- **broken** (failed): InputError: - \\<img") for line in text.splitlines())
    html = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_a_format_1_run_folder_loads_evaluates_and_is_reported(tmp_path, write_config):
    """A folder as featpipe wrote it before metrics.json had "format" (and model_bytes)."""
    config = write_config("name: old\ndata: {source: digits, n_train: 200, val_fraction: 0.25}\n"
                          "features: {hog: {pixels_per_cell: 2, cells_per_block: 2}}\nsvm: {C: 0.1}\n"
                          "output: {plots: false}\n")
    out = tmp_path / "runs"
    assert invoke("run", config, "--out", out, "--name", "old", "-q").exit_code == 0
    metrics = json.loads((out / "old" / "metrics.json").read_text())
    assert metrics["format"] == 3
    for key in ("format", "model_bytes", "feature_time"):
        del metrics[key]
    (out / "old" / "metrics.json").write_text(json.dumps(metrics, indent=2))

    evaluated = invoke("evaluate", out / "old", "--data", "digits", "--split", "train", "-q")
    assert evaluated.exit_code == 0, evaluated.output
    assert "accuracy" in evaluated.output
    reported = invoke("report", out, "--no-images", "-q")
    assert reported.exit_code == 0, reported.output
    assert "warning" not in reported.output
    (row,) = list(__import__("csv").DictReader((out / "report.csv").open()))
    assert row["name"] == "old" and float(row["val_accuracy"]) == metrics["accuracy"]["val"]
    assert int(row["model_bytes"]) == sum(p.stat().st_size for p in (out / "old").glob("model.*"))


def test_report_to_a_read_only_folder_is_one_message_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    from featpipe import atomic

    write_run(tmp_path / "runs", "ok")
    out = tmp_path / "pages"
    real_write = atomic.write_bytes

    def read_only(path, data):
        if out in Path(path).parents:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_write(path, data)

    monkeypatch.setattr(atomic, "write_bytes", read_only)
    result = invoke("report", tmp_path / "runs", "--out", out / "cmp.html", "--no-images", "-q")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"cannot write {out}" in result.output and "Read-only file system" in result.output
    assert not out.exists() or [p.name for p in out.iterdir()] == []
