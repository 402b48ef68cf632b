"""Per-host politeness, measured from the server's own timestamps with 50 feeds on one host."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from sources.http import HttpClient
from sources.politeness import HostLimiter, LocalHostLimiter, RedisHostLimiter
from tests.fixtures.feeds.localserver import Handler, LocalServer, Seen, rss
from workers.polling import PollConfig, due_feed_ids, poll_feed, sync_outlets

FEEDS = 50
CONCURRENCY = 2
SPACING = 0.06
WORK = 0.1  # the server takes this long per request, so requests would overlap if allowed


@dataclass
class Outlet:
    id: str
    feeds: tuple[str, ...]


def max_overlap(seen: list[Seen]) -> int:
    events = []
    for s in seen:
        assert s.finished is not None
        events += [(s.started, 1), (s.finished, -1)]
    active = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        active += delta
        peak = max(peak, active)
    return peak


def run_fifty_feeds(engine: Engine, limiter: HostLimiter, workers: int = 2) -> list[Seen]:
    """Poll 50 feeds of one host from `workers` separate clients (like separate worker processes)."""
    with LocalServer() as srv:

        def slow_feed(h: Handler) -> None:
            time.sleep(WORK)
            h.reply(200, rss([{"title": h.path, "link": "https://p.example" + h.path}]))

        urls = [srv.route(f"/feed{i}", slow_feed) for i in range(FEEDS)]
        now = datetime.now(UTC)
        sync_outlets(engine, [Outlet("polite", tuple(urls))], now=now)
        ids = due_feed_ids(engine, now=now, limit=FEEDS)
        assert len(ids) == FEEDS
        clients = [
            HttpClient(
                user_agent="newswatch-test/1.0",
                allowed_networks=["127.0.0.1/32"],
                limiter=limiter,
                deadline=30,
            )
            for _ in range(workers)
        ]
        outcomes: list[str] = []
        lock = threading.Lock()
        queue = list(ids)

        def worker(client: HttpClient) -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    feed_id = queue.pop()
                out = poll_feed(engine, feed_id, client=client, config=PollConfig(), now=now)
                with lock:
                    outcomes.append(out.outcome)

        threads = [threading.Thread(target=worker, args=(clients[i % workers],)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for c in clients:
            c.close()
        assert outcomes == ["new"] * FEEDS
        seen = srv.hits()
    assert len(seen) == FEEDS
    return seen


def check_politeness(seen: list[Seen]) -> None:
    assert max_overlap(seen) <= CONCURRENCY
    assert max_overlap(seen) == CONCURRENCY  # the limit was actually reached, not just respected
    starts = sorted(s.started for s in seen)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # The limiter spaces slot grants; between a grant and the server reading the request there
    # is scheduling jitter (threads, GIL), so single gaps get some slack and the median none.
    # A request sent late after its slot (a descheduled thread) shortens one gap and lengthens
    # the one before it; the limiter is wrong only if short gaps are common, not if one is.
    short = [g for g in gaps if g < SPACING * 0.5]
    assert len(short) <= max(1, len(gaps) // 20), short
    assert statistics.median(gaps) >= SPACING * 0.95
    assert starts[-1] - starts[0] >= (FEEDS - 1) * SPACING * 0.95


def test_local_limiter_with_fifty_feeds_on_one_host(engine: Engine) -> None:
    limiter = LocalHostLimiter(concurrency=CONCURRENCY, spacing=SPACING)
    check_politeness(run_fifty_feeds(engine, limiter, workers=1))


def test_redis_limiter_shared_by_two_workers(engine: Engine, redis_url: str) -> None:
    import redis

    # Two clients with two limiter objects: they only agree through Redis.
    shared = [
        RedisHostLimiter(redis.Redis.from_url(redis_url), concurrency=CONCURRENCY, spacing=SPACING)
        for _ in range(2)
    ]

    class Alternating:
        def __init__(self) -> None:
            self.n = 0

        def slot(self, host: str, *, timeout: float | None = None):  # type: ignore[no-untyped-def]
            self.n += 1
            return shared[self.n % 2].slot(host, timeout=timeout)

    check_politeness(run_fifty_feeds(engine, Alternating(), workers=2))


def test_redis_lease_expires_when_a_worker_dies(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    limiter = RedisHostLimiter(client, concurrency=1, spacing=0, lease=1.0)
    # A "crashed" holder: take the slot and never release it.
    crashed = limiter.slot("dead.example")
    crashed.__enter__()
    started = time.monotonic()
    with limiter.slot("dead.example"):
        waited = time.monotonic() - started
    assert 0.8 < waited < 3.0


def test_local_limiter_is_per_host_and_validates() -> None:
    limiter = LocalHostLimiter(concurrency=1, spacing=0.5)
    started = time.monotonic()
    with limiter.slot("a.example"), limiter.slot("B.example"):
        pass  # different hosts never wait for each other
    assert time.monotonic() - started < 0.2
    with limiter.slot("A.EXAMPLE"):  # same host, other case: waits for the spacing
        pass
    assert time.monotonic() - started >= 0.45
    with pytest.raises(ValueError):
        LocalHostLimiter(concurrency=0, spacing=1)
