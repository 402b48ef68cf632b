"""SMTP accepts an alert and the worker dies before recording it: at most one duplicate, same id."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from celery import Celery
from sqlmodel import Session

from alerts.delivery import LEASE, deliver_pending
from alerts.render import ArticleSummary, render_alert
from storage.db import make_engine
from storage.models import OutboxMessage
from tests.conftest import run_cli, wait_for
from tests.reliability.harness import Proc
from tests.reliability.test_security import clean_env
from tests.servers import RedisServer, free_port

pytestmark = pytest.mark.reliability


class KillOnData:
    """An SMTP handler that keeps each message, then SIGKILLs the sender's worker before the 250."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.victim: Proc | None = None
        self.killed = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(bytes(envelope.content))
        if self.victim is not None and not self.killed.is_set():
            os.kill(self.victim.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.victim.pid, signal.SIGKILL)
            self.killed.set()
        return "250 Message accepted for delivery"


def make_outbox_row(url: str) -> int:
    now = datetime.now(UTC)
    rendered = render_alert(
        watch_id="defence",
        label="Defence budget",
        note={"kind": "fired", "mentions": 12, "expected": 2.0, "ratio": 6.0},
        series=[2, 2, 12],
        expected=[2, 2, 2],
        articles=[
            ArticleSummary(title="Budget rises", url="https://a.example/1", outlet="a", time=now)
        ],
        recipients=["analyst@example.org"],
        mail_from="newswatch <newswatch@example.org>",
        interval_start=now.replace(minute=0, second=0, microsecond=0),
        now=now,
    )
    engine = make_engine(url)
    with Session(engine) as s:
        row = OutboxMessage(
            message_id=rendered.message_id,
            recipients=["analyst@example.org"],
            subject=rendered.subject,
            raw=rendered.as_bytes(),
            created_at=now,
        )
        s.add(row)
        s.commit()
        s.refresh(row)
        row_id = int(row.id or 0)
    engine.dispose()
    return row_id


def outbox_row(url: str, row_id: int) -> OutboxMessage:
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            row = s.get(OutboxMessage, row_id)
            assert row is not None
            return row
    finally:
        engine.dispose()


@pytest.mark.timeout(300)
def test_worker_killed_after_smtp_accepts_sends_at_most_one_duplicate(tmp_path: Path) -> None:
    handler = KillOnData()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    broker = RedisServer().start()
    db_url = f"sqlite:///{tmp_path / 'smtp.db'}"
    smtp_url = f"smtp://127.0.0.1:{port}"
    env = clean_env(tmp_path) | {
        "NEWSWATCH_BROKER_URL": broker.url,
        "NEWSWATCH_DATABASE_URL": db_url,
        "NEWSWATCH_SMTP_URL": smtp_url,
    }
    worker: Proc | None = None
    try:
        run_cli(["db", "upgrade"], env)
        row_id = make_outbox_row(db_url)
        worker = Proc(["worker", "-Q", "alerts"], env, tmp_path / "worker.log")
        handler.victim = worker
        wait_for(lambda: "ready" in worker.text(), timeout=90, what="worker ready")
        sender = Celery(broker=broker.url)
        sender.send_task("newswatch.send_alert", args=[row_id], queue="alerts")
        sender.close()
        wait_for(handler.killed.is_set, timeout=90, what="SMTP to accept and the worker to die")
        worker.popen.wait(10)
        row = outbox_row(db_url, row_id)
        assert row.status == "sending" and row.sent_at is None  # delivery was never recorded

        # A new worker does not resend while the lease runs (no duplicate storm) ...
        worker = Proc(["worker", "-Q", "alerts"], env, tmp_path / "worker-2.log")
        handler.victim = None
        wait_for(lambda: "ready" in worker.text(), timeout=90, what="second worker ready")
        sender = Celery(broker=broker.url)
        sender.send_task("newswatch.deliver_outbox", queue="alerts")
        sender.close()
        wait_for(
            lambda: "deliver_outbox" in worker.text() and "succeeded" in worker.text(),
            timeout=60,
            what="deliver_outbox to run",
        )
        assert len(handler.messages) == 1
        # ... and once the lease has expired the periodic delivery sends it again, exactly once.
        later = datetime.now(UTC) + LEASE + timedelta(minutes=1)
        engine = make_engine(db_url)
        first = deliver_pending(engine, smtp_url=smtp_url, outbox_dir=tmp_path / "eml", now=later)
        again = deliver_pending(engine, smtp_url=smtp_url, outbox_dir=tmp_path / "eml", now=later)
        engine.dispose()
        assert first.sent == 1 and again.sent == 0
    finally:
        if worker is not None:
            worker.stop()
        controller.stop()
        broker.cleanup()
    assert len(handler.messages) == 2  # the original and at most one duplicate
    ids = {message_from_bytes(m, policy=default_policy)["Message-ID"] for m in handler.messages}
    assert len(ids) == 1
    assert outbox_row(db_url, row_id).status == "sent"
