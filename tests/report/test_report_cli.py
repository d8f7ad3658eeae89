"""`featpipe report` through Typer's CliRunner: files, messages and exit codes."""

from __future__ import annotations

from report_runs import write_corrupt_run, write_run
from typer.testing import CliRunner

from featpipe.cli import app


def invoke(*args):
    return CliRunner().invoke(app, ["report", *map(str, args)])


def test_report_on_a_folder_of_runs(tmp_path):
    write_run(tmp_path / "runs", "a", val=0.9)
    write_run(tmp_path / "runs", "b", val=0.8, features=("raw",), classifier="mlp")
    write_corrupt_run(tmp_path / "runs", "bad")
    result = invoke(tmp_path / "runs", "--out", tmp_path / "out" / "cmp.html", "--no-images", "-q")
    assert result.exit_code == 0, result.output
    assert "report of 2 run(s)" in result.stdout
    assert "warning: skipped" in result.stderr and "bad" in result.stderr
    for name in ("cmp.html", "cmp.md", "cmp.csv"):
        assert (tmp_path / "out" / name).is_file()


def test_report_on_a_single_run_folder_defaults_to_report_html_inside_it(tmp_path):
    run_dir = write_run(tmp_path, "solo")
    result = invoke(run_dir, "--no-images", "-q")
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.html").is_file() and "solo" in (run_dir / "report.md").read_text()


def test_empty_folder_is_an_error_naming_it(tmp_path):
    (tmp_path / "nothing-here").mkdir()
    result = invoke(tmp_path / "nothing-here")
    assert result.exit_code == 1
    assert "error:" in result.stderr and "nothing-here: no run folders found" in result.stderr
    assert "Traceback" not in result.output


def test_negative_image_count_is_rejected(tmp_path):
    write_run(tmp_path, "one")
    result = invoke(tmp_path, "--max-images", "-1")
    assert result.exit_code == 2 and "--max-images" in result.stderr


def test_out_may_be_a_folder_but_not_another_kind_of_file(tmp_path):
    write_run(tmp_path / "runs", "one")
    result = invoke(tmp_path / "runs", "--out", tmp_path / "reports", "--no-images", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "report.html").is_file() and (tmp_path / "reports" / "report.csv").is_file()
    result = invoke(tmp_path / "runs", "--out", tmp_path / "table.md")
    assert result.exit_code == 1 and "expected an .html file or a folder" in result.stderr
