"""When to poll a feed next: a pure function of its cadence, the server's hints and its errors."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sources.feeds import http_date

DEFAULT_INTERVAL = 3600  # a feed we know nothing about yet
CADENCE_SAMPLES = 20
MAX_RETRY_AFTER = 7 * 86400.0
SUCCESS_JITTER = 0.1  # +-10 %, so feeds added together drift apart instead of polling in lockstep


def cadence_interval(entry_times: Sequence[datetime], *, now: datetime) -> int | None:
    """Seconds between new entries (median of recent gaps), stretched when the feed went quiet."""
    times = sorted(entry_times)[-CADENCE_SAMPLES:]
    if len(times) < 2:
        return None
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    gaps = [g for g in gaps if g > 0] or [1.0]
    typical = statistics.median(gaps)
    # A feed silent for much longer than usual is probably slower now: don't keep hammering it.
    silence = (now - times[-1]).total_seconds()
    return int(max(typical, silence / 4))


def next_check(
    *,
    now: datetime,
    entry_times: Sequence[datetime],
    floor: int,
    ceiling: int,
    ttl: int | None,
    sy_period: int | None,
    max_age: int | None,
    expires: datetime | None,
    retry_after: datetime | None,
    error_count: int,
    rand: Callable[[], float],
) -> datetime:
    """The next poll time; never sooner than `floor` from now, never later than `ceiling`.

    After errors: exponential backoff from the floor with "equal jitter" (half fixed, half
    random), capped at the ceiling, and never before a Retry-After the server sent.
    A Retry-After is honoured even past the ceiling (up to a week).
    Otherwise: the observed cadence of new entries, raised (never lowered) by the feed's TTL,
    sy:updatePeriod, Cache-Control max-age and Expires.
    """
    if ceiling < floor:
        raise ValueError("ceiling must be >= floor")
    if error_count > 0:
        backoff = min(float(ceiling), floor * 2.0 ** min(error_count - 1, 40))
        delay = backoff / 2 + rand() * backoff / 2
        delay = min(max(delay, float(floor)), float(ceiling))
        return now + timedelta(seconds=max(delay, _honoured(retry_after, now)))

    interval = float(cadence_interval(entry_times, now=now) or DEFAULT_INTERVAL)
    hints = [ttl, sy_period, max_age]
    if expires is not None:
        hints.append(int((expires - now).total_seconds()))
    for hint in hints:
        if hint is not None and hint > interval:
            interval = float(hint)
    interval *= 1 - SUCCESS_JITTER + 2 * SUCCESS_JITTER * rand()
    interval = min(max(interval, float(floor)), float(ceiling))
    return now + timedelta(seconds=max(interval, _honoured(retry_after, now)))


def _honoured(retry_after: datetime | None, now: datetime) -> float:
    """Seconds a Retry-After asks us to wait; honoured past the ceiling, but at most a week."""
    if retry_after is None:
        return 0.0
    return min(max(0.0, (retry_after - now).total_seconds()), MAX_RETRY_AFTER)


def parse_retry_after(
    value: str | None, *, now: datetime, date: str | None = None
) -> datetime | None:
    """Retry-After as seconds or as an HTTP date, to an absolute time (None when absent/garbage).

    `date` is the response's Date header. A server's clock can be hours off ours: what an
    HTTP-date Retry-After asks for is its distance from the server's own Date, counted from
    our `now`. Without a valid Date, or with a Retry-After not after it (the two disagree, so
    the Date corrects nothing), the time named is read on our clock.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return now + timedelta(seconds=min(int(text), 10 * 365 * 86400))
    when = http_date(text)
    if when is None:
        return None
    served = http_date(date)
    if served is not None and when > served:
        return now + (when - served)
    return max(when, now)


def cache_hints(headers: Mapping[str, str], *, now: datetime) -> tuple[int | None, datetime | None]:
    """Cache-Control max-age (seconds) and Expires (absolute, on our clock) from response headers.

    As RFC 9111 (5.3) says, a max-age makes Expires ignored. Expires is measured from the
    response's Date when it has a valid one (freshness = Expires - Date), so a server whose
    clock is off ours does not move our schedule by the difference.
    """
    max_age: int | None = None
    for part in (headers.get("cache-control") or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() in ("max-age", "s-maxage"):
            try:
                max_age = max(max_age or 0, int(value.strip().strip('"')))
            except ValueError:
                continue
        elif name.lower() in ("no-cache", "no-store"):
            return None, None
    if max_age is not None:
        return max_age, None
    expires = http_date(headers.get("expires"))
    served = http_date(headers.get("date"))
    if expires is not None and served is not None:
        expires = now + (expires - served)
    if expires is not None and expires <= now:
        expires = None
    return max_age, expires


def utc(dt: datetime) -> datetime:
    """Aware UTC, also for naive values read back from SQLite."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
