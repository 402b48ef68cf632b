"""Housekeeping of the embedded broker (kombu's SQL transport on SQLite), which never deletes
a message it has delivered: it only marks it invisible, so the file grows without end."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

# A delivered message older than this is long finished (acked, or redelivered as a new one).
DELIVERED_KEPT = timedelta(days=1)


def prune_delivered(broker_url: str, *, now: datetime, kept: timedelta = DELIVERED_KEPT) -> int:
    """Delete delivered messages last touched before `now - kept`; returns how many.

    `now` is naive local time, as kombu writes its `timestamp` column (datetime.now()).
    """
    from sqlalchemy import create_engine, text

    url = broker_url.removeprefix("sqla+")
    if not url.startswith("sqlite:///") or not Path(url.removeprefix("sqlite:///")).exists():
        return 0  # not the embedded broker, or no broker file yet (never create one)
    engine = create_engine(url, connect_args={"timeout": 30})
    try:
        with engine.begin() as conn:
            result = conn.execute(
                text("DELETE FROM kombu_message WHERE visible = 0 AND timestamp < :before"),
                {"before": now - kept},
            )
            return int(result.rowcount or 0)
    except Exception as exc:
        if "no such table" in str(exc):
            return 0  # the transport creates its tables lazily
        raise
    finally:
        engine.dispose()
