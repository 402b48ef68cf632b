"""CLI input errors: an unknown --format is refused, a database error is one line."""

from __future__ import annotations

import os
import subprocess

import pytest
from typer.testing import CliRunner

from tests.servers import NEWSWATCH
from workers.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        ["outlets", "list"],
        ["articles", "list"],
        ["articles", "search", "x"],
        ["articles", "show", "1"],
        ["watches", "list"],
        ["alerts", "list"],
        ["feeds", "status"],
        ["status"],
        ["drift"],
    ],
)
def test_unknown_format_is_refused(command: list[str], tmp_path, monkeypatch) -> None:
    # An empty data dir: a command that ignored the option would run (or fail) on it instead.
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, [*command, "--format", "xml"])
    assert result.exit_code == 2, result.output
    assert "xml" in result.output and "table" in result.output


def test_outlets_list_still_prints_json(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["outlets", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith(("[", "{"))


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (["articles", "list"], "newswatch db upgrade"),
        (["reclean"], "newswatch db upgrade"),
        (["db", "downgrade", "nonsense"], "migration: Can't locate revision"),
    ],
)
def test_database_errors_are_one_line_not_a_traceback(
    command: list[str], needle: str, tmp_path
) -> None:
    # Through the installed entry point (main), as a user runs it, on a store never migrated.
    env = {**os.environ, "NEWSWATCH_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    proc = subprocess.run(
        [str(NEWSWATCH), *command], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
