"""Fixtures of the reliability suite: a farm of ≥ 500 articles, private Redis and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.harness import FAST_LIMITS, RestartablePostgres
from tests.servers import RedisServer


@pytest.fixture()
def big_farm() -> Iterator[Any]:
    """The demo outlets plus 19 generated feeds × 25 articles: just over 500 articles."""
    from workers.demo.farm import Farm

    with Farm(generated_feeds=19, articles_per_feed=25) as running:
        yield running


@pytest.fixture()
def own_redis() -> Iterator[RedisServer]:
    """A private redis-server with AOF on, so restarting it disturbs no other test."""
    server = RedisServer(appendonly=True).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[RestartablePostgres]:
    server = RestartablePostgres()
    server.start()
    yield server
    server.stop()


def base_env(tmp_path: Path, farm: Any) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    outlets = farm.outlets_dir(tmp_path / "outlets")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(FAST_LIMITS)
    env.update(
        NEWSWATCH_DATA_DIR=str(data),
        NEWSWATCH_OUTLETS_DIR=str(outlets),
        NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
        NEWSWATCH_WORKER_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
    )
    return env
