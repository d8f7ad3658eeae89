"""Helpers for the safety tests: run the CLI and check it failed cleanly, naming the culprit."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from featpipe.cli import app

# The smallest config that trains in well under a second on the built-in digits.
TINY = """
name: tiny
data: {source: digits, n_train: 200, val_fraction: 0.25}
features: {hog: {pixels_per_cell: 2, cells_per_block: 2}}
svm: {C: 0.1}
output: {plots: false, feature_cache: false}
"""


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    """A YAML value of a few hundred bytes that expands to width**levels scalars."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for k in range(1, levels + 1):
        lines.append(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture
def cli():
    """`cli(*args, code=N, says=[...])`: run featpipe, check the exit code, the message and no traceback."""
    runner = CliRunner()

    def invoke(*args, code: int, says=()):
        result = runner.invoke(app, [str(a) for a in args])
        output = result.output  # stdout and stderr as a terminal shows them
        assert "Traceback" not in output, output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"featpipe raised {result.exception!r}:\n{output}")
        assert result.exit_code == code, output
        for text in says:
            assert text in output, f"{text!r} not in:\n{output}"
        return output

    return invoke
