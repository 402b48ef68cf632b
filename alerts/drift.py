"""Extraction drift alarm: an outlet's recent quality against its own history, raised once by email."""

from __future__ import annotations

import hashlib
import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage.db import insert_ignore, session_scope
from storage.models import OpsEvent, OutboxMessage
from storage.quality import ArticleFigures, outlet_figures, outlets_stored_since, summarize

KIND = "extraction_drift"
RECENT = 20  # articles in the window under test
MIN_RECENT = 10
HISTORY = 200  # articles before the window that form the baseline
MIN_HISTORY = 30
LOOKBACK = timedelta(hours=6)  # outlets with no article stored since then are not re-checked
# A share must move by at least this much *and* by several binomial standard errors.
MIN_SHARE_DROP = 0.35
SHARE_SIGMAS = 3.5
# The recent median body length must be at most this fraction of the baseline's lower quartile
# (outlets mixing briefs and long reads have a bimodal length, so the median alone wobbles) ...
MAX_LENGTH_RATIO = 0.5
# ... and that far below it in robust (median/MAD) standard errors of a median, on a log scale.
LENGTH_SIGMAS = 4.0


@dataclass(frozen=True)
class DriftVerdict:
    """Which figures of a recent window fell well below the baseline, with both sides' values."""

    drifted: bool
    reasons: list[str] = field(default_factory=list)
    baseline: dict[str, float] = field(default_factory=dict)
    recent: dict[str, float] = field(default_factory=dict)


def _share_worse(p_hist: float, p_recent: float, n_recent: int, *, lower_is_worse: bool) -> bool:
    sigma = math.sqrt(max(p_hist * (1 - p_hist), 0.0025) / n_recent)
    margin = max(MIN_SHARE_DROP, SHARE_SIGMAS * sigma)
    return p_recent < p_hist - margin if lower_is_worse else p_recent > p_hist + margin


def _length_worse(history: list[int], recent: list[int]) -> bool:
    h = [math.log1p(x) for x in history]
    r = [math.log1p(x) for x in recent]
    med_h = statistics.median(h)
    mad = statistics.median(abs(x - med_h) for x in h) * 1.4826
    # Standard error of a median is about 1.25 sigma / sqrt(n); a floor keeps a very regular
    # outlet (MAD near 0) from alarming on small wobbles.
    se = 1.253 * max(mad, 0.15) / math.sqrt(len(r))
    med_r = statistics.median(r)
    q25 = statistics.quantiles(history, n=4)[0]
    ratio_ok = math.expm1(med_r) <= MAX_LENGTH_RATIO * q25
    return ratio_ok and med_r < med_h - LENGTH_SIGMAS * se


def compare(history: list[ArticleFigures], recent: list[ArticleFigures]) -> DriftVerdict:
    """Pure: is the recent window well below the history on any quality figure?"""
    if len(history) < MIN_HISTORY or len(recent) < MIN_RECENT:
        return DriftVerdict(False)
    base = summarize(history)
    now = summarize(recent)
    n = len(recent)
    reasons = []
    if _length_worse([f.body_chars for f in history], [f.body_chars for f in recent]):
        reasons.append("body length")
    if _share_worse(base.share_short_body, now.share_short_body, n, lower_is_worse=False):
        reasons.append("short or empty bodies")
    if _share_worse(base.share_with_author, now.share_with_author, n, lower_is_worse=True):
        reasons.append("authors missing")
    if _share_worse(base.share_with_date, now.share_with_date, n, lower_is_worse=True):
        reasons.append("dates missing")
    if _share_worse(base.share_leftover, now.share_leftover, n, lower_is_worse=False):
        reasons.append("leftover comments or boilerplate")
    return DriftVerdict(bool(reasons), reasons, _figures(base), _figures(now))


def _figures(summary: Any) -> dict[str, float]:
    d = summary.as_dict()
    return {k: round(float(v), 3) for k, v in d.items()}


# ---------------------------------------------------------------- email


def message_id(event_subject: str, opened_at: datetime) -> str:
    """Deterministic Message-ID of an event's email, so a retried check queues it only once."""
    key = f"{KIND}|{event_subject}|{opened_at.isoformat()}"
    return f"<ops-{hashlib.sha256(key.encode()).hexdigest()[:32]}@newswatch>"


def render_email(
    *, outlet_id: str, verdict: DriftVerdict, opened_at: datetime, ops_email: str, mail_from: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = ops_email
    msg["Subject"] = f"[newswatch ops] extraction degraded for outlet {outlet_id}"
    msg["Date"] = format_datetime(opened_at)
    msg["Message-ID"] = message_id(outlet_id, opened_at)
    msg["Auto-Submitted"] = "auto-generated"
    lines = [
        f"The articles newswatch extracted from outlet '{outlet_id}' recently are well below",
        "that outlet's own history. A site redesign has probably broken cleaning.",
        "",
        f"Figures that dropped: {', '.join(verdict.reasons)}",
        "",
        f"{'figure':<22} {'history':>10} {'recent':>10}",
    ]
    for key, base in verdict.baseline.items():
        lines.append(f"{key:<22} {base:>10} {verdict.recent.get(key, ''):>10}")
    lines += [
        "",
        f"Opened at {opened_at.isoformat()}. No further email is sent for this event; it closes",
        "by itself once recent articles are back to the outlet's usual figures.",
        f"Inspect with: newswatch articles list --outlet {outlet_id} --limit 20",
        f"After fixing the outlet's cleaning rules: newswatch reclean --outlet {outlet_id}",
    ]
    msg.set_content("\n".join(lines))
    return msg


# ---------------------------------------------------------------- the check


def open_events(engine: Engine, *, kind: str = KIND) -> list[OpsEvent]:
    with Session(engine) as session:
        q = select(OpsEvent).where(OpsEvent.kind == kind, OpsEvent.closed_at.is_(None))  # type: ignore[union-attr]
        return list(session.exec(q.order_by(OpsEvent.subject)).all())


def check_drift(
    engine: Engine,
    *,
    now: datetime,
    ops_email: str,
    mail_from: str,
    outlets: list[str] | None = None,
) -> list[OpsEvent]:
    """Open an event (and queue one ops email) per newly drifted outlet; close recovered ones.

    Returns the events opened or closed by this call. While an event is open its baseline is
    frozen to the articles stored before it opened, so a broken outlet cannot become its own
    history and "recover" without a fix.
    """
    if outlets is None:
        outlets = outlets_stored_since(engine, since=now - LOOKBACK)
    current = {e.subject: e for e in open_events(engine)}
    changed: list[OpsEvent] = []
    for outlet_id in outlets:
        event = current.get(outlet_id)
        if event is None:
            # One bounded query: the newest RECENT articles are the window, the rest its history.
            figures = outlet_figures(engine, outlet_id=outlet_id, limit=HISTORY + RECENT)
            verdict = compare(figures[RECENT:], figures[:RECENT])
            if verdict.drifted:
                changed.append(
                    _open(
                        engine,
                        outlet_id,
                        verdict,
                        now=now,
                        ops_email=ops_email,
                        mail_from=mail_from,
                    )
                )
            continue
        history = outlet_figures(engine, outlet_id=outlet_id, limit=HISTORY, before=event.opened_at)
        # Recovery needs a full window stored after the event opened, judged on the frozen history.
        after = outlet_figures(engine, outlet_id=outlet_id, limit=RECENT, since=event.opened_at)
        if len(after) >= MIN_RECENT and not compare(history, after).drifted:
            changed.append(_close(engine, event, now=now))
    return changed


def _open(
    engine: Engine,
    outlet_id: str,
    verdict: DriftVerdict,
    *,
    now: datetime,
    ops_email: str,
    mail_from: str,
) -> OpsEvent:
    details: dict[str, Any] = {
        "reasons": verdict.reasons,
        "baseline": verdict.baseline,
        "recent": verdict.recent,
        "emailed": bool(ops_email),
    }
    with session_scope(engine) as session:
        event = OpsEvent(kind=KIND, subject=outlet_id, opened_at=now, details=details)
        session.add(event)
        if ops_email:
            msg = render_email(
                outlet_id=outlet_id,
                verdict=verdict,
                opened_at=now,
                ops_email=ops_email,
                mail_from=mail_from,
            )
            session.execute(
                insert_ignore(
                    session,
                    OutboxMessage,
                    {
                        "message_id": msg["Message-ID"],
                        "kind": "ops",
                        "recipients": [ops_email],
                        "subject": str(msg["Subject"]),
                        "raw": msg.as_bytes(),
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    },
                    conflict=["message_id"],
                )
            )
        session.flush()
        session.refresh(event)
    return event


def _close(engine: Engine, event: OpsEvent, *, now: datetime) -> OpsEvent:
    with session_scope(engine) as session:
        row = session.get(OpsEvent, event.id)
        assert row is not None
        row.closed_at = now
        session.add(row)
        session.flush()
        session.refresh(row)
    return row
