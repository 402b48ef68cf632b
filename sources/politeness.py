"""Per-host politeness: at most N concurrent requests and a minimum spacing between request starts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

# A caller turned away with no named wait (every slot was busy) tries again after this long.
DEFER_SECONDS = 30.0


class SlotUnavailable(Exception):
    """No request slot for a host within the caller's time limit; nothing was sent to the host.

    `retry_after` is the seconds until the host's spacing allows a request, when that is what
    stood in the way; None when all the host's slots were busy (no one knows for how long).
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def spaced_out(host: str, wait: float, timeout: float) -> SlotUnavailable:
    return SlotUnavailable(
        f"{host}: next request allowed in {wait:.1f}s, past the {timeout:.1f}s this request "
        "could wait",
        retry_after=wait,
    )


def all_busy(host: str, concurrency: int, timeout: float) -> SlotUnavailable:
    return SlotUnavailable(
        f"{host}: all {concurrency} request slots stayed busy for the {timeout:.1f}s this "
        "request could wait"
    )


class HostLimiter(Protocol):
    """Something that hands out a request slot for a host; the slot is held for the whole request.

    With a `timeout`, entering the slot raises SlotUnavailable instead of waiting longer, and
    at once when the host's spacing alone already puts the start past the timeout.
    """

    def slot(self, host: str, *, timeout: float | None = None) -> AbstractContextManager[None]: ...


class _HostState:
    __slots__ = ("active", "next_start")

    def __init__(self) -> None:
        self.active = 0
        self.next_start = 0.0


def check_limits(concurrency: int, spacing: float) -> None:
    """What every limiter refuses: no slot at all, or a negative spacing."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    if spacing < 0:
        raise ValueError("spacing must be >= 0")


class LocalHostLimiter:
    """In-process limiter (threads of one process): tests and benchmarks."""

    def __init__(self, *, concurrency: int = 2, spacing: float = 1.0) -> None:
        check_limits(concurrency, spacing)
        self.concurrency = concurrency
        self.spacing = spacing
        self._cond = threading.Condition()
        self._hosts: dict[str, _HostState] = {}

    @contextmanager
    def slot(self, host: str, *, timeout: float | None = None) -> Iterator[None]:
        key = host.lower()
        give_up = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                # Re-read each round: an idle host's state may have been dropped meanwhile.
                state = self._hosts.setdefault(key, _HostState())
                now = time.monotonic()
                if state.active < self.concurrency and now >= state.next_start:
                    break
                if give_up is not None:
                    # The spacing gives the earliest start there can be: if that is already past
                    # the caller's limit, sleeping towards it would only waste the caller's time.
                    if state.next_start >= give_up:
                        raise spaced_out(host, state.next_start - now, timeout)
                    if now >= give_up:
                        raise all_busy(host, self.concurrency, timeout)
                wait = None if state.active >= self.concurrency else state.next_start - now
                if give_up is not None:
                    wait = give_up - now if wait is None else min(wait, give_up - now)
                self._cond.wait(wait)
            state.active += 1
            state.next_start = now + self.spacing
        try:
            yield
        finally:
            with self._cond:
                state.active -= 1
                if state.active == 0 and time.monotonic() >= state.next_start:
                    # Forget idle hosts so thousands of outlets don't grow the map forever.
                    self._hosts.pop(key, None)
                self._cond.notify_all()


# One atomic step on the Redis server: drop expired leases, then take a lease if both the
# concurrency and the spacing allow it. Returns {0, 0} when granted, {1, ms} when every slot is
# leased (ms until the first lease expires: an upper bound, a holder may finish sooner) and
# {2, ms} when only the spacing is in the way (ms is exact: the earliest a request may start).
# Redis's own clock is used so workers with skewed clocks still agree.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local concurrency = tonumber(ARGV[2])
local spacing = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= concurrency then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = tonumber(first[2]) - now
  if wait < 1 then wait = 1 end
  return {1, wait}
end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < nxt then
  return {2, nxt - now}
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
redis.call('PEXPIRE', KEYS[1], lease * 2)
if spacing > 0 then
  redis.call('SET', KEYS[2], now + spacing, 'PX', spacing + 1000)
end
return {0, 0}
"""
_GRANTED, _BUSY, _SPACED = 0, 1, 2


class RedisHostLimiter:
    """Limiter shared by every worker through Redis; leases expire so a crashed worker frees its slot."""

    def __init__(
        self,
        redis_client: Any,
        *,
        concurrency: int,
        spacing: float,
        lease: float = 120.0,
        prefix: str = "newswatch:host",
        poll_interval: float = 0.05,
    ) -> None:
        check_limits(concurrency, spacing)
        self._redis = redis_client
        self.concurrency = concurrency
        self.spacing = spacing
        self._lease_ms = max(1000, int(lease * 1000))
        self._spacing_ms = int(round(spacing * 1000))
        self._prefix = prefix
        self._poll = poll_interval
        self._acquire = redis_client.register_script(_ACQUIRE)

    @contextmanager
    def slot(self, host: str, *, timeout: float | None = None) -> Iterator[None]:
        key = host.lower()
        holders, spacing_key = f"{self._prefix}:{key}:slots", f"{self._prefix}:{key}:next"
        token = uuid.uuid4().hex
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            code, ms = (
                int(v)
                for v in self._acquire(
                    keys=[holders, spacing_key],
                    args=[self._lease_ms, self.concurrency, self._spacing_ms, token],
                )
            )
            if code == _GRANTED:
                break
            wait = ms / 1000
            now = time.monotonic()
            if give_up is not None:
                # As in LocalHostLimiter: a spacing wait is exact, so one past the limit fails
                # now; a busy host is waited on only until the limit.
                if code == _SPACED and now + wait >= give_up:
                    raise spaced_out(host, wait, timeout)
                if now >= give_up:
                    raise all_busy(host, self.concurrency, timeout)
                wait = min(wait, give_up - now)
            # Sleep what the server says, but re-check often enough to grab a freed slot quickly.
            time.sleep(max(0.0, min(wait, self._poll)))
        try:
            yield
        finally:
            self._redis.zrem(holders, token)
