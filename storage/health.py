"""Heartbeats of process roles, and database connectivity, for health checks and status."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.db import session_scope
from storage.migrate import ALEMBIC_DIR
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


def missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist yet (connecting would create it empty)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return None if Path(path).exists() else Path(path)


def missing_database(url: str) -> str | None:
    """Why the database of `url` cannot be opened without creating it, or None."""
    missing = missing_sqlite_file(url)
    if missing is None:
        return None
    return f"no database at {missing}; `newswatch db upgrade` (or `newswatch run`) creates it"


def database_ok(engine: Engine) -> tuple[bool, str]:
    """Whether the database answers and its schema is at the newest migration; a probe, so it
    never raises, and never creates a SQLite file that is not there."""
    missing = missing_database(engine.url.render_as_string(hide_password=True))
    if missing is not None:
        return False, missing
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:  # report, never raise: this is a probe
        return False, type(exc).__name__
    heads = set(ScriptDirectory(str(ALEMBIC_DIR)).get_heads())
    if current is None:
        return False, "the schema was never migrated; run `newswatch db upgrade`"
    if current not in heads:
        return False, (
            f"the schema is at migration {current}, not the newest ({', '.join(sorted(heads))}); "
            "run `newswatch db upgrade`"
        )
    return True, "ok"
