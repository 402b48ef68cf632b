"""Articles written straight into a test's migrated SQLite store, with defaults for the fields a
test does not look at."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from storage.db import make_engine
from storage.models import Article


def add_articles(tmp_path: Path, *rows: dict[str, Any]) -> None:
    """Each row's fields over the defaults; the n-th row gets its own URL and hash."""
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}")
    with Session(engine) as session:
        for n, fields in enumerate(rows):
            url = f"https://courier.example/{n}"
            defaults: dict[str, Any] = {
                "outlet_id": "courier",
                "url": url,
                "canonical_url": url,
                "url_hash": f"{n:064d}",
                "status": "stored",
                "body": "",
                "first_seen_at": datetime(2024, 3, 14, tzinfo=UTC),
            }
            session.add(Article(**(defaults | fields)))
        session.commit()
    engine.dispose()
