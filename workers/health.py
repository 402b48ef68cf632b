"""Health probes for compose healthchecks: worker consumption, beat heartbeat, database, Redis."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from workers import runtime
from workers.settings import Settings

# No Celery import here: `health db|beat|redis` must start fast. The worker-side ping task and
# consumption mark live in workers.health_tasks; check_worker is handed the Celery app.
PING_TASK = "newswatch.health_ping"
PING_KEY = "newswatch:health:ping:{queue}"
CONSUMED_KEY = "newswatch:health:consumed:{queue}"
BEAT_MAX_AGE = timedelta(seconds=90)  # the heartbeat task runs every 30 s; allow two misses


@dataclass(frozen=True)
class Probe:
    ok: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message}


def _utc(value: datetime) -> datetime:
    # SQLite gives naive datetimes back; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _ping_returned(settings: Settings, queue: str, token: str) -> bool:
    client = runtime.redis_client(settings)
    if client is not None:
        value = client.get(PING_KEY.format(queue=queue))
        return value is not None and value.decode() == token
    from sqlmodel import Session

    from storage.models import Heartbeat

    with Session(runtime.get_engine(settings)) as session:
        row = session.get(Heartbeat, f"health:{queue}"[:128])
        return row is not None and (row.info or {}).get("token") == token


def _consumed_since(settings: Settings, queue: str, since: float) -> float | None:
    """Wall time a task from this queue last started, if that was after `since` (Redis only)."""
    client = runtime.redis_client(settings)
    if client is None:
        return None
    value = client.get(CONSUMED_KEY.format(queue=queue))
    if value is None or float(value) < since:
        return None
    return float(value)


def check_worker(
    settings: Settings,
    celery_app: Any,
    *,
    queues: list[str],
    timeout: float = 10.0,
) -> Probe:
    """Send a ping task through every queue and wait for a worker to run each one.

    Unlike a broadcast `inspect().ping()`, which a worker still answers after its task consumer
    died on a Redis reconnect, this proves that messages on the queues are being consumed. A
    probe stuck behind a backlog still passes when other tasks of its queue started meanwhile.
    """
    started = time.time()
    tokens = {q: secrets.token_hex(8) for q in queues}
    try:
        for queue, token in tokens.items():
            celery_app.send_task(
                PING_TASK,
                args=[token, queue],
                queue=queue,
                expires=timeout + 30,  # a ping nobody took in time is dropped, not run later
                retry=False,
            )
    except Exception as exc:
        return Probe(False, f"cannot publish to the broker: {type(exc).__name__}")
    waiting = set(queues)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for queue in list(waiting):
            try:
                if _ping_returned(settings, queue, tokens[queue]):
                    waiting.discard(queue)
            except Exception as exc:
                return Probe(False, f"cannot read the probe's answer: {type(exc).__name__}")
        if waiting:
            time.sleep(0.2)
    if not waiting:
        return Probe(True, f"queues consumed: {', '.join(queues)}")
    try:
        busy = {q: _consumed_since(settings, q, started) for q in waiting}
    except Exception as exc:
        return Probe(False, f"cannot read consumption marks: {type(exc).__name__}")
    stuck = sorted(q for q, at in busy.items() if at is None)
    if not stuck:
        return Probe(
            True, f"busy but consuming (probe behind a backlog): {', '.join(sorted(busy))}"
        )
    return Probe(False, f"no worker consumed within {timeout:g}s: {', '.join(stuck)}")


def check_beat(engine: Any, *, now: datetime, max_age: timedelta = BEAT_MAX_AGE) -> Probe:
    from storage.health import last_heartbeat

    try:
        at = last_heartbeat(engine, name="beat")
    except Exception as exc:
        return Probe(False, f"cannot read heartbeat: {type(exc).__name__}")
    if at is None:
        return Probe(False, "no beat heartbeat recorded yet")
    age = (now - _utc(at)).total_seconds()
    if age > max_age.total_seconds():
        return Probe(
            False, f"beat heartbeat is {age:.0f}s old (limit {max_age.total_seconds():.0f}s)"
        )
    return Probe(True, f"beat heartbeat {age:.0f}s ago")


def check_db(engine: Any) -> Probe:
    from storage.health import database_ok

    ok, message = database_ok(engine)
    return Probe(ok, "database answers" if ok else f"database error: {message}")


def check_redis(settings: Settings) -> Probe:
    if settings.embedded_broker:
        return Probe(False, "no Redis configured: the broker is the embedded SQLite default")
    client = runtime.redis_client(settings)
    if client is None:
        return Probe(False, "the broker is not a Redis URL")
    try:
        client.ping()
    except Exception as exc:
        return Probe(False, f"redis error: {type(exc).__name__}")
    return Probe(True, "redis answers PING")
