"""Sweeps on the command line: the batch they stand for, planned like a batch file."""

import pytest
from typer.testing import CliRunner

from featpipe.bench.cli_batch import command_line_plan, split_values, sweep_batch, to_yaml
from featpipe.bench.plan import load_batch
from featpipe.cli import app
from featpipe.errors import ConfigError


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("text, expected", [
    ("0.01,0.1,1", ["0.01", "0.1", "1"]),
    ("[64],[128,64]", ["[64]", "[128,64]"]),
    ("{a: 1, b: 2},{a: 3}", ["{a: 1, b: 2}", "{a: 3}"]),
    ("'a,b',c", ["'a,b'", "c"]),
    ("[[1,2],[3]],[4]", ["[[1,2],[3]]", "[4]"]),
])
def test_commas_split_values_only_outside_brackets_and_quotes(text, expected):
    assert split_values(text, "--grid k") == expected


@pytest.mark.parametrize("text, message", [
    ("[64,[128]", "unclosed"), ("64],[1", "unbalanced"), ("0.1,,1", "empty value"), ("'a,b", "unclosed"),
])
def test_malformed_values_name_the_option_and_the_fault(text, message):
    with pytest.raises(ConfigError, match=message):
        split_values(text, "--grid mlp.hidden_sizes")


def test_sweep_arguments_make_the_batch_dict_a_file_would_hold():
    batch = sweep_batch(["a.yaml", "b.yaml"], grid=["svm.C=0.01,0.1", "mlp.hidden_sizes=[64],[128,64]"],
                        zip_=["seed=0,1"], set_=["data.per_class=500", "description=plain words"])
    assert batch == {
        "name": "a-b",
        "set": {"data.per_class": 500, "description": "plain words"},
        "runs": [{"config": name, "grid": {"svm.C": [0.01, 0.1], "mlp.hidden_sizes": [[64], [128, 64]]},
                  "zip": {"seed": [0, 1]}} for name in ("a.yaml", "b.yaml")],
    }
    assert "&id" not in to_yaml(batch)  # a shared sweep is written out in full for each entry


def test_command_line_and_its_batch_file_plan_the_same_runs(configs, tmp_path, monkeypatch):
    monkeypatch.chdir(configs)
    plan, text = command_line_plan(["tiny-hog.yaml", "tiny-raw.yaml"], grid=["svm.C=0.01,0.1"],
                                   zip_=["seed=0,1"], set_=["data.val_fraction=0.2"])
    (configs / "written.yaml").write_text(text)
    from_file = load_batch(configs / "written.yaml")
    assert [run.run_id for run in plan.runs] == [run.run_id for run in from_file.runs]
    assert len(plan.runs) == 2 * 2 * 2
    assert {run.config.data.val_fraction for run in plan.runs} == {0.2}
    assert plan.runs[1].swept == {"svm.C": 0.01, "seed": 1}


def test_set_applies_to_every_run_of_a_batch_file_and_wins_over_its_entries(write_batch):
    batch = write_batch("""
name: layered
set: {data.val_fraction: 0.3}
runs:
  - config: tiny-hog.yaml
    set: {svm.C: 0.5}
    grid: {seed: [0, 1]}
  - config: tiny-raw.yaml
""")
    plain, text = command_line_plan([batch])
    assert text is None and {run.config.svm.C for run in plain.runs[:2]} == {0.5}
    plan, text = command_line_plan([batch], set_=["svm.C=0.25", "data.val_fraction=0.2"])
    assert [run.config.svm.C for run in plan.runs] == [0.25, 0.25, 0.25]
    assert {run.config.data.val_fraction for run in plan.runs} == {0.2}
    assert "svm.C: 0.25" in text
    assert [run.run_id for run in plan.runs] != [run.run_id for run in plain.runs]


def test_bad_combinations_are_refused_before_planning(write_batch, configs):
    batch = write_batch("name: b\nruns:\n  - config: tiny-hog.yaml\n")
    with pytest.raises(ConfigError, match="batch file already"):
        command_line_plan([batch], grid=["svm.C=1,2"])
    with pytest.raises(ConfigError, match="one batch file alone"):
        command_line_plan([batch, configs / "tiny-raw.yaml"])
    with pytest.raises(ConfigError, match="--grid svm.C is given twice"):
        command_line_plan([configs / "tiny-hog.yaml"], grid=["svm.C=1", "svm.C=2"])
    with pytest.raises(ConfigError, match="expected KEY.PATH=V1,V2"):
        command_line_plan([configs / "tiny-hog.yaml"], grid=["svm.C"])
    # named as the command line's batch, not as a batch file that does not exist
    with pytest.raises(ConfigError, match=r"^the command line's batch \(see it with --dry-run\): runs\[0\] "
                                          r"\(tiny-hog.yaml\): unknown key 'svm.nope'"):
        command_line_plan([configs / "tiny-hog.yaml"], grid=["svm.nope=1,2"])
    with pytest.raises(ConfigError, match=r"^the command line's batch .*: set: .*unknown key 'nope'"):
        command_line_plan([configs / "tiny-hog.yaml"], set_=["nope=1"])


def test_dry_run_prints_the_batch_file_then_the_plan(configs, tmp_path, monkeypatch):
    monkeypatch.chdir(configs)
    out = tmp_path / "out"
    result = invoke("bench", "tiny-hog.yaml", "--grid", "svm.C=0.01,0.1,1", "--grid",
                    "features.hog.pixels_per_cell=2,4", "--set", "data.n_train=200", "--out", out, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "name: tiny-hog\nset: {data.n_train: 200}\nruns:\n- config: tiny-hog.yaml\n" in result.output
    assert "batch tiny-hog (" in result.output and "6 runs, 6 to run" in result.output
    assert "svm.C=0.1 features.hog.pixels_per_cell=4" in result.output
    assert not out.exists()


def test_a_command_line_sweep_runs_and_resumes(configs, tmp_path, monkeypatch):
    monkeypatch.chdir(configs)
    out = tmp_path / "out"
    args = ("bench", "tiny-raw.yaml", "--grid", "seed=0,1", "--out", out, "--jobs", "1", "--quiet")
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert "2 runs, 2 done (2 run now)" in first.output
    again = invoke(*args)
    assert "2 runs, 0 to run" in again.output and "2 done (0 run now)" in again.output


def test_bench_help_lists_the_options_of_bench_run():
    result = invoke("bench", "--help")
    assert result.exit_code == 0
    for option in ("--grid", "--zip", "--set", "--dry-run", "--jobs", "status"):
        assert option in result.output
