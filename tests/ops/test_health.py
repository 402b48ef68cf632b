"""Health probes and `newswatch status` against a real Redis and a real worker process."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from celery import Celery
from rich.console import Console
from sqlalchemy import create_engine

from storage.db import create_all, make_engine
from storage.health import last_heartbeat, record_heartbeat
from tests.conftest import run_cli, wait_for
from tests.ops.conftest import Stack, invoke
from tests.servers import free_port
from workers import health as health_probes
from workers import runtime
from workers.settings import Settings
from workers.status import render


def health(stack: Stack, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = run_cli(["health", *args], env or stack.env, check=False, timeout=90)
    return proc.returncode, proc.stdout + proc.stderr


def settings_for(stack: Stack, **overrides: str) -> Settings:
    runtime.reset()  # cached Redis clients and engines belong to the previous settings
    values = {"broker_url": stack.broker_url, "database_url": stack.database_url} | overrides
    return Settings(data_dir=stack.tmp / "data", **values)


def probe_worker(stack: Stack, queues: list[str], timeout: float) -> health_probes.Probe:
    sender = Celery(broker=stack.broker_url)
    try:
        return health_probes.check_worker(
            settings_for(stack), sender, queues=queues, timeout=timeout
        )
    finally:
        sender.close()
        runtime.reset()


def test_worker_probe_catches_a_worker_that_answers_ping_but_does_not_consume(
    ops_stack: Stack,
) -> None:
    probe = probe_worker(ops_stack, ["feeds", "articles", "alerts"], timeout=20)
    assert probe.ok and "feeds, articles, alerts" in probe.message, probe

    control = Celery(broker=ops_stack.broker_url)
    try:
        control.control.cancel_consumer("alerts", reply=True, timeout=5)
        # The broadcast still works: a ping-only check would call this worker healthy.
        assert control.control.inspect(timeout=3).ping()
        code, out = health(ops_stack, "worker", "--timeout", "4")
        assert code == 1, out
        assert "unhealthy" in out and out.rstrip().endswith("alerts"), out
        probe = probe_worker(ops_stack, ["feeds", "articles"], timeout=20)
        assert probe.ok, probe
    finally:
        control.control.add_consumer("alerts", reply=True, timeout=5)
        control.close()
    assert probe_worker(ops_stack, ["alerts"], timeout=20).ok

    # After a Redis restart the worker reconnects and consumes again.
    ops_stack.redis.restart()
    wait_for(
        lambda: probe_worker(ops_stack, ["feeds", "articles", "alerts"], timeout=5).ok,
        timeout=90,
        interval=1,
        what="worker consuming after the Redis restart",
    )


def test_busy_queue_counts_as_consuming_when_other_tasks_start(ops_stack: Stack) -> None:
    settings = settings_for(ops_stack)
    client = runtime.redis_client(settings)
    assert client is not None
    # A backlog ahead of the probe: the mark another task left after the probe started is enough.
    started = time.time()
    client.set(health_probes.CONSUMED_KEY.format(queue="articles"), f"{started + 1:.3f}")
    assert health_probes._consumed_since(settings, "articles", started) is not None
    assert health_probes._consumed_since(settings, "articles", started + 5) is None
    runtime.reset()


def test_beat_db_and_redis_probes(ops_stack: Stack, tmp_path: Path) -> None:
    engine = make_engine(ops_stack.database_url)
    try:
        record_heartbeat(engine, name="beat", now=datetime.now(UTC) - timedelta(minutes=10))
        probe = health_probes.check_beat(engine, now=datetime.now(UTC))
        assert not probe.ok and "old" in probe.message
        before = last_heartbeat(engine, name="beat")
        sender = Celery(broker=ops_stack.broker_url)
        sender.send_task("newswatch.heartbeat", queue="alerts")
        sender.close()
        wait_for(
            lambda: last_heartbeat(engine, name="beat") != before, timeout=30, what="heartbeat"
        )
        assert health_probes.check_beat(engine, now=datetime.now(UTC)).ok
        late = datetime.now(UTC) + timedelta(minutes=5)
        assert not health_probes.check_beat(engine, now=late).ok
    finally:
        engine.dispose()

    db_engine = make_engine(ops_stack.database_url)
    assert health_probes.check_db(db_engine).ok
    db_engine.dispose()
    (tmp_path / "no").write_text("a file where a directory should be")
    bad_engine = create_engine(f"sqlite:///{tmp_path}/no/x.db")
    probe = health_probes.check_db(bad_engine)
    assert not probe.ok and f"no database at {tmp_path}/no/x.db;" in probe.message
    (tmp_path / "garbage.db").write_bytes(b"not a database " * 100)
    probe = health_probes.check_db(create_engine(f"sqlite:///{tmp_path}/garbage.db"))
    assert not probe.ok and "DatabaseError" in probe.message

    assert health_probes.check_redis(settings_for(ops_stack)).ok
    dead = settings_for(ops_stack, broker_url=f"redis://:pw-dead@127.0.0.1:{free_port()}/0")
    probe = health_probes.check_redis(dead)
    assert not probe.ok and "pw-dead" not in probe.message
    runtime.reset()
    embedded = Settings(data_dir=tmp_path, database_url=ops_stack.database_url)
    assert "embedded" in health_probes.check_redis(embedded).message


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
    console = Console(record=True, width=100)
    render(data, console)
    table = console.export_text()
    assert "newswatch status" in table and "queues" in table and "last hour" in table
    assert "copies linked" in table  # what the figure is: not the demo's duplicates_merged
    assert data["workers"][0]["name"] in table


def test_status_on_an_unmigrated_database_says_so(tmp_path: Path) -> None:
    env = {
        "NEWSWATCH_DATA_DIR": str(tmp_path),
        "NEWSWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
    }
    code, out = invoke(["status"], env)
    assert code == 2
    assert "db upgrade" in out


def test_status_without_a_database_says_so_and_creates_none(tmp_path: Path) -> None:
    code, out = invoke(["status"], {"NEWSWATCH_DATA_DIR": str(tmp_path / "data")})
    assert code == 2
    assert f"no database at {tmp_path / 'data' / 'newswatch.db'}" in out
    assert not (tmp_path / "data" / "newswatch.db").exists()  # it used to leave an empty one


def test_status_on_the_embedded_default_uses_heartbeats(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'nw.db'}"
    engine = make_engine(db_url)
    create_all(engine)
    record_heartbeat(engine, name="beat", now=datetime.now(UTC) - timedelta(seconds=5))
    engine.dispose()
    code, out = invoke(
        ["status", "--format", "json"],
        {"NEWSWATCH_DATA_DIR": str(tmp_path), "NEWSWATCH_DATABASE_URL": db_url},
    )
    assert code == 0, out
    data = json.loads(out)
    assert data["broker"] == "embedded" and "heartbeats" in data["workers_source"]
    assert [h["name"] for h in data["heartbeats"]] == ["beat"]
    assert data["problems"] == []
    assert data["queues"] == {"feeds": 0, "articles": 0, "alerts": 0}
