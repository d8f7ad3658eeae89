"""svm: settings in a config: C values checked by name, new keys reach the run."""

import pytest

from featpipe.config import parse_config
from featpipe.errors import ConfigError


@pytest.mark.parametrize("text, shown", [
    ("0", "0"), ("-0.5", "-0.5"), (".nan", "nan"), (".inf", "inf"), ("1e400", "'1e400'"),
    ("[0.1, -1]", "-1"), ("[0.1, .nan]", "nan"), ("[0.1, 1e400]", "'1e400'"),
])
def test_bad_c_is_a_config_error_naming_svm_c_and_the_value(text, shown):
    with pytest.raises(ConfigError, match=rf"svm\.C: C must be a positive number .*; {shown} is not") as caught:
        parse_config(f"svm:\n  C: {text}\n")
    if "inf" in shown or "1e400" in shown:
        assert "YAML reads 1e400 and larger as inf" in str(caught.value)


def test_empty_grid_is_a_config_error():
    with pytest.raises(ConfigError, match=r"svm\.C: C must be a positive number or a non-empty list"):
        parse_config("svm:\n  C: []\n")


def test_c_written_without_a_dot_is_read_as_a_number():
    # PyYAML reads 1e-3 as a string; it is still a valid C
    assert parse_config("svm:\n  C: [1e-3, 1e2]\n").svm.c_values() == [0.001, 100.0]


def test_newton_settings_are_validated():
    config = parse_config("svm:\n  solver: newton\n  multiclass: weston_watkins\n  widen: 0\n")
    assert (config.svm.solver, config.svm.multiclass, config.svm.widen) == ("newton", "weston_watkins", 0)
    with pytest.raises(ConfigError, match=r"svm\.widen"):
        parse_config("svm:\n  widen: -1\n")
    with pytest.raises(ConfigError, match=r"svm\.multiclass"):
        parse_config("svm:\n  multiclass: crammer_singer\n")


def test_precondition_reaches_the_svm_and_is_checked():
    from featpipe import pipeline

    config = parse_config("svm:\n  precondition: none\n")
    assert pipeline.build_svm(config.svm, 1.0, 100, 10, 0).precondition == "none"
    assert pipeline.build_svm(parse_config("svm: {}\n").svm, 1.0, 100, 10, 0).precondition == "auto"
    with pytest.raises(ConfigError, match=r"svm\.precondition"):
        parse_config("svm:\n  precondition: jacobi\n")
