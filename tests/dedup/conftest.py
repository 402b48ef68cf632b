"""Fixtures of the dedup tests: SQLite engines in tmp_path (PostgreSQL comes from tests/conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import create_all, make_engine


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'news.db'}"


@pytest.fixture
def engine(db_url: str):
    eng = make_engine(db_url)
    create_all(eng)
    yield eng
    eng.dispose()
