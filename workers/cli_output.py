"""How the CLI prints listings: JSON Lines for programs, tables for people that show web text
as text (never as Rich markup) and are not cut to 80 columns when stdout is a pipe or a file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

# Wide enough for any row we print; a table only takes the width its cells need.
PIPE_WIDTH = 400


def echo_json_lines(rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line, the shape of every `--format json` listing (`jq -c`, `wc -l`)."""
    for row in rows:
        typer.echo(json.dumps(row, ensure_ascii=False, default=str))


def table_console() -> Console:
    """A console for tables: the terminal's width, or no practical limit in a pipe.

    Rich assumes 80 columns when stdout is not a terminal and then cuts cells ("Rhein-Kur…"),
    which loses exactly what a `| grep` was looking for. COLUMNS, when set, still decides.
    """
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(width=PIPE_WIDTH)


def cell(value: object) -> Text:
    """A table cell that shows its text as is: a title like "[/b]" is not markup."""
    return Text("" if value is None else str(value))
