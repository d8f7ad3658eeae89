"""Every YAML featpipe reads is bounded: size, aliases, expansion, depth; duplicate keys refused."""

from __future__ import annotations

import json
import os

import pytest
from safety_inputs import TINY, billion_laughs

from featpipe import yaml_safe
from featpipe.config import parse_config
from featpipe.errors import ConfigError
from featpipe.yaml_safe import YamlLimits, parse_yaml


def _bomb_config(tmp_path, where: str = "description"):
    """A config whose `where` value holds a billion-laughs expansion."""
    text = billion_laughs() + TINY
    if where == "description":
        text += "description: *l9\n"
    else:
        text += "svm: {C: *l9}\n"
        text = text.replace("svm: {C: 0.1}\n", "")
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("where", ["description", "svm.C"])
def test_alias_expansion_in_a_config_is_refused_by_run(cli, tmp_path, where):
    path = _bomb_config(tmp_path, where)
    cli("run", path, "--out", tmp_path / "runs", code=2, says=[str(path), "expands to more than"])
    assert not (tmp_path / "runs").exists()


def test_alias_expansion_in_a_batch_file_is_refused_by_dry_run(cli, tmp_path):
    batch = tmp_path / "batch.yaml"
    batch.write_text(billion_laughs() + "name: b\nruns: *l9\n")
    cli("bench", batch, "--dry-run", "--out", tmp_path / "out", code=2, says=[str(batch), "expands to more than"])
    assert not (tmp_path / "out").exists()


def test_alias_expansion_in_a_collected_run_folder_is_a_warning_not_a_crash(cli, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    cli("run", config, "--out", tmp_path / "runs", "--name", "one", "-q", code=0)
    planted = tmp_path / "runs" / "one" / "config.yaml"
    planted.write_text(billion_laughs() + "name: one\ndescription: *l9\n")
    output = cli("report", tmp_path / "runs", "--no-images", "-q", code=0, says=[str(planted), "expands to more than"])
    assert "warning:" in output


def test_many_aliases_are_refused_even_when_each_is_small():
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 50) + "]\n"
    with pytest.raises(yaml_safe.YamlLimitError, match=r"c\.yaml: more than 20 YAML aliases"):
        parse_yaml(text, "c.yaml", YamlLimits(max_aliases=20))
    assert parse_yaml(text, "c.yaml")["b"] == [1] * 50  # within the default limit


def test_recursive_alias_is_refused():
    with pytest.raises(ConfigError, match="c.yaml: recursive YAML alias"):
        parse_yaml("a: &a [1, *a]\n", "c.yaml")


@pytest.mark.parametrize("opening", ["[", "\n- ", "{a: "])
def test_deep_nesting_is_refused_without_recursion_error(cli, tmp_path, opening):
    path = tmp_path / "deep.yaml"
    closing = {"[": "]", "\n- ": "", "{a: ": "}"}[opening]
    nested = "\n" + "- " * 10_000 if opening.startswith("\n") else opening * 10_000
    path.write_text("description: " + nested + "1" + closing * 10_000 + "\n")
    cli("run", path, "--out", tmp_path / "runs", code=2, says=[str(path), "nested more than 64 levels"])


def test_duplicate_key_names_the_key_and_both_lines(cli, tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("name: a\nsvm:\n  C: 1\n  loss: hinge\n  C: 10\n")
    cli("run", path, "--out", tmp_path / "runs", code=2,
        says=[str(path), "duplicate key 'C' at line 5 (first at line 3)"])


def test_duplicate_key_in_a_batch_file(cli, tmp_path):
    batch = tmp_path / "batch.yaml"
    batch.write_text("name: b\nruns: []\nname: c\n")
    cli("bench", batch, "--dry-run", code=2, says=[str(batch), "duplicate key 'name' at line 3 (first at line 1)"])


def test_merge_keys_are_not_duplicates():
    assert parse_yaml("base: &b {x: 1, y: 2}\nrun:\n  <<: *b\n  y: 3\n")["run"] == {"x": 1, "y": 3}


def test_oversized_file_is_refused_before_parsing(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_safe, "LIMITS", YamlLimits(max_bytes=1000))
    path = tmp_path / "big.yaml"
    path.write_text(TINY + "description: " + "x" * 2000 + "\n")
    cli("run", path, "--out", tmp_path / "runs", code=2, says=[str(path), "at most 1,000 bytes"])


def test_override_values_are_bounded_too():
    with pytest.raises(ConfigError, match=r"--set svm.C: more than 3 YAML aliases"):
        yaml_safe.LIMITS, saved = YamlLimits(max_aliases=3), yaml_safe.LIMITS
        try:
            parse_config("name: x", overrides=["svm.C=[&a 1, *a, *a, *a, *a]"])
        finally:
            yaml_safe.LIMITS = saved
    with pytest.raises(ConfigError, match=r"--set svm.C: duplicate key"):
        parse_config("name: x", overrides=["svm.C={a: 1, a: 2}"])


def test_empty_config_file_says_it_is_empty(cli, tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here yet\n")
    cli("run", path, "--out", tmp_path / "runs", code=2, says=[str(path), "is empty"])
    assert not (tmp_path / "runs").exists()


def test_ordinary_configs_still_load():
    data = parse_yaml("a: &x {b: 1}\nc: *x\nd: [1, 2.5, null, true, '2020-01-01']\n")
    assert data == {"a": {"b": 1}, "c": {"b": 1}, "d": [1, 2.5, None, True, "2020-01-01"]}
    assert json.dumps(data)


@pytest.mark.parametrize("value, says", [
    ("9" * 5000, "line 2: cannot read '9999"),
    ("0x" + "f" * 5000, "featpipe reads at most 1,024"),
    ("2020-13-45", "cannot read '2020-13-45' (month must be in 1..12)"),
    ("!!int abc", "cannot read 'abc'"),
    ("\"\x00\"", "unacceptable character"),
])
def test_values_python_cannot_hold_are_config_errors(cli, tmp_path, value, says):
    path = tmp_path / "odd.yaml"
    path.write_text(f"name: odd\nseed: {value}\n")
    cli("run", path, "--out", tmp_path / "runs", code=2, says=[str(path), says])


def test_a_fifo_config_does_not_hang(cli, tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    cli("run", fifo, "--out", tmp_path / "runs", code=2, says=[str(fifo), "not a regular file"])
