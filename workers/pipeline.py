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


# A host's Retry-After for a page is honoured up to this: the task's countdown must stay below
# the broker's visibility timeout (1 h by default), or Redis hands the message out again early.
# A host that wants longer is left to the revival schedule once the task's retries are spent.
MAX_PAGE_RETRY_AFTER = 3000.0
# Content types whose body is read without looking at it.
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Types that say nothing reliable (text/plain is what many servers send for any unknown file):
# the body decides. HTML and text pass, anything binary does not.
SNIFFED_TYPES = frozenset(
    {
        "",
        "text/plain",
        "application/octet-stream",
        "binary/octet-stream",
        "application/binary",
        "application/unknown",
        "application/x-unknown",
        "unknown/unknown",
        "*/*",
        # a page served as a .gz file: the cleaner unpacks it, so what is inside decides
        "application/gzip",
        "application/x-gzip",
    }
)
# Bytes that never occur in text (the WHATWG MIME sniffing standard's "binary data bytes";
# ESC is left out for ISO-2022-JP), and binary formats that open with a line of text.
BINARY_BYTES = rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]"
TEXT_LIKE_BINARY = (b"%PDF-", b"%!PS")
SNIFF_BYTES = 1445  # what browsers look at
# A page with a 0-second refresh is followed only if it says no more than a "you are being
# redirected" line; above this it is a page of its own (and its refresh a script's fallback).
MAX_REFRESH_PAGE_WORDS = 80


def retry_after_seconds(headers: Any, *, now: datetime) -> float | None:
    """Seconds a 429/503 answer's Retry-After asks for (its Date as the server's clock)."""
    from sources.schedule import parse_retry_after

    when = parse_retry_after(headers.get("retry-after"), now=now, date=headers.get("date"))
    if when is None:
        return None
    wait = (when - now).total_seconds()
    return min(wait, MAX_PAGE_RETRY_AFTER) if wait > 0 else None


def unsupported_content(content_type: str | None, content: bytes) -> str | None:
    """Why a page's answer is not an article (a PDF, an image, other binary), or None.

    HTML and XHTML are taken as declared; a missing, generic or text/plain type is judged by
    the body, which must look like HTML or be text.
    """
    import contextlib
    import re

    from cleaning.html import looks_like_html

    # Several Content-Type fields arrive joined with commas; the last one counts, as in browsers.
    essence = (content_type or "").split(",")[-1].split(";")[0].strip().lower()
    if essence in PAGE_TYPES:
        return None
    if essence not in SNIFFED_TYPES:
        return f"unsupported content type: {essence}"
    head = content[:SNIFF_BYTES]
    if head[:2] == b"\x1f\x8b":
        with contextlib.suppress(zlib.error):  # if it does not unpack, it is judged as it is
            head = zlib.decompressobj(31).decompress(content[: 64 * 1024], SNIFF_BYTES)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(TEXT_LIKE_BINARY) and (
        looks_like_html(head) or not re.search(BINARY_BYTES, head)
    ):
        return None
    return f"unsupported content type: {essence or 'none'} (the body is neither HTML nor text)"


def meta_refresh_target(content: bytes, base_url: str) -> str | None:
    """Where a page that only redirects with `<meta http-equiv="refresh" content="0; url=...">`
    sends the browser (absolute), or None for any other page.

    Not a refresh inside <noscript> (a fallback for browsers without scripts, on a page of its
    own), nor one with a delay (the page is meant to be read first), nor a page with more than
    a few lines of text.
    """
    import re
    from urllib.parse import urljoin, urlsplit

    import lxml.html
    from lxml import etree

    # The parse below only for the rare page that has a refresh at all, and only of its start:
    # a page with more text than MAX_REFRESH_PAGE_WORDS there is not a redirect anyway.
    if not re.search(rb"(?i)http-equiv\s*=\s*[\"']?\s*refresh", content[: 64 * 1024]):
        return None
    try:
        tree = lxml.html.document_fromstring(content[: 256 * 1024])
    except (etree.LxmlError, ValueError, LookupError):
        return None
    target = None
    for meta in tree.iter("meta"):
        if (meta.get("http-equiv") or "").strip().lower() != "refresh":
            continue
        if any(a.tag == "noscript" for a in meta.iterancestors()):
            continue
        # The HTML standard's refresh syntax: seconds (a fraction ignored), then ; or , and
        # an optional "url=", then the URL, maybe quoted.
        found = re.match(
            r"\s*(\d+)[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*)", meta.get("content") or "", re.I | re.S
        )
        if found is None or int(found.group(1)) != 0:
            return None
        url = found.group(2).strip()
        if url[:1] in ("'", '"'):
            url = url[1:].split(url[0], 1)[0]
        target = url.strip()
        break
    if not target:
        return None
    for el in list(tree.iter("script", "style", "noscript", "template")):
        el.drop_tree()
    body = tree.find("body")
    words = len((body.text_content() if body is not None else "").split())
    if words > MAX_REFRESH_PAGE_WORDS:
        return None
    absolute = urljoin(base_url, target)
    # Only to another web page: a refresh to itself or to javascript: is left as it was.
    if absolute == base_url or urlsplit(absolute).scheme not in ("http", "https"):
        return None
    return absolute


def fetch_page(engine: Engine, article_id: int, *, client: Any, url: str) -> Any | ProcessOutcome:
    """GET one page for an article; a permanent failure is recorded and returned, a passing
    one raised (TransientError, or Deferred when nothing was sent)."""
    try:
        response = client.get(url, purpose="page")
    except FetchError as exc:
        if exc.kind == "deferred":
            release_attempt(engine, article_id)
            raise Deferred(str(exc), retry_after=exc.retry_after) from exc
        if exc.kind in TRANSIENT_FETCH_KINDS:
            raise TransientError(str(exc), retry_after=exc.retry_after) from exc
        mark_failed(engine, article_id, f"fetch {exc}")
        return ProcessOutcome(article_id, "failed", error=f"fetch {exc}")
    if response.status in TRANSIENT_HTTP:
        wait = None
        if response.status in (429, 503):
            # The host said when; retrying on our own backoff (seconds) would ask it again and
            # again meanwhile.
            wait = retry_after_seconds(response.headers, now=datetime.now(UTC))
        raise TransientError(f"HTTP {response.status}", retry_after=wait)
    if response.status != 200:
        mark_failed(engine, article_id, f"HTTP {response.status}")
        return ProcessOutcome(article_id, "failed", error=f"HTTP {response.status}")
    # Binary answers (a PDF, an image) would be stored as an article of garbage characters.
    problem = unsupported_content(response.headers.get("content-type"), response.content)
    if problem is not None:
        mark_failed(engine, article_id, problem)
        return ProcessOutcome(article_id, "failed", error=problem)
    return response


def fetch_and_clean(
    engine: Engine, article_id: int, *, client: Any, outlets: dict[str, Any]
) -> tuple[Article, Any, CleanArticle] | ProcessOutcome:
    """Fetch and clean outside any transaction, so slow pages never hold a database lock."""
    article = begin_attempt(engine, article_id)
    if isinstance(article, ProcessOutcome):
        return article
    outlet = outlets.get(article.outlet_id)
    response = fetch_page(engine, article_id, client=client, url=article.url)
    if isinstance(response, ProcessOutcome):
        return response
    target = meta_refresh_target(response.content, response.final_url)
    if target is not None:
        # A page that only sends the browser on: the article is where it leads. Followed once,
        # through the same client (address guard, robots.txt, size cap), never a second time.
        response = fetch_page(engine, article_id, client=client, url=target)
        if isinstance(response, ProcessOutcome):
            return response
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
    outlets: dict[str, Any] | None = None,
) -> ProcessOutcome:
    """Write the cleaned article, its comments and removed spans, dedup links and mentions.

    `outlets` (the registry) lends each outlet's display name to the syndication notices: "first
    published by The Telegraph" names the outlet whose id is `telegraph-uk`.

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
    # The fetch time changes after dedup: a new version records the text it replaces with the
    # time that text was fetched, not this fetch's.
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
        outlet_aliases={
            oid: [name] for oid, o in (outlets or {}).items() if (name := getattr(o, "name", None))
        },
    )
    if not recleaned:
        current.fetched_at = now
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
            regrouped=result.regrouped,
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
            outlets=outlets,
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
        outlets=outlets,
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
