"""Outbox delivery: SMTP (smtp://, STARTTLS, smtps://) or .eml files, retried, sent once."""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import SMTP as SMTP_POLICY
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.smtp_target import SmtpTarget
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0
LEASE = timedelta(minutes=10)  # a "sending" row older than this is presumed crashed
MAX_TEMP_ATTEMPTS = 12
BATCH = 100


@dataclass
class DeliveryReport:
    sent: int = 0
    written: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0  # SMTP unreachable: kept pending

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _Outcome:
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    DOWN = "down"


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, capped at an hour."""
    return timedelta(seconds=min(3600, 60 * 2 ** max(0, attempts - 1)))


def _session(bind: Any) -> Session:
    # Each step commits on its own short session: the lease must be visible to other senders
    # before SMTP is contacted. A Session argument lends its engine.
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return Session(engine, expire_on_commit=False)


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _claim(bind: Any, row_id: int, now: datetime) -> bool:
    """Atomically move a due row to "sending" (a lease); False if someone else has it."""
    with _session(bind) as s:
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)  # type: ignore[arg-type]
            .where(
                or_(
                    (OutboxMessage.status == "pending")  # type: ignore[arg-type]
                    & (
                        OutboxMessage.next_attempt_at.is_(None)  # type: ignore[union-attr]
                        | (OutboxMessage.next_attempt_at <= now)  # type: ignore[operator]
                    ),
                    (OutboxMessage.status == "sending")  # type: ignore[arg-type]
                    & (OutboxMessage.next_attempt_at <= now),  # type: ignore[operator]
                )
            )
            .values(
                status="sending",
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + LEASE,
            )
        )
        res = s.execute(stmt)
        s.commit()
        return (getattr(res, "rowcount", 0) or 0) == 1


def _finish(bind: Any, row_id: int, **values: Any) -> None:
    with _session(bind) as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))  # type: ignore[arg-type]
        s.commit()


def _safe_name(message_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", message_id.strip("<>"))[:200] or "message"


def write_eml(outbox_dir: Path, message_id: str, raw: bytes) -> Path:
    """Write `<message-id>.eml` atomically; rewriting the same message is harmless."""
    outbox_dir.mkdir(parents=True, exist_ok=True)
    path = outbox_dir / f"{_safe_name(message_id)}.eml"
    fd, tmp = tempfile.mkstemp(prefix=".eml-", dir=outbox_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _envelope_from(raw: bytes) -> str:
    headers = BytesParser(policy=SMTP_POLICY).parsebytes(raw, headersonly=True)
    addr = parseaddr(str(headers.get("From", "")))[1]
    return addr or "newswatch@localhost"


def _smtp_send(
    target: SmtpTarget, sender: str, recipients: list[str], raw: bytes
) -> tuple[str, str, list[str] | None]:
    """One SMTP transaction; returns (outcome, error text, recipients still to send to when
    only some were refused for now). Never logs the password."""
    try:
        if target.ssl:
            ctx = ssl.create_default_context()
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=SMTP_TIMEOUT, context=ctx
            )
        else:
            conn = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
    except (OSError, smtplib.SMTPException) as exc:
        return _Outcome.DOWN, f"connect {target.describe()}: {type(exc).__name__}: {exc}", None
    try:
        conn.ehlo_or_helo_if_needed()
        if target.starttls:
            conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
        if target.username:
            conn.login(target.username, target.password or "")
        refused = conn.sendmail(sender, recipients, raw)
        if refused:
            # The others have it. A recipient refused for now (greylisting, a full mailbox)
            # is tried again alone; one refused for good is recorded.
            later = sorted(r for r, (code, _) in refused.items() if 400 <= code < 500)
            never = sorted(r for r, (code, _) in refused.items() if not 400 <= code < 500)
            text = f"delivered to {len(recipients) - len(refused)} of {len(recipients)}"
            text += f"; refused for now: {later}" if later else ""
            text += f"; refused: {never}" if never else ""
            return (_Outcome.RETRY if later else _Outcome.SENT), text, later or None
        return _Outcome.SENT, "", None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [c for c, _ in exc.recipients.values()]
        temp = any(400 <= c < 500 for c in codes)
        return (_Outcome.RETRY if temp else _Outcome.FAILED), f"recipients refused: {codes}", None
    except smtplib.SMTPAuthenticationError as exc:
        return _Outcome.FAILED, f"authentication failed ({exc.smtp_code})", None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        outcome = _Outcome.RETRY if 400 <= exc.smtp_code < 500 else _Outcome.FAILED
        return outcome, f"{exc.smtp_code} {text[:300]}", None
    except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
        return _Outcome.DOWN, f"{type(exc).__name__}: {exc}", None
    except (UnicodeError, ValueError) as exc:
        # e.g. a non-ASCII address: smtplib speaks ASCII, and no retry changes that.
        return _Outcome.FAILED, f"message cannot be sent as is: {type(exc).__name__}", None
    except smtplib.SMTPException as exc:
        return _Outcome.RETRY, f"{type(exc).__name__}: {exc}", None
    finally:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


def deliver_one(
    bind: Engine | Session,
    outbox_id: int,
    *,
    smtp_url: str | None,
    outbox_dir: Path,
    now: datetime | None = None,
    report: DeliveryReport | None = None,
) -> str:
    """Deliver one outbox row if it is due; returns its resulting status (or "skipped")."""
    now = now or datetime.now(UTC)
    report = report if report is not None else DeliveryReport()
    # A bad URL is a configuration error, raised before any row is claimed: it must not use up
    # (and finally fail) the messages' attempts.
    target = SmtpTarget.parse(smtp_url) if smtp_url else None
    if not _claim(bind, outbox_id, now):
        return "skipped"
    with _session(bind) as s:
        row = s.get(OutboxMessage, outbox_id)
        if row is None:
            return "skipped"
        message_id, raw, recipients, attempts = (
            row.message_id,
            row.raw,
            list(row.recipients),
            row.attempts,
        )
    try:
        if target is None:
            write_eml(Path(outbox_dir), message_id, raw)
            _finish(
                bind, outbox_id, status="sent", sent_at=now, next_attempt_at=None, last_error=None
            )
            report.written += 1
            return "sent"
        outcome, error, remaining = _smtp_send(target, _envelope_from(raw), recipients, raw)
    except Exception as exc:  # noqa: BLE001 - one bad row must not stall the outbox
        # Only the type: a driver or library message may carry too much. Retried with backoff
        # and failed after MAX_TEMP_ATTEMPTS like any temporary error, instead of sitting in
        # "sending" and being re-claimed forever.
        outcome, error, remaining = _Outcome.RETRY, f"delivery error: {type(exc).__name__}", None
    if remaining is not None:
        # Only these are tried again: the others already have the message.
        _finish(bind, outbox_id, recipients=remaining)
    if outcome == _Outcome.SENT and error:
        log.warning("alert email %s: %s", message_id, error)
    if outcome == _Outcome.SENT:
        _finish(
            bind,
            outbox_id,
            status="sent",
            sent_at=now,
            next_attempt_at=None,
            last_error=error or None,
        )
        report.sent += 1
        return "sent"
    if outcome == _Outcome.FAILED or (outcome == _Outcome.RETRY and attempts >= MAX_TEMP_ATTEMPTS):
        _finish(bind, outbox_id, status="failed", next_attempt_at=None, last_error=error)
        report.failed += 1
        log.warning("alert email %s failed permanently: %s", message_id, error)
        return "failed"
    _finish(
        bind, outbox_id, status="pending", next_attempt_at=now + backoff(attempts), last_error=error
    )
    if outcome == _Outcome.DOWN:
        report.deferred += 1
    else:
        report.retried += 1
    log.info("alert email %s deferred (%s): %s", message_id, outcome, error)
    return "pending"


def deliver_pending(
    bind: Engine | Session,
    *,
    smtp_url: str | None,
    outbox_dir: Path,
    now: datetime | None = None,
    limit: int = BATCH,
    time_budget: float | None = None,
) -> DeliveryReport:
    """Send every due outbox row (pending and due, or a stale "sending" lease).

    `time_budget` (seconds): no message after the first is started past it; the rest wait for
    the next run. A caller with a time limit passes what leaves room for one more SMTP exchange, so the
    limit never interrupts a message between the server's acceptance and the row's update
    (that message would be sent again).
    """
    started = time.monotonic()
    now = now or datetime.now(UTC)
    report = DeliveryReport()
    if smtp_url:
        SmtpTarget.parse(smtp_url)  # a bad URL stops here, before any row is claimed
    with _session(bind) as s:
        ids = s.exec(
            select(OutboxMessage.id)
            .where(OutboxMessage.status.in_(("pending", "sending")))  # type: ignore[attr-defined]
            .where(
                OutboxMessage.next_attempt_at.is_(None)  # type: ignore[union-attr]
                | (OutboxMessage.next_attempt_at <= now)  # type: ignore[operator]
            )
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
            .limit(limit)
        ).all()
    for n, row_id in enumerate(ids):
        # The first message always goes: a budget below one exchange must not stop delivery.
        if n and time_budget is not None and time.monotonic() - started >= time_budget:
            break
        status = deliver_one(
            bind, int(row_id or 0), smtp_url=smtp_url, outbox_dir=outbox_dir, now=now, report=report
        )
        if status == "pending" and report.deferred:
            break  # the server is down: the rest would fail the same way
    return report
