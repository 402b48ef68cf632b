"""Engines and sessions for SQLite (WAL, busy timeout) and PostgreSQL, plus dialect-aware upserts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "connect")
        def _unicode_lower(dbapi_conn: Any, _record: Any) -> None:
            # SQLite's own lower() folds ASCII only, so a case-insensitive search for "москва"
            # missed "Москва"; PostgreSQL's is Unicode-aware already.
            dbapi_conn.create_function("lower", 1, _lower, deterministic=True)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on the busy
            # timeout instead of one failing with "database is locked" on lock upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine, "connect")
        def _no_pysqlite_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)


def create_all(engine: Engine) -> None:
    """Create tables directly (tests and the demo); production uses `newswatch db upgrade`."""
    import storage.models  # noqa: F401  (registers the tables)

    SQLModel.metadata.create_all(engine)
    # The tables now have the models' newest shape: say so in alembic's own table, or a later
    # `newswatch db upgrade` would try to create them again and `health db` would call the
    # schema unmigrated. A database alembic already manages is left as it is.
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from storage.migrate import ALEMBIC_DIR

    with engine.begin() as conn:
        context = MigrationContext.configure(conn)
        if context.get_current_revision() is None:
            context.stamp(ScriptDirectory(str(ALEMBIC_DIR)), "head")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_ignore(
    engine_or_session: Any,
    model: type[SQLModel],
    values: dict[str, Any] | list[dict[str, Any]],
    *,
    conflict: list[str] | None = None,
) -> Any:
    """Build `INSERT … ON CONFLICT DO NOTHING` for the session's dialect (idempotent writes)."""
    bind = (
        engine_or_session.get_bind()
        if hasattr(engine_or_session, "get_bind")
        else engine_or_session
    )
    table = model.__table__  # type: ignore[attr-defined]
    stmt: Any
    if bind.dialect.name == "postgresql":
        stmt = pg_insert(table).values(values)
    else:
        stmt = sqlite_insert(table).values(values)
    return (
        stmt.on_conflict_do_nothing(index_elements=conflict)
        if conflict
        else stmt.on_conflict_do_nothing()
    )


def is_transient_db_error(exc: BaseException) -> bool:
    """True for errors worth retrying: locks, dropped connections, server restarts."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        return True
    text = str(exc).lower()
    return any(
        s in text for s in ("database is locked", "connection", "server closed", "terminating")
    )


def with_db_retry(fn: Callable[[], T], *, attempts: int = 5, base_delay: float = 0.5) -> T:
    """Run fn, retrying transient database errors with a growing pause."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not is_transient_db_error(exc):
                raise
            time.sleep(base_delay * attempt)
    raise AssertionError("unreachable")
