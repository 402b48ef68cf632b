"""How the CLI prints listings: JSON Lines for programs, tables for people that show web text
as text (never as Rich markup) and are not cut to 80 columns when stdout is a pipe or a file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.text import Text

# Wide enough for any row we print; a table only takes the width its cells need.
PIPE_WIDTH = 400
# Rich's width for a pipe, kept as the least for fitted output: a table's title is not part of
# its measured width, and would otherwise wrap where a terminal shows it on one line.
FIT_MIN_WIDTH = 80


def echo_json_lines(rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line, the shape of every `--format json` listing (`jq -c`, `wc -l`)."""
    for row in rows:
        typer.echo(json.dumps(row, ensure_ascii=False, default=str))


class _ContentWidthConsole(Console):
    """A pipe's console that prints each renderable as wide as its content needs (at least
    FIT_MIN_WIDTH): tables and panels that expand (`status`) would otherwise fill all PIPE_WIDTH
    columns with blanks."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if len(objects) == 1 and not isinstance(objects[0], str) and "width" not in kwargs:
            needed = Measurement.get(self, self.options, objects[0]).maximum
            kwargs["width"] = max(needed, FIT_MIN_WIDTH)
        super().print(*objects, **kwargs)


def table_console(*, fit: bool = False) -> Console:
    """A console for tables: the terminal's width, or no practical limit in a pipe.

    Rich assumes 80 columns when stdout is not a terminal and then cuts cells ("Rhein-Kur…"),
    which loses exactly what a `| grep` was looking for. COLUMNS, when set, still decides.
    `fit`: in a pipe, an expanding table or panel takes the width its content needs.
    """
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return _ContentWidthConsole(width=PIPE_WIDTH) if fit else Console(width=PIPE_WIDTH)


def plural(count: int, noun: str) -> str:
    """A count with its noun in the right number: "1 article", "2 articles"."""
    return f"{count} {noun if count == 1 else noun + 's'}"


def cell(value: object) -> Text:
    """A table cell that shows its text as is: a title like "[/b]" is not markup."""
    return Text("" if value is None else str(value))
