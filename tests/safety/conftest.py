"""Helpers for the safety tests: run the CLI and check it failed cleanly, naming the culprit."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from featpipe.cli import app


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
