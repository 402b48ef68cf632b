"""Heartbeats of process roles, and database connectivity, for health checks and status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.db import session_scope
from storage.models import Heartbeat


def record_heartbeat(
    engine: Engine, *, name: str, now: datetime, info: dict[str, Any] | None = None
) -> None:
    with session_scope(engine) as session:
        row = session.get(Heartbeat, name)
        if row is None:
            row = Heartbeat(name=name, at=now, info=info or {})
        else:
            row.at = now
            row.info = info or row.info
        session.add(row)


def last_heartbeat(engine: Engine, *, name: str) -> datetime | None:
    with Session(engine) as session:
        row = session.get(Heartbeat, name)
        return row.at if row else None


def database_ok(engine: Engine) -> tuple[bool, str]:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True, "ok"
    except Exception as exc:  # report, never raise: this is a probe
        return False, type(exc).__name__
