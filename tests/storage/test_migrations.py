"""Migrations: upgrade → downgrade → upgrade with data in the tables, and `alembic check`, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel

import storage.models as m
from storage.db import make_engine, session_scope
from storage.migrate import check, downgrade, upgrade

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def seed(url: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as s:
        feed = m.Feed(
            outlet_id="demo", url="https://example.org/feed", next_check_at=NOW, created_at=NOW
        )
        s.add(feed)
        s.flush()
        story = m.Story(title="t", created_at=NOW, updated_at=NOW)
        s.add(story)
        s.flush()
        art = m.Article(
            outlet_id="demo",
            feed_id=feed.id,
            url="https://example.org/a",
            canonical_url="https://example.org/a",
            url_hash="h" * 64,
            status="stored",
            title="A",
            body="Body",
            authors=["X"],
            story_id=story.id,
            raw_page=b"x\x9c",
            first_seen_at=NOW,
        )
        s.add(art)
        s.flush()
        s.add(m.Comment(article_id=art.id, position=0, author="R", text="c"))
        s.add(m.RemovedSpan(article_id=art.id, position=0, rule="teaser", text="also read"))
        s.add(m.FeedEntry(feed_id=feed.id, entry_key="k", article_id=art.id, first_seen_at=NOW))
        s.add(m.Watch(id="w", terms=["Sarmat"], updated_at=NOW))
        s.add(m.OutboxMessage(message_id="<1@x>", subject="s", raw=b"r", created_at=NOW))
    engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_upgrade_downgrade_upgrade_with_data_and_check(database_url: str) -> None:
    upgrade(database_url)
    check(database_url)  # models and migrations agree
    seed(database_url)
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    engine.dispose()
    upgrade(database_url)
    seed(database_url)  # the schema is fully usable again
    engine = make_engine(database_url)
    assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
    with Session(engine) as s:
        assert s.exec(text("SELECT count(*) FROM articles")).one()[0] == 1  # type: ignore[call-overload]
    engine.dispose()
