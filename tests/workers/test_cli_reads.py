"""Commands that read the store: they never create it, a failed export keeps the earlier file,
and search folds case for every alphabet and takes % and _ literally."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workers.store import add_articles
from tests.workers.test_cli_errors import env_for, error_lines, migrated, nw


@pytest.mark.parametrize(
    "args",
    [
        ["articles", "list"],
        ["articles", "export"],
        ["feeds", "status"],
        ["stories", "list"],
        ["alerts", "list"],
    ],
)
def test_reading_a_store_that_is_not_there_creates_none(tmp_path: Path, args: list[str]) -> None:
    (line,) = error_lines(nw(env_for(tmp_path), *args))
    assert line.startswith(f"error: no database at {tmp_path / 'data' / 'newswatch.db'}")
    assert not (tmp_path / "data" / "newswatch.db").exists()


def test_a_failed_export_leaves_the_earlier_file_as_it_was(tmp_path: Path) -> None:
    earlier = tmp_path / "articles.csv"
    earlier.write_text("id,title\n1,kept\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "newswatch.db").touch()  # there, but never migrated: the query fails
    proc = nw(env_for(tmp_path), "articles", "export", "-f", "csv", "-o", str(earlier))
    assert proc.returncode != 0
    assert earlier.read_text(encoding="utf-8") == "id,title\n1,kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.csv", "data"]  # no leftovers


def _store(tmp_path: Path, titles: list[str]) -> dict[str, str]:
    env = migrated(tmp_path)
    add_articles(tmp_path, *({"title": t} for t in titles))
    return env


def test_search_folds_case_in_every_alphabet_and_takes_wildcards_literally(
    tmp_path: Path,
) -> None:
    env = _store(tmp_path, ["Москва и Łódź", "Rates up 5% today", "plain news"])
    for word in ("Москва", "москва", "МОСКВА", "łódź", "ŁÓDŹ"):
        proc = nw(env, "articles", "search", word, "-f", "json")
        assert proc.returncode == 0, proc.stderr
        assert "Łódź" in proc.stdout and len(proc.stdout.splitlines()) == 1, (word, proc.stdout)
    for word in ("%", "5%"):
        proc = nw(env, "articles", "search", word, "-f", "json")
        assert [line for line in proc.stdout.splitlines()] and all(
            "5%" in line for line in proc.stdout.splitlines()
        ), (word, proc.stdout)
    assert nw(env, "articles", "search", "_", "-f", "json").stdout == ""


def test_tables_show_web_text_as_text_and_are_not_cut_in_a_pipe(tmp_path: Path) -> None:
    long_title = "Rhein-Kurier International reports " + "on the brigade and its barracks " * 2
    env = _store(tmp_path, ["[/b] closing tag [bold red]in a title", long_title.strip()])
    env.pop("COLUMNS")  # a plain pipe, as `newswatch articles list | grep` has
    proc = nw(env, "articles", "list")
    assert proc.returncode == 0, proc.stderr
    assert "[/b] closing tag [bold red]in a title" in proc.stdout  # shown, not parsed
    assert long_title.strip()[:80] in proc.stdout  # the whole (80-character) cell, no "…"
    assert "…" not in proc.stdout and "published (UTC)" in proc.stdout


def test_json_listings_are_json_lines_and_times_carry_their_zone(tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime

    env = _store(tmp_path, [])
    add_articles(tmp_path, {"title": "a", "published": datetime(2024, 3, 8, 9, 5, tzinfo=UTC)})
    proc = nw(env, "articles", "list", "-f", "json")
    (row,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert row["published"] == "2024-03-08T09:05:00+00:00"
    for args in (["outlets", "list"], ["feeds", "status"], ["stories", "list"]):
        out = nw(env, *args, "-f", "json")
        assert out.returncode == 0, (args, out.stderr)
        # one object a line (or nothing), never one JSON array
        assert all(isinstance(json.loads(line), dict) for line in out.stdout.splitlines()), args
    assert nw(env, "outlets", "list", "-f", "json").stdout.count("\n") > 1
