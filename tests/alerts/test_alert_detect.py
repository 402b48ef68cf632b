"""The spike detector: quiet series stay quiet, bursts notify once, escalate, resolve, and the
streaming state survives a JSON round trip unchanged."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta

from scipy.stats import nbinom

from alerts.detect import Detector, DetectorConfig, Interval, new_state, replay, upper_tail

START = datetime(2024, 1, 1, tzinfo=UTC)


def background(days: int, *, per_day: float = 20.0, seed: int = 1) -> list[Interval]:
    """Hourly articles with a day/night rhythm; the keyword is a steady share of them."""
    rng = random.Random(seed)
    out = []
    share = per_day / 2400
    for i in range(days * 24):
        t = START + timedelta(hours=i)
        prof = 1 + 0.7 * math.sin((t.hour - 9) / 24 * 2 * math.pi)
        articles = max(0, int(rng.gauss(100 * prof, 10)))
        mentions = sum(1 for _ in range(articles) if rng.random() < share)
        out.append(Interval(t, mentions, articles))
    return out


def with_burst(series: list[Interval], at: int, extra: list[int]) -> list[Interval]:
    out = list(series)
    for k, e in enumerate(extra):
        iv = out[at + k]
        out[at + k] = Interval(iv.start, iv.mentions + e, iv.articles + e, iv.outlets)
    return out


def test_upper_tail_matches_scipy() -> None:
    for obs, mean, var in [(5, 2.0, 4.0), (30, 10.0, 25.0), (3, 0.5, 0.9), (12, 4.0, 4.0)]:
        if var > mean:
            size = mean * mean / (var - mean)
            ref = nbinom.sf(obs - 1, size, size / (size + mean))
        else:
            from scipy.stats import poisson

            ref = poisson.sf(obs - 1, mean)
        assert math.isclose(upper_tail(obs, mean, var), ref, rel_tol=1e-6)
    assert upper_tail(0, 1.0, 2.0) == 1.0


def test_quiet_background_sends_nothing() -> None:
    assert replay(background(45, seed=3)) == []


def test_burst_fires_once_then_resolves() -> None:
    base = background(40, seed=4)
    at = 35 * 24 + 13
    notes = replay(with_burst(base, at, [12, 15, 10, 6]))
    kinds = [n["kind"] for n in notes]
    assert kinds == ["fired", "resolved"]
    fired = notes[0]
    assert fired["time"] == base[at].start.isoformat().replace("+00:00", "Z")
    assert fired["observed"] > fired["expected"] * 3
    assert fired["p_value"] < fired["threshold"]
    assert {"window", "baseline_share", "burst_start"} <= fired.keys()


def test_escalation_needs_about_twice_the_peak_and_happens_once() -> None:
    base = background(40, seed=5)
    at = 35 * 24 + 10
    ramp = [6, 6, 7, 14, 16, 30, 34, 60, 64]
    notes = replay(with_burst(base, at, ramp))
    kinds = [n["kind"] for n in notes]
    assert kinds[0] == "fired"
    assert kinds.count("fired") == 1
    assert kinds.count("escalated") == 1  # the default allows one escalation per burst
    assert kinds[-1] == "resolved"
    # A burst that stays at its first level never escalates.
    flat = replay(with_burst(base, at, [12] * 8))
    assert [n["kind"] for n in flat] == ["fired", "resolved"]


def test_a_much_bigger_burst_during_the_cool_down_is_notified() -> None:
    # The 12 and 24 hour windows still hold the first burst for a day after it resolves, and
    # used to restart the cool-down on every hour of a second burst, however large: silent.
    base = background(40, seed=4)
    first_at = 33 * 24 + 10
    second_at = first_at + 30  # about 20 h after the first one resolved
    twice = with_burst(with_burst(base, first_at, [12, 15, 10, 6]), second_at, [150] * 6)
    notes = replay(twice)
    assert [n["kind"] for n in notes] == ["fired", "resolved", "escalated", "resolved"]
    escalated = notes[2]
    assert escalated["time"] == base[second_at].start.isoformat().replace("+00:00", "Z")
    # a second wave of the same size inside the cool-down is still the same story: silent
    same = with_burst(with_burst(base, first_at, [12, 15, 10, 6]), second_at, [12, 15, 10, 6])
    assert [n["kind"] for n in replay(same)] == ["fired", "resolved"]


def test_min_outlets_blocks_a_single_outlet_flood() -> None:
    base = background(40, seed=6)
    at = 35 * 24 + 12
    series = [Interval(iv.start, iv.mentions, iv.articles, ("a",)) for iv in base]
    flood = with_burst(series, at, [20])
    assert [n for n in replay(flood) if n["kind"] == "fired"] == []
    spread = with_burst(series, at, [20])
    spread[at] = Interval(
        spread[at].start, spread[at].mentions, spread[at].articles, ("a", "b", "c")
    )
    fired = [n for n in replay(spread) if n["kind"] == "fired"]
    assert len(fired) == 1 and fired[0]["outlets"] >= 2


def test_state_is_json_and_streaming_equals_replay() -> None:
    series = with_burst(background(33, seed=7), 31 * 24 + 15, [10, 12, 9])
    det = Detector(DetectorConfig())
    state = None
    notes = []
    for iv in series:
        blob = json.dumps(state) if state is not None else None
        state, note = det.step(json.loads(blob) if blob else None, iv)
        if note:
            notes.append(note)
    assert notes == replay(series)
    assert notes and notes[0]["kind"] == "fired"


def test_step_does_not_mutate_input_and_replays_are_ignored() -> None:
    series = background(5, seed=8)
    det = Detector()
    state = new_state()
    for iv in series[:-1]:
        det.advance(state, iv)
    frozen = json.dumps(state)
    new, _ = det.step(state, series[-1])
    assert json.dumps(state) == frozen
    again, note = det.step(new, series[-1])  # the same interval twice: no effect
    assert note is None and again["m"] == new["m"]


def test_gaps_are_filled_as_empty_intervals() -> None:
    series = background(10, seed=9)
    det = Detector()
    state = new_state()
    for iv in series[:100]:
        det.advance(state, iv)
    det.advance(state, series[110])
    assert len(state["m"]) == 111
    assert state["a"][100:110] == [0] * 10


def test_sensitivity_makes_alerts_easier() -> None:
    base = background(40, seed=10)
    at = 35 * 24 + 14
    weak = with_burst(base, at, [2, 2, 2, 2])
    strict = [n["kind"] for n in replay(weak, DetectorConfig(sensitivity=0.5))]
    loose = [n["kind"] for n in replay(weak, DetectorConfig(sensitivity=3.0))]
    assert "fired" not in strict
    assert "fired" in loose


def test_new_term_with_no_history_is_not_judged_before_min_history() -> None:
    series = with_burst(background(2, seed=11), 30, [30])
    assert replay(series) == []
