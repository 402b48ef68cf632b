"""Run Alembic migrations programmatically against a database URL (used by the CLI and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    # ConfigParser treats % as interpolation; escape it so passwords with % survive.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise if the models and the migrated schema differ (alembic check)."""
    command.check(alembic_config(url))
