"""Driving the ``automl`` command line in tests: typer's CliRunner (stdout and stderr kept apart), the one-error-line
promise, and the rich tables of a command's output. Test modules import it by name (``tests/`` is on pytest's
``pythonpath``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from automl_cli import app
from typer.testing import CliRunner, Result

# A wide terminal keeps rich tables from truncating cells; no debug mode, no storage from the environment.
RUNNER = CliRunner(env={"COLUMNS": "200", "AUTOML_DEBUG": None, "AUTOML_STORAGE": None})
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run ``automl ARGS...`` in this process."""
    return RUNNER.invoke(app, list(args), env=env)


def assert_one_error_line(result: Result, *fragments: str) -> str:
    """Exit status 2, nothing on stdout, one ``error:`` line on stderr holding every fragment, no traceback
    anywhere; returns the line."""
    assert result.exit_code == 2, result.output
    assert result.stdout == "", result.output
    lines = ANSI.sub("", result.stderr).splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@dataclass
class Table:
    """A rich table of a command's output: its header cells (if any) and body rows."""

    header: list[str] | None
    rows: list[list[str]]

    def column(self, index: int) -> list[str]:
        """The cells of column ``index``."""
        return [row[index] for row in self.rows]


def _cells(line: str, bar: str) -> list[str]:
    return [cell.strip() for cell in line.strip(bar).split(bar)]


def tables(text: str) -> list[Table]:
    """The rich tables of a command's output, each with its header (if any) and body rows as cell lists."""
    found: list[Table] = []
    for line in ANSI.sub("", text).splitlines():
        line = line.strip()
        if not line:
            continue
        if line[0] in "┏┌":
            found.append(Table(None, []))
        elif line[0] == "┃" and found:
            found[-1].header = _cells(line, "┃")
        elif line[0] == "│" and found:
            found[-1].rows.append(_cells(line, "│"))
    return found
