"""Typed, keyword-only repository functions for feeds, their entries and the articles they create."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.db import insert_ignore
from storage.models import Article, Feed, FeedEntry

# Hot-path functions (one poll = one read + one write) also take a bare Connection: the ORM
# session costs as much as the SQL itself there.
Executor = Session | Connection

# Columns that poll bookkeeping may write; anything else is a programming error.
_FEED_WRITABLE = frozenset(
    {
        "url",
        "title",
        "etag",
        "last_modified",
        "next_check_at",
        "interval_seconds",
        "last_checked_at",
        "last_success_at",
        "last_unconditional_at",
        "last_new_entry_at",
        "last_status",
        "last_error",
        "last_error_kind",
        "last_error_at",
        "first_error_at",
        "error_count",
        "redirect_streak",
        "redirect_target",
        "moved_from",
        "disabled_at",
        "disabled_reason",
        "entry_times",
        "ttl_seconds",
        "sy_period_seconds",
    }
)


@dataclass(frozen=True)
class KnownEntry:
    """The stored facts about an entry that a re-poll compares against."""

    id: int
    entry_key: str
    guid: str | None
    link: str | None
    title: str | None
    updated_raw: str | None
    article_id: int | None


def add_feeds(
    session: Session, *, rows: Iterable[tuple[str, str]], now: datetime, interval: int = 900
) -> int:
    """Insert (outlet_id, url) feeds that are not stored yet, due at once; returns how many.

    A URL a stored feed moved away from (permanent redirects) is not added again.
    """
    rows = list(rows)
    moved = set(
        session.execute(
            select(Feed.moved_from).where(Feed.moved_from.in_([u for _, u in rows]))  # type: ignore[union-attr]
        ).scalars()
    )
    added = 0
    for outlet_id, url in rows:
        if url in moved:
            continue
        values = {
            "outlet_id": outlet_id,
            "url": url,
            "next_check_at": now,
            "interval_seconds": interval,
            "error_count": 0,
            "redirect_streak": 0,
            "entry_times": [],
            "created_at": now,
        }
        # RETURNING tells reliably whether a row went in (rowcount varies between drivers).
        stmt = insert_ignore(session, Feed, values, conflict=["url"]).returning(Feed.id)
        added += session.execute(stmt).first() is not None
    return added


def claim_due_feeds(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Atomically move due, enabled feeds' next check forward by `lease` and return their ids."""
    return [i for i, _ in claim_feeds_due_by(session, now=now, by=now, limit=limit, lease=lease)]


def claim_feeds_due_by(
    session: Session, *, now: datetime, by: datetime, limit: int, lease: timedelta
) -> list[tuple[int, datetime]]:
    """Claim enabled feeds due at or before `by`: their next check moves to `now + lease`, so
    no other claimer takes them; returns (id, when it was due), by id.

    PostgreSQL locks the rows (SKIP LOCKED lets concurrent claimers take different feeds);
    SQLite runs every transaction as BEGIN IMMEDIATE here, which serialises claimers anyway.
    """
    due = and_(Feed.disabled_at.is_(None), Feed.next_check_at <= by)  # type: ignore[union-attr,operator,arg-type]
    rows = session.execute(
        select(Feed.id, Feed.next_check_at)
        .where(due)
        .order_by(Feed.next_check_at)  # type: ignore[arg-type]
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        session.execute(
            update(Feed)
            .where(Feed.id.in_([r[0] for r in rows]))  # type: ignore[union-attr]
            .values(next_check_at=now + lease)
        )
    return sorted((int(r[0]), r[1]) for r in rows)


def get_feed(session: Session, *, feed_id: int) -> Feed | None:
    return session.get(Feed, feed_id)


POLL_STATE_COLUMNS = (
    "id",
    "outlet_id",
    "url",
    "etag",
    "last_modified",
    "last_unconditional_at",
    "first_error_at",
    "error_count",
    "redirect_streak",
    "redirect_target",
    "moved_from",
    "disabled_at",
    "disabled_reason",
    "entry_times",
    "ttl_seconds",
    "sy_period_seconds",
)


def feed_poll_state(db: Executor, *, feed_id: int) -> dict[str, Any] | None:
    """The columns a poll needs, as a plain mapping (no ORM object), or None if no such feed."""
    table = Feed.__table__  # type: ignore[attr-defined]
    cols = [table.c[name] for name in POLL_STATE_COLUMNS]
    row = db.execute(select(*cols).where(table.c.id == feed_id)).first()
    return dict(row._mapping) if row is not None else None


def update_feed(session: Executor, *, feed_id: int, values: Mapping[str, Any]) -> None:
    unknown = set(values) - _FEED_WRITABLE
    if unknown:
        raise ValueError(f"not feed bookkeeping columns: {sorted(unknown)}")
    session.execute(update(Feed).where(Feed.id == feed_id).values(**values))  # type: ignore[arg-type]


def feed_url_taken(session: Executor, *, url: str, except_id: int) -> bool:
    stmt = select(Feed.id).where(Feed.url == url, Feed.id != except_id).limit(1)  # type: ignore[arg-type]
    return session.execute(stmt).first() is not None


def known_entries(
    session: Session, *, feed_id: int, keys: Sequence[str], guids: Sequence[str]
) -> list[KnownEntry]:
    """Stored entries of a feed matching any of the keys, or any of the GUIDs."""
    if not keys and not guids:
        return []
    conds = []
    if keys:
        conds.append(FeedEntry.entry_key.in_(list(set(keys))))  # type: ignore[attr-defined]
    if guids:
        conds.append(FeedEntry.guid.in_(list(set(guids))))  # type: ignore[union-attr]
    table = FeedEntry.__table__  # type: ignore[attr-defined]
    names = ("id", "entry_key", "guid", "link", "title", "updated_raw", "article_id")
    stmt = select(*[table.c[n] for n in names]).where(table.c.feed_id == feed_id, or_(*conds))
    return [KnownEntry(*row) for row in session.execute(stmt).all()]


def insert_entry(session: Session, *, values: Mapping[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on (feed_id, entry_key); True when a row was added."""
    stmt = insert_ignore(session, FeedEntry, dict(values), conflict=["feed_id", "entry_key"])
    return session.execute(stmt.returning(FeedEntry.id)).first() is not None


def update_entry(session: Session, *, entry_id: int, values: Mapping[str, Any]) -> None:
    allowed = {"title", "updated_raw", "link", "article_id"}
    if set(values) - allowed:
        raise ValueError(f"not entry columns: {sorted(set(values) - allowed)}")
    session.execute(update(FeedEntry).where(FeedEntry.id == entry_id).values(**values))  # type: ignore[arg-type]


def create_article(session: Session, *, values: Mapping[str, Any]) -> tuple[int, bool]:
    """Insert a pending article unless its url_hash exists; returns (id, created)."""
    row = {
        "status": "pending",
        "attempts": 0,
        "version": 0,
        "authors": [],
        "syndicated_from": [],
        "image_credits": [],
        "extra": {},
        **values,
    }
    stmt = insert_ignore(session, Article, row, conflict=["url_hash"]).returning(Article.id)
    created = session.execute(stmt).scalar_one_or_none()
    if created is not None:
        return int(created), True
    existing = session.execute(
        select(Article.id).where(Article.url_hash == row["url_hash"])  # type: ignore[arg-type]
    ).scalar_one()
    return int(existing), False


def mark_articles_pending(session: Session, *, article_ids: Sequence[int]) -> None:
    """Send articles back through processing (their feed entry changed).

    The attempt counter starts again: it bounds one processing run (a page that keeps killing
    its worker), and a live blog updated every hour is not a page that crashes.
    """
    if article_ids:
        session.execute(
            update(Article)
            .where(Article.id.in_(list(article_ids)))  # type: ignore[union-attr]
            .values(status="pending", error=None, attempts=0)
        )


def list_feeds(session: Session) -> list[Feed]:
    return list(session.execute(select(Feed).order_by(Feed.outlet_id, Feed.id)).scalars().all())  # type: ignore[arg-type]


def enable_feed(session: Session, *, feed_id: int, now: datetime) -> str:
    """Re-enable a feed: clear the disable reason and error streak, due at once.

    Returns "enabled", "healthy" (enabled with no errors: left as it is, its schedule kept) or
    "missing".
    """
    feed = session.get(Feed, feed_id)
    if feed is None:
        return "missing"
    if feed.disabled_at is None and not feed.error_count:
        return "healthy"
    session.execute(
        update(Feed)
        .where(Feed.id == feed_id)  # type: ignore[arg-type]
        .values(
            disabled_at=None,
            disabled_reason=None,
            error_count=0,
            first_error_at=None,
            next_check_at=now,
        )
    )
    return "enabled"


# --- the per-poll hot path -------------------------------------------------------------------
#
# A poll of an unchanged feed is one read and one write of a single row. On SQLite each of
# those as an ORM/Core transaction costs ~10x the SQL itself (BEGIN IMMEDIATE, COMMIT, session
# setup), so there they run as single autocommit statements on the pooled DBAPI connection
# (make_engine sets isolation_level=None): one statement is atomic on its own, and a plain
# read no longer takes the write lock. Values go through SQLAlchemy's own type processors, so
# the stored text is exactly what the ORM writes and reads. PostgreSQL uses Core as usual.


def _columns(names: Sequence[str]) -> list[Any]:
    table = Feed.__table__  # type: ignore[attr-defined]
    return [table.c[name] for name in names]


def read_poll_state(engine: Engine, *, feed_id: int) -> dict[str, Any] | None:
    """feed_poll_state in the cheapest way the database allows."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            return feed_poll_state(conn, feed_id=feed_id)
    cols = _columns(POLL_STATE_COLUMNS)
    procs = [
        c.type.dialect_impl(engine.dialect).result_processor(engine.dialect, None) for c in cols
    ]
    sql = f"SELECT {', '.join(POLL_STATE_COLUMNS)} FROM feeds WHERE id = ?"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql, (feed_id,))
        row = cur.fetchone()
        cur.close()
    finally:
        raw.close()
    if row is None:
        return None
    return {
        name: (proc(value) if proc is not None and value is not None else value)
        for name, proc, value in zip(POLL_STATE_COLUMNS, procs, row, strict=True)
    }


def write_poll_state(engine: Engine, *, feed_id: int, values: Mapping[str, Any]) -> None:
    """update_feed for one poll's bookkeeping; a new URL another feed already has is skipped."""
    values = dict(values)
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            if "url" in values and feed_url_taken(conn, url=values["url"], except_id=feed_id):
                values.pop("url")
            update_feed(conn, feed_id=feed_id, values=values)
        return
    unknown = set(values) - _FEED_WRITABLE
    if unknown:
        raise ValueError(f"not feed bookkeeping columns: {sorted(unknown)}")
    names = sorted(values)
    params = []
    for col in _columns(names):
        proc = col.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
        value = values[col.name]
        params.append(proc(value) if proc is not None and value is not None else value)
    sql = f"UPDATE feeds SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute(sql, (*params, feed_id))
        except sqlite3.IntegrityError:
            if "url" not in values:
                raise
            # The moved-to URL is another feed's already: keep ours and write the rest.
            keep = [i for i, n in enumerate(names) if n != "url"]
            names = [names[i] for i in keep]
            sql = f"UPDATE feeds SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?"
            cur.execute(sql, (*[params[i] for i in keep], feed_id))
        finally:
            cur.close()
    finally:
        raw.close()
