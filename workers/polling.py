"""Feed polling as plain functions: sync outlets to feed rows, claim due feeds, poll one feed."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from sources.feeds import FeedParseError, ParsedFeed, parse_feed
from sources.http import FetchError, FetchResponse, HttpClient
from sources.politeness import DEFER_SECONDS
from sources.registry import accepts_url
from sources.schedule import cache_hints, next_check, parse_retry_after, utc
from sources.urls import canonical_url, url_hash
from storage import feed_repo
from storage.db import session_scope

log = logging.getLogger("newswatch.polling")

PERMANENT_REDIRECTS = (301, 308)
REDIRECTS_BEFORE_MOVE = 3
ENTRY_TIMES_KEPT = 20
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)


class OutletLike(Protocol):
    id: str

    @property
    def feeds(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class PollConfig:
    """Limits for polling; the lead builds it from Settings."""

    floor: int = 300
    ceiling: int = 86400
    disable_after_days: float = 7.0
    max_entries: int = 500
    unconditional_every: int = 86400  # safety net against servers that answer 304 wrongly
    claim_lease_seconds: int = 600
    rand: Callable[[], float] = random.random


@dataclass
class PollOutcome:
    feed_id: int
    outcome: str  # new | not_modified | unchanged | deferred | error | disabled
    status: int | None = None
    new_article_ids: list[int] = field(default_factory=list)
    refresh_article_ids: list[int] = field(default_factory=list)
    error_kind: str | None = None
    error: str | None = None
    next_check_at: datetime | None = None
    new_entries: int = 0
    filtered: int = 0  # entries whose link the outlet's url_include/url_exclude refused


def sync_outlets(engine: Engine, outlets: Iterable[Any], *, now: datetime) -> int:
    """Insert Feed rows for feed URLs not stored yet (ON CONFLICT DO NOTHING); returns the count."""
    added = 0
    with session_scope(engine) as session:
        for outlet in outlets:
            interval = getattr(outlet, "poll_interval_seconds", None) or 900
            rows = [(outlet.id, str(url).strip()) for url in outlet.feeds]
            added += feed_repo.add_feeds(session, rows=rows, now=now, interval=interval)
    return added


def due_feed_ids(
    engine: Engine, *, now: datetime, limit: int = 1000, lease_seconds: int = 600
) -> list[int]:
    """Claim due, enabled feeds; their next check moves forward by the lease so none is sent twice."""
    with session_scope(engine) as session:
        return feed_repo.claim_due_feeds(
            session, now=now, limit=limit, lease=timedelta(seconds=lease_seconds)
        )


def claim_feeds_due_soon(
    engine: Engine, *, now: datetime, horizon_seconds: float, limit: int = 1000
) -> list[tuple[int, float]]:
    """Claim feeds due now or within the horizon, each with the seconds until it is due (0 when
    already due). Beat dispatches every `horizon_seconds`; sending a feed due before the next
    dispatch with that delay polls it on time instead of up to one dispatch interval late."""
    lease = timedelta(seconds=600 + horizon_seconds)  # past the delay, whatever the interval
    with session_scope(engine) as session:
        claimed = feed_repo.claim_feeds_due_by(
            session,
            now=now,
            by=now + timedelta(seconds=horizon_seconds),
            limit=limit,
            lease=lease,
        )
    return [(i, max(0.0, (utc(due) - now).total_seconds())) for i, due in claimed]


@dataclass(frozen=True)
class _FeedState:
    """What polling needs from the feed row, read in a short transaction before the request."""

    id: int
    outlet_id: str
    url: str
    etag: str | None
    last_modified: str | None
    last_unconditional_at: datetime | None
    first_error_at: datetime | None
    error_count: int
    redirect_streak: int
    redirect_target: str | None
    moved_from: str | None
    disabled_at: datetime | None
    disabled_reason: str | None
    entry_times: list[datetime]
    ttl_seconds: int | None
    sy_period_seconds: int | None


def _load_state(engine: Engine, feed_id: int) -> _FeedState | None:
    row = feed_repo.read_poll_state(engine, feed_id=feed_id)
    if row is None:
        return None
    times = []
    for raw in row["entry_times"] or []:
        try:
            times.append(utc(datetime.fromisoformat(str(raw))))
        except ValueError:
            continue
    return _FeedState(
        id=int(feed_id),
        outlet_id=row["outlet_id"],
        url=row["url"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_unconditional_at=_aware(row["last_unconditional_at"]),
        first_error_at=_aware(row["first_error_at"]),
        error_count=row["error_count"] or 0,
        redirect_streak=row["redirect_streak"] or 0,
        redirect_target=row["redirect_target"],
        moved_from=row["moved_from"],
        disabled_at=_aware(row["disabled_at"]),
        disabled_reason=row["disabled_reason"],
        entry_times=times,
        ttl_seconds=row["ttl_seconds"],
        sy_period_seconds=row["sy_period_seconds"],
    )


def _aware(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def poll_feed(
    engine: Engine,
    feed_id: int,
    *,
    client: HttpClient,
    config: PollConfig,
    now: datetime | None = None,
    outlets: Mapping[str, Any] | None = None,
) -> PollOutcome:
    """One conditional GET of a feed, its new entries stored and its schedule written.

    `outlets` (the registry by id) applies the feed's outlet URL filters: an entry whose link
    they refuse is remembered as seen but never becomes an article, so a feed cannot send the
    workers to pages (or other hosts) its outlet does not cover.
    """
    now = now or datetime.now(UTC)
    state = _load_state(engine, feed_id)
    if state is None:
        return PollOutcome(feed_id, "error", error_kind="missing", error="no such feed")
    if state.disabled_at is not None:
        return PollOutcome(feed_id, "disabled", error=state.disabled_reason)

    conditional = (
        state.last_unconditional_at is not None
        and (now - state.last_unconditional_at).total_seconds() < config.unconditional_every
    )
    headers = {"Accept": FEED_ACCEPT}
    if conditional and state.etag:
        headers["If-None-Match"] = state.etag
    if conditional and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified

    try:
        resp = client.get(state.url, headers=headers, purpose="feed")
    except FetchError as exc:
        if exc.kind == "deferred":
            return _defer(engine, state, now, exc.retry_after)
        return _record_error(engine, state, config, now, kind=exc.kind, message=str(exc))

    moves = _redirect_bookkeeping(state, resp)
    status = resp.status
    if status == 410:
        return _disable(engine, state, now, status=status, reason="410 Gone: the feed was removed")
    if status == 304 or 200 <= status < 300:
        parsed: ParsedFeed | None = None
        if status != 304:
            try:
                parsed = parse_feed(
                    resp.content,
                    resp.headers,
                    base_url=resp.final_url,
                    now=now,
                    max_entries=config.max_entries,
                )
            except FeedParseError as exc:
                return _record_error(
                    engine,
                    state,
                    config,
                    now,
                    kind="parse",
                    message=str(exc),
                    status=status,
                    extra=moves,
                )
        return _record_success(
            engine, state, config, now, resp, parsed, conditional, moves, outlets=outlets
        )
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(
            resp.headers.get("retry-after"), now=now, date=resp.headers.get("date")
        )
    return _record_error(
        engine,
        state,
        config,
        now,
        kind="http",
        message=f"HTTP {status}",
        status=status,
        retry_after=retry_after,
        extra=moves,
    )


def _redirect_bookkeeping(state: _FeedState, resp: FetchResponse) -> dict[str, Any]:
    """Count consecutive polls that were permanently redirected to one place; move after 3."""
    target = None
    for status, location in resp.redirects:
        if status not in PERMANENT_REDIRECTS:
            break
        target = location
    if target is None or target == state.url:
        return {"redirect_streak": 0, "redirect_target": None}
    streak = state.redirect_streak + 1 if state.redirect_target == target else 1
    if streak >= REDIRECTS_BEFORE_MOVE:
        log.warning(
            "feed moved for good; update the outlet file",
            extra={"feed_id": state.id, "outlet": state.outlet_id, "from": state.url, "to": target},
        )
        return {
            "url": target,
            "moved_from": state.moved_from or state.url,
            "redirect_streak": 0,
            "redirect_target": None,
        }
    return {"redirect_streak": streak, "redirect_target": target}


def _schedule(
    state: _FeedState,
    config: PollConfig,
    now: datetime,
    *,
    entry_times: list[datetime],
    error_count: int,
    resp: FetchResponse | None = None,
    ttl: int | None = None,
    sy_period: int | None = None,
    retry_after: datetime | None = None,
) -> dict[str, Any]:
    max_age, expires = cache_hints(resp.headers, now=now) if resp is not None else (None, None)
    when = next_check(
        now=now,
        entry_times=entry_times,
        floor=config.floor,
        ceiling=config.ceiling,
        ttl=ttl,
        sy_period=sy_period,
        max_age=max_age,
        expires=expires,
        retry_after=retry_after,
        error_count=error_count,
        rand=config.rand,
    )
    return {"next_check_at": when, "interval_seconds": int((when - now).total_seconds())}


def _write_feed(engine: Engine, state: _FeedState, values: dict[str, Any]) -> None:
    feed_repo.write_poll_state(engine, feed_id=state.id, values=values)


def _defer(
    engine: Engine, state: _FeedState, now: datetime, retry_after: float | None
) -> PollOutcome:
    """The politeness queue could not start the request in time: nothing was sent, so nothing
    is said of the feed (no error count, no back-off, no step toward disabling it)."""
    wait = retry_after if retry_after and retry_after > 0 else DEFER_SECONDS
    when = now + timedelta(seconds=min(wait, 3600))
    _write_feed(engine, state, {"next_check_at": when})
    return PollOutcome(state.id, "deferred", error_kind="deferred", next_check_at=when)


def _record_error(
    engine: Engine,
    state: _FeedState,
    config: PollConfig,
    now: datetime,
    *,
    kind: str,
    message: str,
    status: int | None = None,
    retry_after: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> PollOutcome:
    errors = state.error_count + 1
    first = state.first_error_at or now
    values: dict[str, Any] = {
        **(extra or {}),
        "last_checked_at": now,
        "last_status": status,
        "last_error": message[:2000],
        "last_error_kind": kind[:32],
        "last_error_at": now,
        "first_error_at": first,
        "error_count": errors,
    }
    values.update(
        _schedule(
            state,
            config,
            now,
            entry_times=state.entry_times,
            error_count=errors,
            retry_after=retry_after,
        )
    )
    outcome = "error"
    if now - first >= timedelta(days=config.disable_after_days):
        values["disabled_at"] = now
        values["disabled_reason"] = (
            f"failing since {first.isoformat(timespec='seconds')} ({errors} errors); "
            f"last: {message[:500]}"
        )
        outcome = "disabled"
    _write_feed(engine, state, values)
    return PollOutcome(
        state.id,
        outcome,
        status=status,
        error_kind=kind,
        error=message,
        next_check_at=values["next_check_at"],
    )


def _disable(
    engine: Engine, state: _FeedState, now: datetime, *, status: int, reason: str
) -> PollOutcome:
    values = {
        "last_checked_at": now,
        "last_status": status,
        "last_error": reason,
        "last_error_kind": "gone",
        "last_error_at": now,
        "disabled_at": now,
        "disabled_reason": reason,
    }
    _write_feed(engine, state, values)
    return PollOutcome(state.id, "disabled", status=status, error_kind="gone", error=reason)


def _record_success(
    engine: Engine,
    state: _FeedState,
    config: PollConfig,
    now: datetime,
    resp: FetchResponse,
    parsed: ParsedFeed | None,
    conditional: bool,
    moves: dict[str, Any],
    *,
    outlets: Mapping[str, Any] | None,
) -> PollOutcome:
    values: dict[str, Any] = {
        **moves,
        "last_checked_at": now,
        "last_success_at": now,
        "last_status": resp.status,
        "error_count": 0,
        "first_error_at": None,
    }
    if not conditional:
        values["last_unconditional_at"] = now
    etag, modified = resp.raw_header("etag"), resp.raw_header("last-modified")
    if parsed is None:  # 304: only validators the server re-sent and the schedule change
        if etag:
            values["etag"] = etag
        if modified:
            values["last_modified"] = modified
        values.update(
            _schedule(
                state,
                config,
                now,
                entry_times=state.entry_times,
                error_count=0,
                resp=resp,
                ttl=state.ttl_seconds,
                sy_period=state.sy_period_seconds,
            )
        )
        _write_feed(engine, state, values)
        return PollOutcome(
            state.id, "not_modified", status=resp.status, next_check_at=values["next_check_at"]
        )

    values.update(
        etag=etag,
        last_modified=modified,
        ttl_seconds=parsed.ttl_seconds,
        sy_period_seconds=parsed.sy_period_seconds,
    )
    if parsed.title:
        values["title"] = parsed.title[:1000]
    new_ids: list[int] = []
    refresh_ids: list[int] = []
    new_times: list[datetime] = []
    outlet = outlets.get(state.outlet_id) if outlets is not None else None
    filtered = 0
    with session_scope(engine) as session:
        known = feed_repo.known_entries(
            session,
            feed_id=state.id,
            keys=[e.key for e in parsed.entries],
            guids=[e.guid for e in parsed.entries if e.guid],
        )
        by_key = {k.entry_key: k for k in known}
        by_guid_link = {(k.guid, canonical_url(k.link)): k for k in known if k.guid and k.link}
        for entry in parsed.entries:
            link = _article_link(entry.link)
            canon = canonical_url(link) if link else None
            seen = by_key.get(entry.key) or (
                by_guid_link.get((entry.guid, canon)) if entry.guid and canon else None
            )
            if seen is not None:
                changed = (entry.title is not None and entry.title != seen.title) or (
                    entry.updated_raw is not None and entry.updated_raw != seen.updated_raw
                )
                if changed:
                    feed_repo.update_entry(
                        session,
                        entry_id=seen.id,
                        values={"title": entry.title, "updated_raw": entry.updated_raw},
                    )
                    if seen.article_id is not None and seen.article_id not in refresh_ids:
                        refresh_ids.append(seen.article_id)
                continue
            article_id = None
            created = False
            refused = bool(link and outlet is not None and not accepts_url(outlet, link))
            filtered += refused
            if link and canon and not refused:
                article_id, created = feed_repo.create_article(
                    session,
                    values={
                        "outlet_id": state.outlet_id,
                        "feed_id": state.id,
                        "url": link,
                        "canonical_url": canon,
                        "url_hash": url_hash(canon),
                        "guid": entry.guid,
                        "feed_title": entry.title,
                        "feed_published": entry.published,
                        "published_raw": entry.published_raw,
                        "first_seen_at": now,
                    },
                )
            inserted = feed_repo.insert_entry(
                session,
                values={
                    "feed_id": state.id,
                    "entry_key": entry.key,
                    "guid": entry.guid,
                    "link": link,
                    "title": entry.title,
                    "published": entry.published,
                    "published_raw": entry.published_raw,
                    "updated_raw": entry.updated_raw,
                    "article_id": article_id,
                    "first_seen_at": now,
                },
            )
            if not inserted:
                continue
            new_times.append(entry.published)
            by_key[entry.key] = feed_repo.KnownEntry(
                -1, entry.key, entry.guid, link, entry.title, entry.updated_raw, article_id
            )
            if created and article_id is not None:
                new_ids.append(article_id)
        refresh_ids = [i for i in refresh_ids if i not in new_ids]
        feed_repo.mark_articles_pending(session, article_ids=refresh_ids)

        times = sorted(state.entry_times + new_times)[-ENTRY_TIMES_KEPT:]
        if new_times:
            values["last_new_entry_at"] = now
            values["entry_times"] = [t.isoformat() for t in times]
        values.update(
            _schedule(
                state,
                config,
                now,
                entry_times=times,
                error_count=0,
                resp=resp,
                ttl=parsed.ttl_seconds,
                sy_period=parsed.sy_period_seconds,
            )
        )
        if "url" in values and feed_repo.feed_url_taken(
            session, url=values["url"], except_id=state.id
        ):
            values.pop("url")
        feed_repo.update_feed(session, feed_id=state.id, values=values)
    return PollOutcome(
        state.id,
        "new" if new_times else "unchanged",
        status=resp.status,
        new_article_ids=new_ids,
        refresh_article_ids=refresh_ids,
        next_check_at=values["next_check_at"],
        new_entries=len(new_times),
        filtered=filtered,
    )


def _article_link(link: str | None) -> str | None:
    """Only absolute http(s) links become articles (no javascript:, mailto:, relative junk)."""
    if not link:
        return None
    link = link.strip()
    if not link.lower().startswith(("http://", "https://")) or len(link) > 4000:
        return None
    return link
