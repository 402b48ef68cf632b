"""`newswatch feeds status|enable` and `outlets add` through typer, on a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from sources.http import HttpClient
from storage.db import create_all, make_engine
from storage.models import Feed
from tests.fixtures.feeds.localserver import LocalServer, rss
from workers import cli_feeds
from workers.polling import PollConfig, poll_feed, sync_outlets


class Outlet:
    def __init__(self, id: str, feeds: tuple[str, ...]) -> None:  # noqa: A002
        self.id, self.feeds = id, feeds


def test_status_shows_health_and_enable_brings_a_feed_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    create_all(engine)
    client = HttpClient(user_agent="newswatch-test/1.0", allowed_networks=["127.0.0.1/32"])
    app = typer.Typer()
    outlets = typer.Typer()
    app.add_typer(outlets, name="outlets")
    cli_feeds.register(app, get_engine=lambda: engine, get_client=lambda: client)
    runner = CliRunner()
    t0 = datetime(2024, 3, 6, tzinfo=UTC)
    with LocalServer() as srv:
        ok = srv.static("/ok", rss([{"title": "a", "link": "https://a.example/a"}]))
        gone = srv.static("/gone", b"", 410)
        sync_outlets(engine, [Outlet("demo", (ok, gone))], now=t0)
        for fid in (1, 2):
            poll_feed(engine, fid, client=client, config=PollConfig(), now=t0)

        result = runner.invoke(app, ["feeds", "status", "--format", "json"])
        assert result.exit_code == 0, result.output
        rows = {r["url"]: r for r in map(json.loads, result.output.splitlines())}
        assert rows[ok]["enabled"] and rows[ok]["last_success"] == "2024-03-06T00:00:00+00:00"
        assert rows[ok]["error_count"] == 0 and rows[ok]["next_check"] is not None
        assert rows[ok]["interval_seconds"] >= 300
        assert not rows[gone]["enabled"] and "410" in rows[gone]["disabled_reason"]

        table = runner.invoke(app, ["feeds", "status"])
        assert table.exit_code == 0 and "disabled" in table.output and "410" in table.output

        result = runner.invoke(app, ["feeds", "enable", str(rows[gone]["id"])])
        assert result.exit_code == 0 and "enabled" in result.output
        with Session(engine) as s:
            feed = s.execute(select(Feed).where(Feed.url == gone)).scalar_one()
            assert feed.disabled_at is None and feed.disabled_reason is None
        assert runner.invoke(app, ["feeds", "enable", "999"]).exit_code == 2
        # a healthy feed keeps its schedule: "enable" is not a way to poll it now
        healthy = runner.invoke(app, ["feeds", "enable", str(rows[ok]["id"])])
        assert healthy.exit_code == 0 and "nothing changed" in healthy.output
        with Session(engine) as s:
            feed = s.execute(select(Feed).where(Feed.url == ok)).scalar_one()
            assert feed.next_check_at.isoformat().startswith(rows[ok]["next_check"][:19])

        srv.static(
            "/",
            b'<html><head><title>Demo</title><link rel="alternate" '
            b'type="application/rss+xml" href="/ok"></head></html>',
        )
        added = runner.invoke(
            app,
            [
                "outlets",
                "add",
                srv.url("/"),
                "--dir",
                str(tmp_path / "o"),
                "--id",
                "demo2",
                "--language",
                "en",
                "--country",
                "GB",
            ],
        )
        assert added.exit_code == 0, added.output
        assert (tmp_path / "o" / "demo2.toml").exists()
        again = runner.invoke(
            app, ["outlets", "add", srv.url("/"), "--dir", str(tmp_path / "o"), "--id", "demo2"]
        )
        assert again.exit_code == 2
    client.close()
