"""Alembic environment: metadata comes from storage.models; the URL from the caller or the settings."""

from __future__ import annotations

from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import context
from storage.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    # `newswatch db upgrade` and the tests pass the URL in the config (storage/migrate.py).
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    # `alembic` run by hand: the same settings as the CLI (environment and `.env`, validated).
    from workers.settings import get_settings

    return get_settings().effective_database_url


def run_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    url = _url()
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=url.startswith("sqlite"),  # SQLite alters tables by copy
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
