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
