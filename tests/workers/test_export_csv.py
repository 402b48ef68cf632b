"""`articles export -f csv` is for spreadsheets: web text cannot become a formula there, while
JSON Lines keeps the exact text."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.workers.store import add_articles
from tests.workers.test_cli_errors import migrated, nw

HOSTILE = {
    "title": '=HYPERLINK("https://evil.example/","Read more")',
    "body": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def test_csv_cells_that_would_be_formulas_are_shown_as_text(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    add_articles(tmp_path, {**HOSTILE, "authors": ["-Ann Lee"]})

    proc = nw(env, "articles", "export", "-f", "csv")
    assert proc.returncode == 0, proc.stderr
    (row,) = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert row["title"] == "'" + HOSTILE["title"]
    assert row["body"] == "'" + HOSTILE["body"]
    assert row["authors"] == "'-Ann Lee"
    assert row["url"] == "https://courier.example/0"  # ordinary cells untouched

    proc = nw(env, "articles", "export", "-f", "jsonl")
    (line,) = proc.stdout.splitlines()
    assert {k: json.loads(line)[k] for k in HOSTILE} == HOSTILE
