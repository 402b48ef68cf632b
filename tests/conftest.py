"""Shared fixtures: real redis-server and PostgreSQL servers, the local outlet farm, CLI environments."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# REPO and NEWSWATCH are defined once, in tests/servers.py; many tests import them from here.
from tests.servers import NEWSWATCH, REPO, RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> str:
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    from tests.pgserver import PostgresServer

    server = PostgresServer().start()
    yield server.url
    server.stop()


@pytest.fixture()
def postgres_db(postgres_server_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    import psycopg

    name = f"t_{abs(hash(request.node.nodeid)) % 10**10}_{int(time.time() * 1000) % 10**6}"
    admin = postgres_server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture()
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Parametrise a test with indirect=["database_url"] and values "sqlite" / "postgres"."""
    kind = getattr(request, "param", "sqlite")
    if kind == "postgres":
        return str(request.getfixturevalue("postgres_db"))
    return f"sqlite:///{tmp_path / 'newswatch.db'}"


@pytest.fixture()
def farm() -> Iterator[Any]:
    from workers.demo.farm import Farm

    with Farm() as running:
        yield running


@pytest.fixture()
def nw_env(tmp_path: Path, farm: Any) -> dict[str, str]:
    """Environment for newswatch subprocesses pointed at the farm, with a private data dir."""
    data = tmp_path / "data"
    data.mkdir()
    outlets = farm.outlets_dir(tmp_path / "outlets")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        NEWSWATCH_DATA_DIR=str(data),
        NEWSWATCH_OUTLETS_DIR=str(outlets),
        NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
        NEWSWATCH_PER_HOST_SPACING="0",
        NEWSWATCH_PER_HOST_CONCURRENCY="8",
        NEWSWATCH_DISPATCH_INTERVAL_SECONDS="1",
        NEWSWATCH_WORKER_CONCURRENCY="2",
        NEWSWATCH_POLL_FLOOR_SECONDS="60",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_cli(
    args: list[str], env: dict[str, str], *, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [NEWSWATCH, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"newswatch {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def wait_for(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.5, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@pytest.fixture()
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


# --- a store, a local web server and a client, for feed and page tests ----------------------
# Defined once here; a test directory or module with its own `engine`, `server` or `client`
# (another database, a client that honours robots.txt) overrides them.


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Any]:
    """A fresh SQLite store with the schema."""
    from storage.db import create_all, make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def server() -> Iterator[Any]:
    """A local HTTP server on 127.0.0.1 (tests/fixtures/feeds/localserver.py)."""
    from tests.fixtures.feeds.localserver import LocalServer

    with LocalServer() as srv:
        yield srv


@pytest.fixture()
def client() -> Iterator[Any]:
    """The guarded client, allowed to reach 127.0.0.1, not asking robots.txt."""
    from sources.http import HttpClient

    with HttpClient(
        user_agent="newswatch-test/1.0",
        allowed_networks=["127.0.0.1/32"],
        deadline=5,
        respect_robots=False,
    ) as c:
        yield c
