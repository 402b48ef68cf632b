"""End to end: real Celery workers in subprocesses ingest the local outlet farm into SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from sources.registry import load_outlets
from sources.urls import canonical_url
from storage.db import make_engine
from storage.models import Article, Comment, FeedEntry
from tests.conftest import run_cli, wait_for
from tests.servers import NewswatchProcess


def expected_canonical_links(outlets_dir: Path) -> set[str]:
    """Every distinct article the farm's feeds announce, computed independently of the pipeline."""
    links: set[str] = set()
    for outlet in load_outlets(outlets_dir):
        for feed_url in outlet.feeds:
            parsed = feedparser.parse(httpx.get(feed_url, timeout=10).content)
            links.update(canonical_url(e.link) for e in parsed.entries if e.get("link"))
    return links


def stored_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return int(
                s.exec(
                    select(func.count()).select_from(Article).where(Article.status == "stored")
                ).one()
            )
    finally:
        engine.dispose()


def check_ingest(url: str, expected: set[str]) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        articles = s.exec(select(Article)).all()
        stored = [a for a in articles if a.status == "stored"]
        assert {a.canonical_url for a in articles} == expected
        assert len(stored) == len(expected), [
            (a.url, a.status, a.error) for a in articles if a.status != "stored"
        ]
        assert all(a.body and len(a.body) > 200 for a in stored)
        assert s.exec(select(func.count()).select_from(Comment)).one() > 0
        assert s.exec(select(func.count()).select_from(FeedEntry)).one() >= len(expected)
    engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_redis_broker_and_worker_ingest_everything_once(
    database_url: str, redis_url: str, nw_env: dict[str, str], tmp_path: Path
) -> None:
    env = nw_env | {"NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_BROKER_URL": redis_url}
    run_cli(["db", "upgrade"], env)
    expected = expected_canonical_links(Path(env["NEWSWATCH_OUTLETS_DIR"]))
    assert len(expected) >= 40
    worker = NewswatchProcess(["worker", "--concurrency", "2"], env, tmp_path / "worker.log")
    beat = NewswatchProcess(["beat"], env, tmp_path / "beat.log")
    try:
        wait_for(
            lambda: stored_count(database_url) >= len(expected),
            timeout=240,
            what="all articles stored",
        )
    finally:
        beat.stop()
        worker.stop()
    check_ingest(database_url, expected)
    assert "newswatch.process_article" in worker.text()


@pytest.mark.slow
def test_embedded_default_run_ingests_with_no_servers(
    nw_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(nw_env)  # no broker, no database: kombu's SQLite transport and SQLite store
    expected = expected_canonical_links(Path(env["NEWSWATCH_OUTLETS_DIR"]))
    service = NewswatchProcess(["run", "--concurrency", "2"], env, tmp_path / "run.log")
    db_url = f"sqlite:///{Path(env['NEWSWATCH_DATA_DIR']) / 'newswatch.db'}"
    try:
        wait_for(
            lambda: (
                Path(env["NEWSWATCH_DATA_DIR"], "newswatch.db").exists()
                and stored_count(db_url) >= len(expected)
            ),
            timeout=240,
            what="all articles stored on the embedded default",
        )
    finally:
        service.stop()
    check_ingest(db_url, expected)
    assert Path(env["NEWSWATCH_DATA_DIR"], "broker.db").exists()


def test_poll_once_is_synchronous_and_idempotent(nw_env: dict[str, str]) -> None:
    first = json.loads(run_cli(["poll", "--once", "--format", "json"], nw_env).stdout)
    assert first["articles_stored"] >= 40
    assert first["feed_errors"] == 0
    second = json.loads(run_cli(["poll", "--once", "--all", "--format", "json"], nw_env).stdout)
    assert second["articles_processed"] == 0  # re-polling adds nothing
    listed = run_cli(
        ["articles", "list", "--all", "--limit", "1000", "--format", "json"], nw_env
    ).stdout
    rows: list[dict[str, Any]] = [json.loads(line) for line in listed.splitlines() if line.strip()]
    assert len(rows) == first["articles_processed"]
