"""A task message lost after its article was committed: the periodic sweep sends it again, once."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session

from storage.db import make_engine, session_scope
from storage.dedup import ensure_article
from storage.models import Article
from tests.conftest import REPO, run_cli
from workers.metrics import sql_queue_depths


def _article(session: Session, n: int, *, status: str, seen: datetime) -> int:
    url = f"https://example.org/news/{n}.html"
    art = ensure_article(
        session,
        url=url,
        canonical=url,
        url_key=hashlib.sha256(url.encode()).hexdigest(),
        outlet_id="example",
        now=seen,
    )
    session.execute(update(Article).where(Article.id == art.id).values(status=status))
    assert art.id is not None
    return art.id


def _sweep(env: dict[str, str]) -> int:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import workers.celery_app; from workers.tasks import requeue_stalled; print(requeue_stalled())",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def _queued_article_ids(broker_db: Path) -> list[int]:
    """The article ids of the process_article messages waiting in the embedded broker."""
    with sqlite3.connect(broker_db) as conn:
        payloads = [row[0] for row in conn.execute("SELECT payload FROM kombu_message")]
    ids = []
    for raw in payloads:
        message = json.loads(raw)
        assert message["headers"]["task"] == "newswatch.process_article"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(int(args[0]))
    return ids


def test_stalled_pending_article_is_sent_again_only_while_the_queue_is_empty(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(NEWSWATCH_DATA_DIR=str(data), NEWSWATCH_TASK_TIME_LIMIT="60")
    env.update(NEWSWATCH_TASK_SOFT_TIME_LIMIT="50", NEWSWATCH_OUTLETS_DIR=str(tmp_path))
    run_cli(["db", "upgrade"], env)
    engine = make_engine(f"sqlite:///{data / 'newswatch.db'}")
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        lost = _article(s, 1, status="pending", seen=now - timedelta(hours=1))
        _article(s, 2, status="pending", seen=now)  # just announced: its message is on its way
        _article(s, 3, status="stored", seen=now - timedelta(hours=1))
    engine.dispose()

    assert _sweep(env) == 1
    broker = f"sqla+sqlite:///{(data / 'broker.db').resolve()}"
    assert sql_queue_depths(broker, ["articles"])["articles"] == 1
    # The one message is for the article whose task was lost, not for the fresh or stored one.
    assert _queued_article_ids(data / "broker.db") == [lost]
    # The re-sent message is still waiting: a second sweep must not send it again.
    assert _sweep(env) == 0
    assert _queued_article_ids(data / "broker.db") == [lost]
