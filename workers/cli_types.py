"""Option types shared by the CLI modules, so every command validates them the same way."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class TableOrJson(StrEnum):
    """Output of a listing: a table for people, or JSON for scripts (an unknown value is refused)."""

    table = "table"
    json = "json"


FormatOpt = Annotated[TableOrJson, typer.Option("--format", "-f", help="table | json")]


class ArticleStatus(StrEnum):
    """The states of an article row (storage.models.Article.status)."""

    pending = "pending"
    stored = "stored"
    failed = "failed"
