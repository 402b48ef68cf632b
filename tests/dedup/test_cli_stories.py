"""`stories list` and `article_relations` over a database filled through apply_dedup."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from tests.dedup.dedup_helpers import article, edit, ingest, process, syndicate
from workers.cli_stories import article_relations, describe_relations, parse_since, register


def _fill(engine) -> dict[str, int]:
    now = datetime.now(UTC) - timedelta(hours=3)
    wire, daily = article("quake_peru_wire"), article("quake_peru_daily")
    ids = {}
    ids["wire"], _ = ingest(
        engine,
        "https://wire.example/peru",
        "wirewire",
        wire["title"],
        wire["body"],
        published=now,
        now=now,
    )
    ids["copy"], _ = ingest(
        engine,
        "https://herald.example/p",
        "dailyherald",
        wire["title"],
        syndicate(edit(wire["body"], 0.02, 4), byline="By [bold]X[/bold]", footer="(c)"),
        published=now + timedelta(minutes=30),
        now=now + timedelta(minutes=30),
    )
    ids["daily"], _ = ingest(
        engine,
        "https://daily.example/p",
        "dailyherald2",
        daily["title"],
        daily["body"],
        published=now + timedelta(hours=1),
        now=now + timedelta(hours=1),
    )
    process(
        engine,
        ids["wire"],
        wire["title"],
        wire["body"] + "\n\nUpdated at noon.",
        now=now + timedelta(hours=2),
    )
    return ids


def test_article_relations(engine) -> None:
    ids = _fill(engine)
    with Session(engine) as s:
        rel = article_relations(s, ids["wire"])
        assert [v["version"] for v in rel["versions"]] == [1, 2]
        assert rel["versions"][-1]["current"] is True
        assert [c["id"] for c in rel["copies"]] == [ids["copy"]]
        assert rel["copy_of"] is None
        assert {a["id"] for a in rel["story"]["articles"]} == set(ids.values())
        assert rel["story"]["first_outlet"] == "wirewire"
        copy = article_relations(s, ids["copy"])
        assert copy["copy_of"]["id"] == ids["wire"] and copy["copy_kind"] == "near"
        assert article_relations(s, 999_999) == {}
        # the people's view of the same: one line per relation, no JSON
        lines = describe_relations(rel)
        assert lines[0] == f"copies: #{ids['copy']} dailyherald (near)"
        assert lines[1] == "versions: 2 (this text is version 2)"
        assert lines[2].startswith(f"story: #{rel['story']['id']}, 3 articles; first published ")
        assert f"by wirewire (#{ids['wire']})" in lines[2]
        (copy_line, _story) = describe_relations(copy)
        assert copy_line.startswith(f"copy of: #{ids['wire']} wirewire (near, similarity 0.")
        assert copy_line.endswith("https://wire.example/peru")


def test_stories_list_json_and_table(engine) -> None:
    _fill(engine)
    app = typer.Typer()
    register(app, get_engine=lambda: engine)
    runner = CliRunner()
    res = runner.invoke(app, ["stories", "list", "--since", "1d", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]  # JSON Lines
    assert len(rows) == 1
    assert rows[0]["first_outlet"] == "wirewire" and rows[0]["articles"] == 3
    assert rows[0]["outlets"] == ["dailyherald", "dailyherald2", "wirewire"]
    assert rows[0]["copies"] == 1
    table = runner.invoke(app, ["stories", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "wirewire" in table.output and "1 copies" in table.output
    future = runner.invoke(app, ["stories", "list", "--since", "2999-01-01", "--format", "json"])
    assert future.exit_code == 0 and future.output == ""
    bad = runner.invoke(app, ["stories", "list", "--since", "yesterday"])
    assert bad.exit_code == 2


def test_parse_since() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2d", now=now) == now - timedelta(days=2)
    assert parse_since("90m", now=now) == now - timedelta(minutes=90)
    assert parse_since("2024-04-01T10:00", now=now) == datetime(2024, 4, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_since("soon", now=now)
