"""Processing one article: fetch its page, clean it, deduplicate, store it with comments and provenance."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cleaning import MAX_GUNZIP_BYTES, OutletRules, clean
from cleaning.types import CleanArticle
from sources.http import FetchError
from sources.schedule import utc
from storage.db import insert_ignore, session_scope
from storage.models import Article, Comment, RemovedSpan
from storage.text import storable_deep

log = logging.getLogger("newswatch.pipeline")

# Statuses worth a retry later rather than a permanent failure.
TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
# An unreachable robots.txt refuses pages for a few minutes only (RFC 9309): retry, do not fail.
TRANSIENT_FETCH_KINDS = {"timeout", "connect", "protocol", "robots_unreachable"}
MAX_ATTEMPTS = 6  # above the task retries (4), so only crashes and hard kills reach it


class TransientError(Exception):
    """A failure that a retry may cure (network hiccup, 5xx, 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Deferred(TransientError):
    """The host's politeness queue could not start the request in time; nothing was sent.

    Not a failure of the page, so it spends neither an attempt nor a retry: the caller sends
    the work again after `retry_after` (or leaves the article pending).
    """


@dataclass
class ProcessOutcome:
    article_id: int
    status: str  # stored | skipped | failed
    dedup: str | None = None
    comments: int = 0
    removed: int = 0
    mentions: list[str] = field(default_factory=list)
    error: str | None = None
    # For the ingest latency histograms (first seen in a feed → stored, stated publish → stored).
    first_seen_at: datetime | None = None
    feed_published: datetime | None = None
    stored_at: datetime | None = None


def outlet_rules(outlet: Any | None) -> OutletRules | None:
    """Turn a registry outlet into the cleaner's per-outlet overrides."""
    if outlet is None:
        return None
    cleaning_cfg = getattr(outlet, "cleaning", None)
    return OutletRules(
        name=outlet.name,
        language=getattr(outlet, "language", None),
        boilerplate_patterns=tuple(getattr(cleaning_cfg, "boilerplate_patterns", ()) or ()),
        comment_xpaths=tuple(getattr(cleaning_cfg, "comment_xpaths", ()) or ()),
        repair_glued_drop_cap=bool(getattr(cleaning_cfg, "repair_glued_drop_cap", False)),
    )


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # UTC before it is stored: SQLite's DATETIME keeps the wall-clock time and drops the
    # offset, so "12:00+03:00" would come back as 12:00 UTC.
    return utc(parsed)


def best_published(
    page_value: str | None, *, feed_published: datetime | None, stored: datetime | None
) -> datetime | None:
    """The article's publication time: the page's date, made precise by the feed's time.

    Pages often state only a day, and midnight would make every outlet's copy of a story tie
    (the first one processed then counts as the first publisher). The feed's time on the same
    day, give or take one for time zones, is the same date with its hour.
    """
    page = parse_iso(page_value)
    if page is None:
        return stored or feed_published
    if feed_published is not None and len(page_value or "") <= len("YYYY-MM-DD"):
        feed = utc(feed_published)
        if abs((feed.date() - page.date()).days) <= 1:
            return feed
    return page


def mark_failed(engine: Engine, article_id: int, reason: str) -> None:
    """Record a failure and when it happened (retry_at: the revival schedule counts from it)."""
    with session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(Article)
            .where(Article.id == article_id)  # type: ignore[arg-type]
            .values(status="failed", error=reason[:2000], retry_at=datetime.now(UTC))
        )


# Failures that say nothing about the page: its host was down, slow or rate-limiting for
# longer than the task's own retries (minutes). Such an article is tried again later.
TRANSIENT_FAILURES = ("gave up after retries:", "transient:")
# Waits after each such failure before the next try; after the last one it stays failed.
REVIVE_AFTER = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))


def revive_failed(engine: Engine, *, now: datetime, limit: int = 500) -> list[int]:
    """Send back to pending the articles whose last failure was transient and whose wait is
    over (1 h, then 6 h, then 24 h); returns their ids. An outage of an outlet's site longer
    than the task retries no longer loses its articles: their feed entries are never new again.
    """
    query = (
        select(Article)
        .where(Article.status == "failed")  # type: ignore[arg-type]
        .where(or_(*(Article.error.startswith(p) for p in TRANSIENT_FAILURES)))  # type: ignore[union-attr]
        .where(func.coalesce(Article.retry_at, Article.first_seen_at) <= now - REVIVE_AFTER[0])
        .order_by(Article.id)  # type: ignore[arg-type]
    )
    revived: list[int] = []
    with session_scope(engine) as session:
        for article in session.exec(query).all():
            done = int((article.extra or {}).get("revived", 0))
            failed_at = utc(article.retry_at or article.first_seen_at)
            if done >= len(REVIVE_AFTER) or failed_at + REVIVE_AFTER[done] > now:
                continue
            article.status, article.error, article.attempts = "pending", None, 0
            article.extra = {**(article.extra or {}), "revived": done + 1}
            article.retry_at = now
            session.add(article)
            assert article.id is not None
            revived.append(article.id)
            if len(revived) >= limit:
                break
    return revived


def begin_attempt(engine: Engine, article_id: int) -> Article | ProcessOutcome:
    """Count one more attempt at a pending article and load it, in one committed statement.

    The counter is committed before any work, so a page that kills its worker (hard time
    limit, OOM) and comes back on redelivery cannot loop for ever.
    """
    with session_scope(engine) as session:
        article = session.execute(
            update(Article)
            .where(Article.id == article_id, Article.status == "pending")  # type: ignore[arg-type]
            .values(attempts=Article.attempts + 1, retry_at=datetime.now(UTC))
            .returning(Article)
        ).scalar_one_or_none()
        if article is None:
            current = session.execute(
                select(Article.status).where(Article.id == article_id)  # type: ignore[arg-type]
            ).scalar_one_or_none()
    if article is None:
        if current is None:
            return ProcessOutcome(article_id, "skipped", error="no such article")
        # A redelivered task (acks_late) for work already done: nothing to do.
        return ProcessOutcome(article_id, "skipped", error=f"already {current}")
    if article.attempts > MAX_ATTEMPTS:
        reason = f"gave up after {MAX_ATTEMPTS} attempts (time limit or crash while processing)"
        mark_failed(engine, article_id, reason)
        return ProcessOutcome(article_id, "failed", error=reason)
    return article


def note_retry(engine: Engine, article_id: int, *, at: datetime) -> None:
    """Record when the next task of a pending article is due, so the sweep for lost messages
    does not send a second one meanwhile."""
    with session_scope(engine) as session:
        session.execute(
            update(Article)
            .where(Article.id == article_id, Article.status == "pending")  # type: ignore[arg-type]
            .values(retry_at=at)
        )


def release_attempt(engine: Engine, article_id: int) -> None:
    """Take back the attempt `begin_attempt` counted, for work that never reached the page."""
    with session_scope(engine) as session:
        session.execute(
            update(Article)
            .where(
                Article.id == article_id,  # type: ignore[arg-type]
                Article.status == "pending",  # type: ignore[arg-type]
                Article.attempts > 0,  # type: ignore[operator]
            )
            .values(attempts=Article.attempts - 1)
        )


def fetch_and_clean(
    engine: Engine, article_id: int, *, client: Any, outlets: dict[str, Any]
) -> tuple[Article, Any, CleanArticle] | ProcessOutcome:
    """Fetch and clean outside any transaction, so slow pages never hold a database lock."""
    article = begin_attempt(engine, article_id)
    if isinstance(article, ProcessOutcome):
        return article
    outlet = outlets.get(article.outlet_id)
    try:
        response = client.get(article.url, purpose="page")
    except FetchError as exc:
        if exc.kind == "deferred":
            release_attempt(engine, article_id)
            raise Deferred(str(exc), retry_after=exc.retry_after) from exc
        if exc.kind in TRANSIENT_FETCH_KINDS:
            raise TransientError(str(exc), retry_after=exc.retry_after) from exc
        mark_failed(engine, article_id, f"fetch {exc}")
        return ProcessOutcome(article_id, "failed", error=f"fetch {exc}")
    if response.status in TRANSIENT_HTTP:
        raise TransientError(f"HTTP {response.status}")
    if response.status != 200:
        mark_failed(engine, article_id, f"HTTP {response.status}")
        return ProcessOutcome(article_id, "failed", error=f"HTTP {response.status}")
    # The client's cap counts the body it received; a body that is itself a .gz file is held
    # to the same cap once unpacked.
    limit = getattr(client, "max_bytes", None) or MAX_GUNZIP_BYTES
    cleaned = storable_deep(
        clean(
            response.content,
            url=response.final_url,
            outlet=outlet_rules(outlet),
            max_bytes=limit,
        )
    )
    return article, response, cleaned


def store_clean_article(
    session: Session,
    *,
    article: Article,
    cleaned: CleanArticle,
    raw: bytes,
    content_type: str | None,
    now: datetime,
    watches: list[Any] | None = None,
    recleaned: bool = False,
) -> ProcessOutcome:
    """Write the cleaned article, its comments and removed spans, dedup links and mentions.

    `recleaned`: the same page cleaned again (new rules), not a new fetch: no page version is
    recorded, the fetch time stays, and mentions are brought in line with the new text at the
    time the article was first stored (a reclean of a thousand articles is not a spike now).
    """
    from sources.urls import canonical_url
    from storage.dedup import apply_dedup, lock_dedup

    # Children first, outside the dedup lock's span. Always replaced, even on what looks like a
    # first store: `article` was loaded before the fetch, and a second delivery of the same task
    # may have stored it since; adding to its rows would mix two fetches' comments.
    replace_children(session, article.id or 0, cleaned)
    lock_dedup(session)
    # Loaded after the lock, so dedup sees what another worker may have just committed.
    current = session.get(Article, article.id, populate_existing=True)
    assert current is not None
    current.authors = list(cleaned.authors)
    current.published = best_published(
        cleaned.published, feed_published=current.feed_published, stored=current.published
    )
    current.published_raw = cleaned.published or current.published_raw
    current.language = cleaned.language
    current.syndicated_from = list(cleaned.syndicated_from)
    current.image_credits = list(cleaned.image_credits)
    current.raw_page = zlib.compress(raw, 6)
    current.raw_content_type = content_type
    if not recleaned:
        current.fetched_at = now
    result = apply_dedup(
        session,
        article=current,
        title=cleaned.title or current.feed_title,
        body=cleaned.body,
        syndicated_from=cleaned.syndicated_from,
        page_canonical_url=cleaned.canonical_url,
        now=now,
        canonicalize=canonical_url,
        locked=True,
        new_version=not recleaned,
    )
    # apply_dedup keeps the previous text as a version; the current text is always the new one.
    current.title = cleaned.title or current.feed_title
    current.body = cleaned.body
    current.status = "stored"
    current.error = None
    current.stored_at = current.stored_at or now
    session.add(current)
    mentions: list[str] = []
    if watches:
        from alerts.service import record_mentions

        session.flush()
        mentions = record_mentions(
            session,
            article=current,
            watches=watches,
            now=(current.stored_at or now) if recleaned else now,
            forget_unmatched=recleaned,
        )
    return ProcessOutcome(
        current.id or 0,
        "stored",
        dedup=result.kind,
        comments=len(cleaned.comments),
        removed=len(cleaned.removed),
        mentions=mentions,
        first_seen_at=current.first_seen_at,
        feed_published=current.feed_published,
        stored_at=now,
    )


def replace_children(session: Session, article_id: int, cleaned: CleanArticle) -> None:
    """Comments and removed spans mirror the latest cleaning; positions make rewrites idempotent."""
    session.exec(delete(Comment).where(Comment.article_id == article_id))  # type: ignore[call-overload,arg-type]
    session.exec(delete(RemovedSpan).where(RemovedSpan.article_id == article_id))  # type: ignore[call-overload,arg-type]
    if cleaned.comments:
        session.exec(  # type: ignore[call-overload]
            insert_ignore(
                session,
                Comment,
                [
                    {
                        "article_id": article_id,
                        "position": i,
                        "author": c.author,
                        "published": c.published,
                        "kind": c.kind,
                        "text": c.text,
                    }
                    for i, c in enumerate(cleaned.comments)
                ],
            )
        )
    if cleaned.removed:
        session.exec(  # type: ignore[call-overload]
            insert_ignore(
                session,
                RemovedSpan,
                [
                    {"article_id": article_id, "position": i, "rule": r.rule[:64], "text": r.text}
                    for i, r in enumerate(cleaned.removed)
                ],
            )
        )


def process_article(
    engine: Engine,
    article_id: int,
    *,
    client: Any,
    outlets: dict[str, Any],
    watches: list[Any] | None = None,
    now: datetime | None = None,
) -> ProcessOutcome:
    """Fetch, clean, deduplicate and store one article; safe to run twice for the same id."""
    fetched = fetch_and_clean(engine, article_id, client=client, outlets=outlets)
    if isinstance(fetched, ProcessOutcome):
        return fetched
    article, response, cleaned = fetched
    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        outcome = store_clean_article(
            session,
            article=article,
            cleaned=cleaned,
            raw=response.content,
            content_type=response.headers.get("content-type"),
            now=now,
            watches=watches,
        )
    log.info(
        "article stored",
        extra={"article_id": article_id, "dedup": outcome.dedup, "comments": outcome.comments},
    )
    return outcome


def reclean_article(
    session: Session,
    article: Article,
    *,
    outlets: dict[str, Any],
    now: datetime,
    watches: list[Any] | None = None,
) -> ProcessOutcome:
    """Re-run cleaning on the stored raw page (after rules changed) without fetching again."""
    if not article.raw_page:
        return ProcessOutcome(article.id or 0, "skipped", error="no raw page kept")
    raw = zlib.decompress(article.raw_page)
    cleaned = storable_deep(
        clean(raw, url=article.url, outlet=outlet_rules(outlets.get(article.outlet_id)))
    )
    return store_clean_article(
        session,
        article=article,
        cleaned=cleaned,
        raw=raw,
        content_type=article.raw_content_type,
        now=now,
        watches=watches,
        recleaned=True,
    )


def pending_article_ids(
    engine: Engine, *, limit: int = 10_000, seen_before: datetime | None = None
) -> list[int]:
    """Pending articles by id; with `seen_before`, only those with no task since (lost tasks):
    first seen earlier, and neither attempted nor due for a retry after it."""
    query = select(Article.id).where(Article.status == "pending")  # type: ignore[arg-type]
    if seen_before is not None:
        query = query.where(
            func.coalesce(Article.retry_at, Article.first_seen_at) < seen_before  # type: ignore[arg-type]
        )
    with Session(engine) as session:
        rows = session.exec(query.order_by(Article.id).limit(limit)).all()  # type: ignore[arg-type]
    return [int(r) for r in rows if r is not None]
