"""next_check and its helpers: pure functions, checked with fixed clocks and fixed randomness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sources.schedule import cache_hints, next_check, parse_retry_after

NOW = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
FLOOR, CEILING = 300, 86400


def check(**kw: Any) -> float:
    args: dict[str, Any] = {
        "now": NOW,
        "entry_times": [],
        "floor": FLOOR,
        "ceiling": CEILING,
        "ttl": None,
        "sy_period": None,
        "max_age": None,
        "expires": None,
        "retry_after": None,
        "error_count": 0,
        "rand": lambda: 0.5,
    }
    args.update(kw)
    return (next_check(**args) - NOW).total_seconds()


def times(*minutes_ago: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes_ago]


def test_busy_feed_never_polls_faster_than_the_floor() -> None:
    busy = [NOW - timedelta(seconds=10 * i) for i in range(20)]
    for r in (0.0, 0.5, 0.999):
        assert check(entry_times=busy, rand=lambda r=r: r) >= FLOOR


def test_cadence_follows_the_median_gap_of_new_entries() -> None:
    hourly = times(0, 60, 120, 180, 240)
    assert check(entry_times=hourly) == pytest.approx(3600)
    assert check(entry_times=hourly, rand=lambda: 0.0) == pytest.approx(3600 * 0.9)
    assert check(entry_times=hourly, rand=lambda: 1.0) == pytest.approx(3600 * 1.1)


def test_a_feed_gone_quiet_slows_down_up_to_the_ceiling() -> None:
    quiet = times(60 * 24 * 10, 60 * 24 * 10 + 30, 60 * 24 * 10 + 60)
    assert check(entry_times=quiet) == CEILING


def test_unknown_cadence_uses_the_default() -> None:
    assert check() == pytest.approx(3600)
    assert check(entry_times=times(5)) == pytest.approx(3600)


@pytest.mark.parametrize(
    "hint",
    [
        {"ttl": 7200},
        {"sy_period": 7200},
        {"max_age": 7200},
        {"expires": NOW + timedelta(seconds=7200)},
    ],
)
def test_server_hints_slow_polling_down_but_never_speed_it_up(hint: dict[str, Any]) -> None:
    busy = times(0, 10, 20, 30)
    assert check(entry_times=busy, **hint) == pytest.approx(7200)
    slow = times(0, 300, 600)  # every 5 h
    assert check(entry_times=slow, **hint) == pytest.approx(5 * 3600)


def test_hints_are_capped_at_the_ceiling() -> None:
    assert check(ttl=10 * 86400) == CEILING
    assert check(max_age=10 * 86400) == CEILING


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    lows = [check(error_count=n, rand=lambda: 0.0) for n in range(1, 12)]
    highs = [check(error_count=n, rand=lambda: 1.0) for n in range(1, 12)]
    assert highs[0] == FLOOR
    assert highs[1] == 2 * FLOOR and highs[2] == 4 * FLOOR
    for lo, hi in zip(lows, highs, strict=True):
        assert FLOOR <= lo <= hi <= CEILING
        assert lo >= hi / 2  # "equal jitter": half fixed, half random
    assert highs[-1] == CEILING
    assert check(error_count=10_000, rand=lambda: 1.0) == CEILING


def test_retry_after_is_honoured_even_past_the_backoff() -> None:
    later = NOW + timedelta(hours=3)
    assert check(error_count=1, retry_after=later) == pytest.approx(3 * 3600)
    assert check(error_count=0, retry_after=later) == pytest.approx(3 * 3600)
    # Past the ceiling too, but not forever.
    assert check(error_count=1, retry_after=NOW + timedelta(days=2)) == pytest.approx(2 * 86400)
    assert check(error_count=1, retry_after=NOW + timedelta(days=300)) == pytest.approx(7 * 86400)


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", now=NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after(" 0 ", now=NOW) == NOW
    assert parse_retry_after("Wed, 06 Mar 2024 14:00:00 GMT", now=NOW) == NOW + timedelta(hours=2)
    assert parse_retry_after("Wed, 06 Mar 2024 10:00:00 GMT", now=NOW) == NOW  # in the past
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after("-5", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None


def test_cache_hints() -> None:
    assert cache_hints({"cache-control": "public, max-age=600"}, now=NOW) == (600, None)
    assert cache_hints({"cache-control": "no-cache, max-age=600"}, now=NOW) == (None, None)
    exp = cache_hints({"expires": "Wed, 06 Mar 2024 13:00:00 GMT"}, now=NOW)
    assert exp == (None, NOW + timedelta(hours=1))
    assert cache_hints({"expires": "0"}, now=NOW) == (None, None)
    assert cache_hints({"cache-control": "max-age=abc"}, now=NOW) == (None, None)


def test_ceiling_below_floor_is_refused() -> None:
    with pytest.raises(ValueError):
        check(floor=600, ceiling=60)
