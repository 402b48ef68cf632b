"""The detector's baseline: a keyword's own daily rhythm and past surges it never alerted on."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from alerts.detect import Detector, DetectorConfig, Interval, _Test, new_state, replay

START = datetime(2024, 1, 1, tzinfo=UTC)


def rhythmic(
    days: int, *, per_day: float, seed: int, surge_day: int | None = None
) -> list[Interval]:
    """Hourly series whose keyword's share peaks at 20:00 (1.8x) and bottoms out at 08:00 (0.2x).

    The outlet mix (all articles) peaks in the afternoon; the keyword peaks in the evening, as a
    story followed in another time zone does. `surge_day` adds a 6-hour surge at noon that day.
    """
    rng = random.Random(seed)
    out = []
    weights = [1 + 0.8 * math.sin((h - 14) / 24 * 2 * math.pi) for h in range(24)]
    for i in range(days * 24):
        t = START + timedelta(hours=i)
        prof = 1 + 0.7 * math.sin((t.hour - 9) / 24 * 2 * math.pi)
        articles = max(0, int(rng.gauss(100 * prof, 10)))
        share = per_day / 2400 * weights[t.hour]
        mentions = sum(1 for _ in range(articles) if rng.random() < share)
        if surge_day is not None and i // 24 == surge_day and 12 <= t.hour < 18:
            mentions += 12
            articles += 12
        out.append(Interval(t, mentions, articles))
    return out


def fired(notes: list[dict]) -> list[dict]:
    return [n for n in notes if n["kind"] == "fired"]


def final_state(series: list[Interval], config: DetectorConfig) -> dict:
    det = Detector(config)
    st = new_state()
    for iv in series:
        det.advance(st, iv)
    return st


def test_a_keyword_with_its_own_evening_rhythm_is_learnt_not_taken_for_noise() -> None:
    series = rhythmic(45, per_day=30, seed=3)
    assert fired(replay(series)) == []
    base = final_state(series, DetectorConfig())["base"]
    flat = final_state(series, DetectorConfig(share_profile=False))["base"]
    prof = base["prof"]
    assert len(prof) == 24
    # The learnt profile follows the keyword, not the outlet mix: high at 20:00, low at 08:00.
    assert prof[20] > 1.3 and prof[8] < 0.5
    # With a flat share the rhythm shows up as per-interval noise, which blunts every test.
    assert flat["prof"] == []
    assert flat["phi_ind"] > 0.05 and base["phi_ind"] < flat["phi_ind"] / 2


def test_a_quiet_hours_burst_counts_against_the_quiet_hours_share() -> None:
    # Six hours in the morning, when the keyword usually runs at a fraction of its daily share:
    # the alert's expectation is that quiet-hours share, well under what a flat share expects.
    base = rhythmic(40, per_day=30, seed=5)
    at = 38 * 24 + 5
    series = list(base)
    for k in range(6):
        iv = series[at + k]
        series[at + k] = Interval(iv.start, iv.mentions + 2, iv.articles + 2)
    stamps = [iv.start.isoformat().replace("+00:00", "Z") for iv in series]
    notes = [n for n in fired(replay(series)) if n["time"] >= "2024-02-08"]
    assert len(notes) == 1 and notes[0]["time"] <= stamps[at + 6]
    assert fired(replay(base)) == []
    note = notes[0]
    end = stamps.index(note["time"])
    window = series[end - note["window"] + 1 : end + 1]
    flat = final_state(series[: end + 1], DetectorConfig(share_profile=False))["base"]
    flat_expected = flat["odds"] * sum(iv.articles - iv.mentions for iv in window)
    assert note["expected"] < 0.5 * flat_expected


def test_a_surge_the_detector_never_alerted_on_stays_out_of_the_baseline() -> None:
    # A six-hour surge on day 3, before the detector has the week of history it needs to alert,
    # is in the baseline for the next four weeks. Left in, it inflates the per-interval
    # dispersion and the share; the outlier rounds drop it (one round alone only drops the
    # part that stands out against the dispersion the surge itself inflated).
    series = rhythmic(33, per_day=30, seed=8, surge_day=3)
    kept = final_state(series, DetectorConfig(outlier_z=0.0))["base"]
    dropped = final_state(series, DetectorConfig())["base"]
    clean = final_state(rhythmic(33, per_day=30, seed=8), DetectorConfig())["base"]
    assert kept["phi_ind"] > 4 * dropped["phi_ind"]
    assert dropped["mentions"] == clean["mentions"]
    assert abs(dropped["odds"] - clean["odds"]) < 0.1 * clean["odds"]
    assert kept["odds"] > dropped["odds"]


def test_the_two_tests_trade_evidence_within_a_factor() -> None:
    # A 6-interval window far beyond the long-run share (a third of the threshold) and almost
    # beyond the keyword's current level (under three times the threshold) fires on the level
    # test; either test a little weaker, or the trade turned off, and it does not.
    det = Detector()
    thr = DetectorConfig().window_alpha(6)

    def window(plain_p: float, level_p: float) -> _Test:
        return _Test(
            6,
            20,
            5.0,
            max(plain_p, level_p),
            None,
            thr,
            0.1,
            (plain_p, 5.0, 0.1),
            (level_p, 7.0, 0.2),
        )

    fired_on = det._decide(window(thr / 4, thr * 2))
    assert fired_on is not None and fired_on.rule == "nb-tail-trade"
    assert fired_on.expected == 7.0 and fired_on.threshold == thr * 3
    assert det._decide(window(thr / 2, thr * 2)) is None
    assert det._decide(window(thr / 4, thr * 4)) is None
    off = Detector(DetectorConfig(trade=(0.0,) * 6))
    assert off._decide(window(thr / 4, thr * 2)) is None
