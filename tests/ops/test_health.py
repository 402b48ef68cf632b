"""Health probes and `newswatch status` against a real Redis and a real worker process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from celery import Celery

from storage.db import make_engine
from storage.health import last_heartbeat, record_heartbeat
from tests.conftest import run_cli, wait_for
from tests.ops.conftest import Stack
from tests.servers import free_port


def health(stack: Stack, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = run_cli(["health", *args], env or stack.env, check=False, timeout=90)
    return proc.returncode, proc.stdout + proc.stderr


def test_worker_probe_catches_a_worker_that_answers_ping_but_does_not_consume(
    ops_stack: Stack,
) -> None:
    code, out = health(ops_stack, "worker", "--timeout", "20")
    assert code == 0, out
    assert "feeds, articles, alerts" in out

    control = Celery(broker=ops_stack.broker_url)
    try:
        control.control.cancel_consumer("alerts", reply=True, timeout=5)
        # The broadcast still works: a ping-only check would call this worker healthy.
        assert control.control.inspect(timeout=3).ping()
        code, out = health(ops_stack, "worker", "--timeout", "4")
        assert code == 1, out
        assert "alerts" in out and "feeds" not in out.split("within")[-1]
        code, out = health(ops_stack, "worker", "-Q", "feeds,articles", "--timeout", "20")
        assert code == 0, out
    finally:
        control.control.add_consumer("alerts", reply=True, timeout=5)
        control.close()
    code, out = health(ops_stack, "worker", "--timeout", "20")
    assert code == 0, out

    # After a Redis restart the worker reconnects and consumes again.
    ops_stack.redis.restart()
    wait_for(
        lambda: health(ops_stack, "worker", "-Q", "alerts", "--timeout", "5")[0] == 0,
        timeout=90,
        interval=1,
        what="worker consuming after the Redis restart",
    )


def test_beat_db_and_redis_probes(ops_stack: Stack, tmp_path: Path) -> None:
    engine = make_engine(ops_stack.database_url)
    try:
        record_heartbeat(engine, name="beat", now=datetime.now(UTC) - timedelta(minutes=10))
        code, out = health(ops_stack, "beat")
        assert code == 1 and "old" in out, out
        before = last_heartbeat(engine, name="beat")
        sender = Celery(broker=ops_stack.broker_url)
        sender.send_task("newswatch.heartbeat", queue="alerts")
        sender.close()
        wait_for(
            lambda: last_heartbeat(engine, name="beat") != before, timeout=30, what="heartbeat"
        )
        code, out = health(ops_stack, "beat")
        assert code == 0, out
    finally:
        engine.dispose()

    assert health(ops_stack, "db")[0] == 0
    broken_db = ops_stack.env | {"NEWSWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/no/such/dir/x.db"}
    (tmp_path / "no").write_text("a file where a directory should be")
    code, out = health(ops_stack, "db", env=broken_db)
    assert code == 1, out

    assert health(ops_stack, "redis")[0] == 0
    dead = ops_stack.env | {"NEWSWATCH_BROKER_URL": f"redis://:pw@127.0.0.1:{free_port()}/0"}
    code, out = health(ops_stack, "redis", env=dead)
    assert code == 1 and "pw@" not in out, out
    code, out = health(ops_stack, "nonsense")
    assert code == 2


def test_status_json_and_table_on_redis(ops_stack: Stack) -> None:
    proc = run_cli(["status", "--format", "json"], ops_stack.env, timeout=90)
    data = json.loads(proc.stdout)
    assert data["broker"] == "redis"
    assert len(data["workers"]) == 1
    assert {"feeds", "articles", "alerts"} <= set(data["workers"][0]["queues"])
    assert set(data["queues"]) == {"feeds", "articles", "alerts"}
    assert set(data["feeds"]) == {"total", "due", "overdue", "failing", "disabled"}
    assert "first_seen_to_stored" in data["last_hour"]["latency_seconds"]
    assert data["degraded_outlets"] == []
    table = run_cli(["status"], ops_stack.env, timeout=90).stdout
    assert "newswatch status" in table and "queues" in table and "last hour" in table
