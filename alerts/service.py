"""The alerts I/O edge: record mentions at ingest, evaluate watches per interval, fill the outbox."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import SMTP as SMTP_POLICY
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.engine import Engine
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, select

from alerts.detect import Detector, DetectorConfig, Interval, expected_at, new_state
from alerts.render import ArticleSummary, held_alert, render_alert, render_digest
from alerts.terms import prepare
from alerts.watches import WatchSpec, sync_watches
from storage.db import insert_ignore
from storage.models import Alert, Article, Mention, OutboxMessage, Story
from storage.models import Watch as WatchRow

log = logging.getLogger(__name__)

DEFAULT_FROM = "newswatch <newswatch@localhost>"
SERIES_POINTS = 48
TOP_CANDIDATES = 60
BACKFILL_BATCH = 500


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


# -- mentions at ingest -----------------------------------------------------------------------


def story_key(session: Session, article: Article) -> str:
    """The story an article counts for: its story, else the root of its copy chain, else itself."""
    if article.story_id is not None:
        return f"s{article.story_id}"
    current = article
    for _ in range(16):  # copy chains are short; the bound protects against a cycle
        if current.copy_of_id is None:
            break
        parent = session.get(Article, current.copy_of_id)
        if parent is None:
            return f"a{current.copy_of_id}"
        if parent.story_id is not None:
            return f"s{parent.story_id}"
        current = parent
    return f"a{current.id}"


def _ensure_rows(session: Session, watch_ids: Iterable[str], now: datetime) -> None:
    for wid in watch_ids:
        session.execute(
            insert_ignore(
                session,
                WatchRow,
                {
                    "id": wid,
                    "terms": [],
                    "outlets": [],
                    "languages": [],
                    "recipients": [],
                    "detector_state": {},
                    "updated_at": now,
                },
                conflict=["id"],
            )
        )


def _forget_dissolved_stories(session: Session, article_id: int, key: str) -> None:
    """An updated page regrouped into another story (a "breaking" stub that became a copy of a
    wire story) leaves its first story's mentions behind. That story was its alone and no longer
    exists; kept, the mention would count one story twice."""
    for old in session.exec(
        select(Mention).where(Mention.article_id == article_id, Mention.story_key != key)
    ).all():
        gone = (
            old.story_key.startswith("s")
            and old.story_key[1:].isdigit()
            and session.get(Story, int(old.story_key[1:])) is None
        )
        if gone:
            session.delete(old)


def record_mentions(
    session: Session,
    *,
    article: Article,
    watches: Sequence[WatchSpec],
    now: datetime,
    forget_unmatched: bool = False,
    regrouped: bool = False,
) -> list[str]:
    """Record which watches the cleaned title + body mention, once per (watch, story).

    Comments are never part of the text. Returns the ids of the matching watches (already
    recorded stories included, so a reprocessed article gives the same answer).
    `forget_unmatched` (a reclean): this article's mentions of watches its new text no longer
    matches are deleted. `regrouped` (dedup moved the page out of a story of its own): the
    mentions recorded under that dissolved story are dropped.
    """
    if article.id is None or not watches:
        return []
    text = "\n".join(x for x in (article.title, article.body) if x)
    folded = prepare(text)
    matched = [
        w.id
        for w in watches
        if folded.norm
        and w.applies_to(outlet_id=article.outlet_id, language=article.language)
        and w.matcher.matches_prepared(folded)
    ]
    if forget_unmatched:
        stale = delete(Mention).where(
            Mention.article_id == article.id,  # type: ignore[arg-type]
            Mention.watch_id.in_([w.id for w in watches if w.id not in matched]),  # type: ignore[attr-defined]
        )
        session.execute(stale)
    if regrouped:
        _forget_dissolved_stories(session, article.id, story_key(session, article))
    if not matched:
        return []
    key = story_key(session, article)
    _ensure_rows(session, matched, now)
    for wid in matched:
        session.execute(
            insert_ignore(
                session,
                Mention,
                {
                    "watch_id": wid,
                    "story_key": key,
                    "article_id": article.id,
                    "outlet_id": article.outlet_id,
                    "seen_at": now,
                },
                conflict=["watch_id", "story_key"],
            )
        )
    return matched


def backfill_mentions(
    session: Session, *, watch: WatchSpec, since: datetime, until: datetime
) -> int:
    """Scan stored articles of a period for a new watch, so its baseline starts with history."""
    count, last_id = 0, 0
    while True:
        found, last_id, done = backfill_batch(
            session, watch=watch, since=since, until=until, after_id=last_id
        )
        count += found
        if done:
            return count


def backfill_batch(
    session: Session, *, watch: WatchSpec, since: datetime, until: datetime, after_id: int
) -> tuple[int, int, bool]:
    """One batch of backfill_mentions, from the article after `after_id`.

    Returns (articles that mention the watch, the last article id scanned, whether the period
    is done), so a caller can commit each batch and resume where it stopped.
    """
    rows = session.exec(
        select(Article)
        .where(Article.status == "stored")
        .where(Article.stored_at >= since)  # type: ignore[operator]
        .where(Article.stored_at < until)  # type: ignore[operator]
        .where(Article.id > after_id)  # type: ignore[operator]
        .order_by(Article.id)  # type: ignore[arg-type]
        .limit(BACKFILL_BATCH)
    ).all()
    count, last_id = 0, after_id
    for art in rows:
        last_id = art.id or last_id
        when = _aware(art.stored_at) or since
        if record_mentions(session, article=art, watches=[watch], now=when):
            count += 1
    return count, last_id, len(rows) < BACKFILL_BATCH


def _interval_start(moment: datetime, step: int) -> int:
    """Epoch of the start of the interval holding `moment`."""
    t = int(moment.timestamp())
    return t - t % step


def _history_window(cfg: DetectorConfig, end: int, step: int) -> tuple[datetime, datetime]:
    """The period a new watch's history covers: its baseline plus the recent days left out."""
    begin = end - (cfg.baseline_days + cfg.exclude_recent_days + 1) * 86400
    begin -= begin % step
    return datetime.fromtimestamp(begin, UTC), datetime.fromtimestamp(end, UTC)


def _backfill_new_watches(
    engine: Engine,
    now: datetime,
    step: int,
    watches: Sequence[WatchSpec],
    base_config: DetectorConfig | None,
) -> None:
    """Give each new watch its history, one committed batch at a time.

    A month of a large store takes minutes to scan. Inside the evaluation's one transaction it
    held SQLite's write lock all that time, and a run cut by the time limit rolled back all of
    it, so the watch (and every watch after it) never got evaluated. Each batch here commits its
    mentions with the watch's progress, and the next run resumes after the last article scanned.
    """
    end = _interval_start(now, step)
    # One short transaction for every watch: on most runs no watch is new, and this is all.
    with Session(engine, expire_on_commit=False) as session:
        rows = sync_watches(session, list(watches), now)
        session.commit()
        states = {spec.id: dict(rows[spec.id].detector_state or {}) for spec in watches}
    for spec in watches:
        state = states[spec.id]
        if state.get("t0") is not None or state.get("backfilled"):
            continue
        since, until = _history_window(detector_config(spec, step, base_config), end, step)
        after = int(state.get("backfill_after", 0))
        done = False
        while not done:
            with Session(engine, expire_on_commit=False) as session:
                _, after, done = backfill_batch(
                    session, watch=spec, since=since, until=until, after_id=after
                )
                row = session.exec(
                    select(WatchRow).where(WatchRow.id == spec.id).with_for_update()
                ).one()
                progress = json.loads(json.dumps(row.detector_state)) if row.detector_state else {}
                if progress.get("t0") is not None:
                    break  # another worker evaluated it meanwhile: its history is in
                if not progress:
                    progress = new_state()
                progress["backfill_after"] = after
                progress["backfilled"] = done
                row.detector_state = progress
                flag_modified(row, "detector_state")
                session.add(row)
                session.commit()


# -- counting per interval --------------------------------------------------------------------


class _ArticleCounts:
    """Articles per interval for a filter, cached for one evaluation run (shared by watches)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple, dict[int, int]] = {}

    def counts(self, spec: WatchSpec, lo: datetime, hi: datetime, step: int) -> dict[int, int]:
        key = (spec.outlets, spec.languages, lo, hi)
        if key not in self.cache:
            stmt = (
                select(Article.stored_at)
                .where(Article.status == "stored")
                .where(Article.copy_of_id.is_(None))  # type: ignore[union-attr]
                .where(Article.stored_at >= lo)  # type: ignore[operator]
                .where(Article.stored_at < hi)  # type: ignore[operator]
            )
            if spec.outlets:
                stmt = stmt.where(Article.outlet_id.in_(spec.outlets))  # type: ignore[attr-defined]
            if spec.languages:
                stmt = stmt.where(func.lower(Article.language).in_(spec.matched_languages))
            out: dict[int, int] = defaultdict(int)
            for (ts,) in self.session.execute(stmt):
                out[_bucket(_aware(ts), step)] += 1
            self.cache[key] = out
        return self.cache[key]


def _bucket(ts: datetime | None, step: int) -> int:
    t = int(ts.timestamp()) if ts else 0
    return t - t % step


def _mention_counts(
    session: Session, watch_id: str, lo: datetime, hi: datetime, step: int
) -> tuple[dict[int, int], dict[int, set[str]]]:
    counts: dict[int, int] = defaultdict(int)
    outlets: dict[int, set[str]] = defaultdict(set)
    stmt = (
        select(Mention.seen_at, Mention.outlet_id)
        .where(Mention.watch_id == watch_id)
        .where(Mention.seen_at >= lo)  # type: ignore[operator]
        .where(Mention.seen_at < hi)  # type: ignore[operator]
    )
    for ts, outlet in session.execute(stmt):
        b = _bucket(_aware(ts), step)
        counts[b] += 1
        outlets[b].add(outlet)
    return counts, outlets


# -- evaluation -------------------------------------------------------------------------------


def detector_config(
    spec: WatchSpec, interval_seconds: int, base: DetectorConfig | None
) -> DetectorConfig:
    from dataclasses import replace

    cfg = base or DetectorConfig()
    return replace(cfg, interval_seconds=interval_seconds, sensitivity=spec.sensitivity)


def evaluate_watches(
    bind: Engine | Session,
    *,
    now: datetime,
    interval_seconds: int = 3600,
    watches: Sequence[WatchSpec],
    mail_from: str = DEFAULT_FROM,
    config: DetectorConfig | None = None,
    unsubscribe_url: str | None = None,
    settle_seconds: int = 0,
) -> list[Alert]:
    """Step every watch's detector through the intervals closed since its last evaluation.

    Writes Alert rows (unique per watch, kind and interval: re-running is harmless) and
    enqueues one email per new notification; muted watches get no email, quiet hours hold it.
    An interval counts as closed `settle_seconds` after its end: an article being processed
    when it ended dates its mentions from its start, and commits them up to a task time limit
    later. Evaluated before that, those mentions would land in an interval already counted.
    """
    closed = now - timedelta(seconds=settle_seconds)
    if isinstance(bind, Session):
        return _evaluate(
            bind, now, interval_seconds, watches, mail_from, config, unsubscribe_url, closed
        )
    _backfill_new_watches(bind, closed, interval_seconds, watches, config)
    with Session(bind, expire_on_commit=False) as session:
        try:
            out = _evaluate(
                session,
                now,
                interval_seconds,
                watches,
                mail_from,
                config,
                unsubscribe_url,
                closed,
            )
            session.commit()
            return out
        except BaseException:
            session.rollback()
            raise


def _evaluate(
    session: Session,
    now: datetime,
    step: int,
    watches: Sequence[WatchSpec],
    mail_from: str,
    base_config: DetectorConfig | None,
    unsubscribe_url: str | None,
    closed: datetime,
) -> list[Alert]:
    rows = sync_watches(session, list(watches), now)
    articles = _ArticleCounts(session)
    created: list[Alert] = []
    end = _interval_start(closed, step)  # the interval still open; everything before is closed
    for spec in watches:
        cfg = detector_config(spec, step, base_config)
        det = Detector(cfg)
        row = (
            session.exec(
                select(WatchRow).where(WatchRow.id == spec.id).with_for_update()
            ).one_or_none()
            or rows[spec.id]
        )
        # A deep copy: the ORM must see a new value, not the loaded one mutated in place.
        state = json.loads(json.dumps(row.detector_state)) if row.detector_state else new_state()
        if state.get("t0") is None:
            since, until = _history_window(cfg, end, step)
            begin = int(since.timestamp())
            if not state.get("backfilled"):
                backfill_mentions(session, watch=spec, since=since, until=until)
        else:
            begin = state["t0"] + len(state["m"]) * step
        if begin >= end:
            continue
        lo, hi = datetime.fromtimestamp(begin, UTC), datetime.fromtimestamp(end, UTC)
        mentions, outlets = _mention_counts(session, spec.id, lo, hi, step)
        arts = articles.counts(spec, lo, hi, step)
        notes: list[tuple[int, dict[str, Any]]] = []
        for t in range(begin, end, step):
            iv = Interval(
                start=datetime.fromtimestamp(t, UTC),
                mentions=mentions.get(t, 0),
                articles=arts.get(t, 0),
                outlets=tuple(sorted(outlets.get(t, ()))),
            )
            note = det.advance(state, iv)
            if note is not None:
                notes.append((t, note))
        state["backfilled"] = True
        for t, note in notes:
            alert = _record_alert(
                session, spec, note, t, state, now, mail_from, unsubscribe_url, cfg
            )
            if alert is not None:
                created.append(alert)
                if note["kind"] in ("fired", "escalated"):
                    row.last_peak = float(state.get("peak", 0.0))
                    row.last_notified_at = now
        row.state = "firing" if state.get("phase") == "firing" else "quiet"
        bs = state.get("burst_start")
        row.burst_started_at = datetime.fromtimestamp(bs, UTC) if bs else None
        row.detector_state = state
        flag_modified(row, "detector_state")
        row.last_evaluated_at = now
        session.add(row)
    session.flush()
    release_held(
        session, watches=watches, now=now, mail_from=mail_from, unsubscribe_url=unsubscribe_url
    )
    return created


def _record_alert(
    session: Session,
    spec: WatchSpec,
    note: dict[str, Any],
    t: int,
    state: dict[str, Any],
    now: datetime,
    mail_from: str,
    unsubscribe_url: str | None,
    cfg: DetectorConfig,
) -> Alert | None:
    start = datetime.fromtimestamp(t, UTC)
    muted = spec.muted(now)
    details = dict(note)
    details["muted"] = muted
    res = session.execute(
        insert_ignore(
            session,
            Alert,
            {
                "watch_id": spec.id,
                "kind": note["kind"],
                "interval_start": start,
                "observed": float(note.get("observed", 0) or 0),
                "expected": float(note.get("expected", 0) or 0),
                "details": details,
                "created_at": now,
            },
            conflict=["watch_id", "kind", "interval_start"],
        )
    )
    if (getattr(res, "rowcount", 0) or 0) != 1:
        return None  # already decided by an earlier run
    alert = session.exec(
        select(Alert)
        .where(Alert.watch_id == spec.id)
        .where(Alert.kind == note["kind"])
        .where(Alert.interval_start == start)
    ).one()
    if muted or not spec.recipients:
        return alert
    series, expected = _series(state, cfg.interval_seconds)
    rendered = render_alert(
        watch_id=spec.id,
        label=spec.label,
        note=note,
        series=series,
        expected=expected,
        articles=_top_articles(session, spec, note, t + cfg.interval_seconds),
        recipients=spec.recipients,
        mail_from=mail_from,
        matcher=spec.matcher,
        interval_start=start,
        now=now,
        unsubscribe_url=unsubscribe_url,
        zone=spec.quiet_hours.tz if spec.quiet_hours is not None else None,
    )
    held = spec.quiet_hours is not None and spec.quiet_hours.contains(now)
    session.execute(
        insert_ignore(
            session,
            OutboxMessage,
            {
                "message_id": rendered.message_id,
                "kind": "alert",
                "recipients": list(spec.recipients),
                "subject": rendered.subject,
                "raw": rendered.as_bytes(),
                "status": "held" if held else "pending",
                "attempts": 0,
                "created_at": now,
            },
            conflict=["message_id"],
        )
    )
    alert.details = {**alert.details, "message_id": rendered.message_id, "held": held}
    session.add(alert)
    return alert


def _series(state: dict[str, Any], interval_seconds: int) -> tuple[list[float], list[float]]:
    m = state.get("m", [])
    base = state.get("base")
    lo = max(0, len(m) - SERIES_POINTS)
    expected = [
        max(0.0, expected_at(state, base, i, interval_seconds)) if base else 0.0
        for i in range(lo, len(m))
    ]
    return [float(x) for x in m[lo:]], expected


def _top_articles(
    session: Session, spec: WatchSpec, note: dict[str, Any], end: int
) -> list[ArticleSummary]:
    start = note.get("burst_start")
    lo = (
        datetime.fromisoformat(start.replace("Z", "+00:00"))
        if isinstance(start, str)
        else datetime.fromtimestamp(end - 6 * 3600, UTC)
    )
    hi = datetime.fromtimestamp(end, UTC)
    rows = session.exec(
        select(Article, Mention)
        .join(Mention, Mention.article_id == Article.id)  # type: ignore[arg-type]
        .where(Mention.watch_id == spec.id)
        .where(Mention.seen_at >= lo)  # type: ignore[operator]
        .where(Mention.seen_at < hi)  # type: ignore[operator]
        .order_by(Mention.seen_at.desc())  # type: ignore[attr-defined]
        .limit(TOP_CANDIDATES)
    ).all()
    out: list[ArticleSummary] = []
    seen_outlets: defaultdict[str, int] = defaultdict(int)
    for art, men in rows:
        copies = 0
        if art.story_id is not None:
            copies = (
                session.exec(
                    select(func.count())
                    .select_from(Article)
                    .where(Article.story_id == art.story_id)
                ).one()
                - 1
            )
        else:
            copies = session.exec(
                select(func.count()).select_from(Article).where(Article.copy_of_id == art.id)
            ).one()
        seen_outlets[art.outlet_id] += 1
        out.append(
            ArticleSummary(
                title=art.title or art.feed_title or "(untitled)",
                url=art.canonical_url or art.url,
                outlet=art.outlet_id,
                time=_aware(art.published) or _aware(men.seen_at),
                text=(art.body or "")[:5000],
                copies=max(0, int(copies)),
            )
        )
    # Widely copied stories first; then spread across outlets (one per outlet), recency kept.
    out.sort(key=lambda a: -a.copies)
    first: list[ArticleSummary] = []
    rest: list[ArticleSummary] = []
    used: set[str] = set()
    for a in out:
        (rest if a.outlet in used else first).append(a)
        used.add(a.outlet)
    return (first + rest)[:10]


# -- quiet hours ------------------------------------------------------------------------------


def _held_watch(raw: bytes) -> str | None:
    headers = BytesParser(policy=SMTP_POLICY).parsebytes(raw, headersonly=True)
    value = headers.get("X-Newswatch-Watch")
    return str(value) if value else None


def release_held(
    session: Session,
    *,
    watches: Sequence[WatchSpec],
    now: datetime,
    mail_from: str = DEFAULT_FROM,
    unsubscribe_url: str | None = None,
) -> int:
    """Alerts held in quiet hours go out once the window ends: one as is, several as a digest."""
    by_id = {w.id: w for w in watches}
    held = session.exec(
        select(OutboxMessage).where(OutboxMessage.status == "held").order_by(OutboxMessage.id)  # type: ignore[arg-type]
    ).all()
    groups: dict[str, list[OutboxMessage]] = defaultdict(list)
    for msg in held:
        wid = _held_watch(msg.raw) or ""
        spec = by_id.get(wid)
        if spec is not None and spec.quiet_hours is not None and spec.quiet_hours.contains(now):
            continue  # still quiet
        groups[wid].append(msg)
    released = 0
    for wid, msgs in groups.items():
        if len(msgs) == 1:
            msgs[0].status = "pending"
            msgs[0].next_attempt_at = None
            session.add(msgs[0])
            released += 1
            continue
        spec = by_id.get(wid)
        recipients = sorted({r for m in msgs for r in m.recipients})
        digest = render_digest(
            watch_id=wid,
            label=spec.label if spec else wid,
            parts=[held_alert(m.subject, m.raw) for m in msgs],
            recipients=recipients,
            mail_from=mail_from,
            now=now,
            key="|".join(m.message_id for m in msgs),
            unsubscribe_url=unsubscribe_url,
        )
        session.execute(
            insert_ignore(
                session,
                OutboxMessage,
                {
                    "message_id": digest.message_id,
                    "kind": "digest",
                    "recipients": recipients,
                    "subject": digest.subject,
                    "raw": digest.as_bytes(),
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                },
                conflict=["message_id"],
            )
        )
        for m in msgs:
            m.status = "merged"
            m.last_error = f"sent in digest {digest.message_id}"
            session.add(m)
        released += 1
    session.flush()
    return released


def recent_alerts(session: Session, *, watch_id: str | None = None, limit: int = 50) -> list[Alert]:
    stmt = select(Alert).order_by(Alert.interval_start.desc(), Alert.id.desc()).limit(limit)  # type: ignore[attr-defined,union-attr]
    if watch_id:
        stmt = stmt.where(Alert.watch_id == watch_id)
    return list(session.exec(stmt).all())


__all__ = [
    "backfill_mentions",
    "evaluate_watches",
    "record_mentions",
    "recent_alerts",
    "release_held",
    "story_key",
]
