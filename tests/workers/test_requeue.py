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
from tests.fixtures.feeds.localserver import LocalServer
from workers.metrics import sql_queue_depths


def _article(
    session: Session, n: int, *, status: str, seen: datetime, url: str | None = None
) -> int:
    url = url or f"https://example.org/news/{n}.html"
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


def _env(tmp_path: Path, data: Path, **settings: str) -> dict[str, str]:
    """A clean environment on the embedded default in `data`, with these NEWSWATCH_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(NEWSWATCH_DATA_DIR=str(data), NEWSWATCH_OUTLETS_DIR=str(tmp_path))
    env.update({f"NEWSWATCH_{k.upper()}": v for k, v in settings.items()})
    run_cli(["db", "upgrade"], env)
    return env


def _in_worker_env(env: dict[str, str], code: str, *args: str) -> str:
    """The last line `code` prints, run in a fresh interpreter with the app configured by env."""
    out = subprocess.run(
        [sys.executable, "-c", "import sys, workers.celery_app; " + code, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _sweep(env: dict[str, str]) -> int:
    return int(
        _in_worker_env(env, "from workers.tasks import requeue_stalled; print(requeue_stalled())")
    )


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
    env = _env(tmp_path, data, task_time_limit="60", task_soft_time_limit="50")
    engine = make_engine(f"sqlite:///{data / 'newswatch.db'}")
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        lost = _article(s, 1, status="pending", seen=now - timedelta(hours=1))
        _article(s, 2, status="pending", seen=now)  # just announced: its message is on its way
        _article(s, 3, status="stored", seen=now - timedelta(hours=1))
        # Old, but its retry waits inside the worker (invisible to the queue depth), and one
        # whose attempt began a moment ago: neither task is lost.
        waiting = _article(s, 4, status="pending", seen=now - timedelta(hours=1))
        running = _article(s, 5, status="pending", seen=now - timedelta(hours=1))
        s.execute(
            update(Article).where(Article.id == waiting).values(retry_at=now + timedelta(minutes=5))
        )
        s.execute(
            update(Article)
            .where(Article.id == running)
            .values(retry_at=now - timedelta(seconds=10))
        )
    engine.dispose()

    assert _sweep(env) == 1
    broker = f"sqla+sqlite:///{(data / 'broker.db').resolve()}"
    assert sql_queue_depths(broker, ["articles"])["articles"] == 1
    # The one message is for the article whose task was lost, not for the fresh or stored one.
    assert _queued_article_ids(data / "broker.db") == [lost]
    # The re-sent message is still waiting: a second sweep must not send it again.
    assert _sweep(env) == 0
    assert _queued_article_ids(data / "broker.db") == [lost]


def test_a_page_its_hosts_queue_cannot_start_in_time_is_sent_again_without_spending_a_try(
    tmp_path: Path,
) -> None:
    # robots.txt takes the host's turn; the spacing (60 s) then puts the page past its 2 s
    # deadline. The task must neither fail the page nor spend its retries on this: it leaves
    # the attempt uncounted and queues a new task for later.
    data = tmp_path / "data"
    data.mkdir()
    env = _env(
        tmp_path,
        data,
        per_host_spacing="60",
        request_deadline="2",
        allowed_networks="127.0.0.1/32",
    )
    engine = make_engine(f"sqlite:///{data / 'newswatch.db'}")
    with LocalServer() as site:
        site.static("/robots.txt", b"User-agent: *\nAllow: /\n")
        url = site.static("/a.html", b"<html><body><p>text</p></body></html>")
        with session_scope(engine) as s:
            art_id = _article(s, 1, status="pending", seen=datetime.now(UTC), url=url)
        result = _in_worker_env(
            env,
            "from workers.tasks import process_article; "
            "print(process_article.apply(args=(int(sys.argv[1]),)).get())",
            str(art_id),
        )
        assert site.hits("/a.html") == []
    assert "'status': 'deferred'" in result
    with Session(engine) as s:
        row = s.get(Article, art_id)
        assert row is not None and row.status == "pending" and row.attempts == 0
        # the deferral is recorded, so the sweep for lost messages leaves it to its own task
        assert row.retry_at is not None
        assert row.retry_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(seconds=30)
    engine.dispose()
    assert _queued_article_ids(data / "broker.db") == [art_id]
