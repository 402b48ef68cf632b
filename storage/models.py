"""Every table of newswatch, and only tables: SQLModel classes shared by SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _json(**kw: Any) -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False), **kw)


class Feed(SQLModel, table=True):
    """One feed URL of an outlet, with its polling schedule and validators (Miniflux-style)."""

    __tablename__ = "feeds"

    id: int | None = Field(default=None, primary_key=True)
    outlet_id: str = Field(index=True, max_length=64)
    url: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    title: str | None = Field(default=None, sa_column=Column(Text))
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, sa_column=Column(Text))
    next_check_at: datetime = Field(index=True)
    interval_seconds: int = 900
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    last_unconditional_at: datetime | None = None
    last_new_entry_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_kind: str | None = Field(default=None, max_length=32)
    last_error_at: datetime | None = None
    first_error_at: datetime | None = None
    error_count: int = 0
    redirect_streak: int = 0
    redirect_target: str | None = Field(default=None, sa_column=Column(Text))
    # The URL the outlet file names, once permanent redirects moved the feed elsewhere: syncing
    # the registry must not add it back as a second feed.
    moved_from: str | None = Field(default=None, sa_column=Column(Text))
    disabled_at: datetime | None = None
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    entry_times: list[Any] = _json()  # recent new-entry timestamps (ISO), for cadence
    created_at: datetime
    # --- added for issue 3 (feed polling): the feed's own refresh hints, kept for 304 polls ---
    ttl_seconds: int | None = None  # RSS <ttl>
    sy_period_seconds: int | None = None  # sy:updatePeriod / sy:updateFrequency


class FeedEntry(SQLModel, table=True):
    """An entry seen in a feed; (feed, entry key) is unique so re-polls add nothing."""

    __tablename__ = "feed_entries"
    __table_args__ = (UniqueConstraint("feed_id", "entry_key", name="uq_feed_entry_key"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feeds.id", index=True)
    entry_key: str = Field(max_length=128)
    guid: str | None = Field(default=None, sa_column=Column(Text))
    link: str | None = Field(default=None, sa_column=Column(Text))
    title: str | None = Field(default=None, sa_column=Column(Text))
    published: datetime | None = None
    published_raw: str | None = Field(default=None, sa_column=Column(Text))
    article_id: int | None = Field(default=None, foreign_key="articles.id", index=True)
    first_seen_at: datetime
    # --- added for issue 3 (feed polling): an entry's <updated> as sent, to notice edits ---
    updated_raw: str | None = Field(default=None, sa_column=Column(Text))


class Story(SQLModel, table=True):
    """A group of articles about one event across outlets (copies and related coverage)."""

    __tablename__ = "stories"

    id: int | None = Field(default=None, primary_key=True)
    title: str | None = Field(default=None, sa_column=Column(Text))
    first_article_id: int | None = None
    first_outlet_id: str | None = Field(default=None, max_length=64)
    first_published: datetime | None = None
    created_at: datetime
    updated_at: datetime


class Article(SQLModel, table=True):
    """One article per canonical URL; later text changes become ArticleVersion rows."""

    __tablename__ = "articles"

    id: int | None = Field(default=None, primary_key=True)
    outlet_id: str = Field(index=True, max_length=64)
    feed_id: int | None = Field(default=None, foreign_key="feeds.id", index=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    canonical_url: str = Field(sa_column=Column(Text, nullable=False))
    url_hash: str = Field(max_length=64, unique=True)
    guid: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="pending", max_length=16, index=True)
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    title: str | None = Field(default=None, sa_column=Column(Text))
    feed_title: str | None = Field(default=None, sa_column=Column(Text))
    body: str | None = Field(default=None, sa_column=Column(Text))
    authors: list[Any] = _json()
    published: datetime | None = Field(default=None, index=True)
    published_raw: str | None = Field(default=None, sa_column=Column(Text))
    feed_published: datetime | None = None
    language: str | None = Field(default=None, max_length=8)
    syndicated_from: list[Any] = _json()
    image_credits: list[Any] = _json()
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    body_hash: str | None = Field(default=None, max_length=64, index=True)
    version: int = 0
    copy_of_id: int | None = Field(default=None, foreign_key="articles.id", index=True)
    copy_kind: str | None = Field(default=None, max_length=16)  # exact | near | syndicated
    similarity: float | None = None
    story_id: int | None = Field(default=None, foreign_key="stories.id", index=True)
    raw_page: bytes | None = Field(default=None, sa_column=Column(LargeBinary))  # zlib
    raw_content_type: str | None = Field(default=None, max_length=128)
    first_seen_at: datetime
    fetched_at: datetime | None = None
    stored_at: datetime | None = Field(default=None, index=True)
    # When its latest task began or is due (a retry, a deferral): the sweep for lost task
    # messages leaves a pending article alone until well past this.
    retry_at: datetime | None = None


class ArticleVersion(SQLModel, table=True):
    """An earlier or current text of an article whose page changed (same canonical URL)."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version", name="uq_article_version"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", index=True)
    version: int
    title: str | None = Field(default=None, sa_column=Column(Text))
    body: str | None = Field(default=None, sa_column=Column(Text))
    body_hash: str = Field(max_length=64)
    fetched_at: datetime


class Comment(SQLModel, table=True):
    """A reader comment (or reposter's commentary) cleaned out of an article."""

    __tablename__ = "comments"
    __table_args__ = (UniqueConstraint("article_id", "position", name="uq_comment_position"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", index=True)
    position: int
    author: str | None = Field(default=None, sa_column=Column(Text))
    published: str | None = Field(default=None, max_length=64)
    kind: str = Field(default="comment", max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))


class RemovedSpan(SQLModel, table=True):
    """Text the cleaner removed from an article, with the rule that removed it."""

    __tablename__ = "removed_spans"
    __table_args__ = (UniqueConstraint("article_id", "position", name="uq_removed_position"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", index=True)
    position: int
    rule: str = Field(max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))


class LshBucket(SQLModel, table=True):
    """One MinHash LSH band bucket of an article: the shared near-duplicate index.

    `key` is (band << 48) | bucket hash (see `storage.minhash.band_keys`): one integer column,
    so a lookup is one index seek per band; WITHOUT ROWID on SQLite, so the primary key is
    the whole table (no second B-tree to update per row).
    """

    __tablename__ = "lsh_buckets"
    __table_args__ = {"sqlite_with_rowid": False}

    key: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    article_id: int = Field(foreign_key="articles.id", primary_key=True)


class MinHashSignature(SQLModel, table=True):
    """The MinHash signature of an article's cleaned body, kept to rebuild the index."""

    __tablename__ = "minhash_signatures"

    article_id: int = Field(foreign_key="articles.id", primary_key=True)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Watch(SQLModel, table=True):
    """A keyword watch mirrored from the watches TOML file, plus its alert lifecycle state."""

    __tablename__ = "watches"

    id: str = Field(primary_key=True, max_length=64)
    terms: list[Any] = _json()
    outlets: list[Any] = _json()
    languages: list[Any] = _json()
    recipients: list[Any] = _json()
    sensitivity: float = 1.0
    quiet_hours: str | None = Field(default=None, max_length=32)
    muted_until: datetime | None = None
    state: str = Field(default="quiet", max_length=16)  # quiet | firing
    last_peak: float = 0.0
    last_notified_at: datetime | None = None
    burst_started_at: datetime | None = None
    last_evaluated_at: datetime | None = None
    updated_at: datetime
    # -- alerts (issue 6): the spike detector's JSON state (history, baseline, lifecycle) --
    detector_state: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )


class Mention(SQLModel, table=True):
    """A watch term found in a stored article; one row per (watch, story) counts stories once."""

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("watch_id", "story_key", name="uq_mention_story"),)

    id: int | None = Field(default=None, primary_key=True)
    watch_id: str = Field(foreign_key="watches.id", index=True, max_length=64)
    story_key: str = Field(max_length=64)
    article_id: int = Field(foreign_key="articles.id", index=True)
    outlet_id: str = Field(max_length=64)
    seen_at: datetime = Field(index=True)


class Alert(SQLModel, table=True):
    """A notification decision of the spike detector (fired, escalated, resolved)."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("watch_id", "kind", "interval_start", name="uq_alert_once"),)

    id: int | None = Field(default=None, primary_key=True)
    watch_id: str = Field(foreign_key="watches.id", index=True, max_length=64)
    kind: str = Field(max_length=16)
    interval_start: datetime
    observed: float = 0.0
    expected: float = 0.0
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime


class OutboxMessage(SQLModel, table=True):
    """An email waiting for or past delivery; the unique Message-ID makes sending idempotent."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=255, unique=True)
    kind: str = Field(default="alert", max_length=16)  # alert | digest | ops
    recipients: list[Any] = _json()
    subject: str = Field(sa_column=Column(Text, nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # full RFC 5322 message
    status: str = Field(
        default="pending", max_length=16, index=True
    )  # pending|sending|sent|failed|held
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    sent_at: datetime | None = None


class Heartbeat(SQLModel, table=True):
    """Last sign of life of a process role (beat, worker) for health checks."""

    __tablename__ = "heartbeats"

    name: str = Field(primary_key=True, max_length=128)
    at: datetime
    info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OpsEvent(SQLModel, table=True):
    """An operational alarm raised once (e.g. an outlet's extraction quality drifted)."""

    __tablename__ = "ops_events"
    __table_args__ = (UniqueConstraint("kind", "subject", "opened_at", name="uq_ops_event"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=128)
    opened_at: datetime
    closed_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
