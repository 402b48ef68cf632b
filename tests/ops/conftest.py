"""Operations fixtures: a password-protected redis-server, a SQLite store and a real worker process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.db import create_all, make_engine
from tests.servers import RedisServer, start_newswatch, stop_group, wait_for_output

REDIS_PASSWORD = "redis-Pw-7f3k2"  # noqa: S105 - a throwaway test secret we check never leaks
FLOWER_AUTH = "ops:flower-Pw-9q1z"


@dataclass
class Stack:
    redis: RedisServer
    env: dict[str, str]
    database_url: str
    tmp: Path
    worker: subprocess.Popen[bytes]
    worker_log: Path

    @property
    def broker_url(self) -> str:
        return self.redis.url


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "FLOWER_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(NEWSWATCH_DATA_DIR=str(tmp / "data"), PYTHONUNBUFFERED="1")
    return env


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start_newswatch(args, env, log)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    stop_group(proc, timeout=20)


@pytest.fixture(scope="session")
def ops_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("ops")
    redis = RedisServer(password=REDIS_PASSWORD).start()
    database_url = f"sqlite:///{tmp / 'newswatch.db'}"
    engine = make_engine(database_url)
    create_all(engine)
    engine.dispose()
    env = base_env(tmp) | {
        "NEWSWATCH_BROKER_URL": redis.url,
        "NEWSWATCH_DATABASE_URL": database_url,
        "NEWSWATCH_SMTP_URL": "smtp://mailer:smtp-Pw-5h8u@127.0.0.1:1025",
    }
    log = tmp / "worker.log"
    worker = start_process(
        ["worker", "-Q", "feeds,articles,alerts", "--concurrency", "1", "--loglevel", "INFO"],
        env,
        log,
    )
    stack = Stack(redis, env, database_url, tmp, worker, log)
    try:
        wait_for_output(log, "ready", timeout=60, what="worker ready", proc=worker)
        yield stack
    finally:
        stop_process(worker)
        redis.cleanup()


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run a `newswatch` command in this process (no interpreter start-up) with a clean env."""
    from typer.testing import CliRunner

    from workers import runtime
    from workers.cli import app

    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("NEWSWATCH_")}
    runtime.reset()  # settings and engines are cached per process
    try:
        result = CliRunner().invoke(app, args, env=cleared | dict(env))
    finally:
        runtime.reset()
    return result.exit_code, result.output
