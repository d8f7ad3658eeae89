"""`featpipe demo`: list, run, and clear errors for unknown names and options."""

import pytest
from typer.testing import CliRunner

from featpipe.cli import app
from featpipe.demos import DEMOS, format_demo_list, run_demo
from featpipe.errors import InputError

runner = CliRunner()


def test_list_names_every_demo():
    result = runner.invoke(app, ["demo", "--list"])
    assert result.exit_code == 0
    for name in DEMOS:
        assert name in result.output
    assert result.output.strip() == format_demo_list()


def test_unknown_demo_lists_the_valid_ones():
    result = runner.invoke(app, ["demo", "feature-transfrom"])
    assert result.exit_code == 1
    assert "unknown demo 'feature-transfrom'" in result.output
    for name in DEMOS:
        assert name in result.output
    assert "Traceback" not in result.output


def test_no_name_is_a_usage_error():
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 2
    assert "give a demo name" in result.output


def test_data_option_only_for_templates(tmp_path):
    result = runner.invoke(app, ["demo", "deep-linear", "--data", "digits", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "does not take data" in result.output
    assert not any(tmp_path.iterdir())


def test_bad_data_spec_names_it(tmp_path):
    result = runner.invoke(app, ["demo", "templates", "--data", str(tmp_path / "missing"), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "missing" in result.output and "neither a source nor an existing path" in result.output


def test_run_writes_figure_and_prints_numbers(tmp_path, png_check):
    result = runner.invoke(app, ["demo", "feature-transform", "--out", str(tmp_path), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "accuracy.linear_on_xy.test" in result.output
    assert "[holds]" in result.output and "FAILS" not in result.output
    png_check(tmp_path / "feature-transform.png")


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed(tmp_path, seed):
    with pytest.raises(InputError, match="seed"):
        run_demo("feature-transform", tmp_path, seed=seed)


def test_unknown_option(tmp_path):
    with pytest.raises(InputError, match=r"does not take n_points .*it takes: .*n_samples"):
        run_demo("feature-transform", tmp_path, n_points=3)
