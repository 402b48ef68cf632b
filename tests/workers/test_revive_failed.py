"""Articles that failed only because their site was down are tried again after 1 h, 6 h and
24 h; a page that is gone (404) or too slow stays failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session

from storage.db import create_all, make_engine, session_scope
from storage.models import Article
from tests.workers.test_requeue import _article
from workers.pipeline import REVIVE_AFTER, revive_failed

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_transient_failures_are_revived_on_a_schedule_and_then_left(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    create_all(engine)
    cases = {
        "outage": ("gave up after retries: HTTP 503", NOW - timedelta(hours=2), {}),
        "cron": ("transient: read timeout", NOW - timedelta(hours=2), {}),
        "too soon": ("gave up after retries: HTTP 503", NOW - timedelta(minutes=10), {}),
        "gone": ("HTTP 404", NOW - timedelta(days=3), {}),
        "slow": ("time limit exceeded while processing the page", NOW - timedelta(days=3), {}),
        "second wait": (
            "gave up after retries: HTTP 503",
            NOW - timedelta(hours=2),
            {"revived": 1},
        ),
        "given up": ("gave up after retries: HTTP 503", NOW - timedelta(days=9), {"revived": 3}),
    }
    ids = {}
    with session_scope(engine) as s:
        for n, (name, (error, failed_at, extra)) in enumerate(cases.items()):
            ids[name] = _article(s, n, status="failed", seen=NOW - timedelta(days=10))
            s.execute(
                update(Article)
                .where(Article.id == ids[name])
                .values(error=error, retry_at=failed_at, extra=extra)
            )
    assert sorted(revive_failed(engine, now=NOW)) == sorted([ids["outage"], ids["cron"]])
    with Session(engine) as s:
        back = s.get(Article, ids["outage"])
        assert back is not None and (back.status, back.error, back.attempts) == ("pending", None, 0)
        assert back.extra["revived"] == 1
    # nothing more until their waits are over; "second wait" needs 6 h after its failure
    assert revive_failed(engine, now=NOW) == []
    later = revive_failed(engine, now=NOW + REVIVE_AFTER[1])
    assert later == [ids["too soon"], ids["second wait"]]
    engine.dispose()
