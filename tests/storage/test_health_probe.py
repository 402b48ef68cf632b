"""`health db` passes only for a database that answers and is at the newest migration, and the
probe never leaves an empty SQLite file behind where there was none."""

from __future__ import annotations

from pathlib import Path

from storage.db import create_all, make_engine
from storage.health import database_ok
from storage.migrate import downgrade, upgrade


def test_a_missing_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "newswatch.db"
    engine = make_engine(f"sqlite:///{path}")
    ok, message = database_ok(engine)
    engine.dispose()
    assert not ok
    assert message == (
        f"no database at {path}; `newswatch db upgrade` (or `newswatch run`) creates it"
    )
    assert not path.exists()


def test_the_schema_must_be_migrated_to_the_newest_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    engine = make_engine(url)
    try:
        with engine.connect():
            pass  # an empty database file, as a stray connection leaves it
        assert database_ok(engine) == (
            False,
            "the schema was never migrated; run `newswatch db upgrade`",
        )
        upgrade(url)
        assert database_ok(engine) == (True, "ok")
        downgrade(url, "base")
        assert not database_ok(engine)[0]
    finally:
        engine.dispose()


def test_tables_created_from_the_models_count_as_the_newest_migration(tmp_path: Path) -> None:
    """The demo and tests create tables from the models; a later `db upgrade` must accept them."""
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    engine = make_engine(url)
    try:
        create_all(engine)
        assert database_ok(engine) == (True, "ok")
        upgrade(url)  # used to fail: it tried to create the tables again
        assert database_ok(engine) == (True, "ok")
    finally:
        engine.dispose()
