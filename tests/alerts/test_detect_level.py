"""Level conditioning, fast windows and the one-notification lifecycle of the spike detector."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from alerts.detect import DetectorConfig, Interval, replay

START = datetime(2024, 1, 1, tzinfo=UTC)


def leveled(days: int, levels: dict[int, float], *, per_day: float, seed: int) -> list[Interval]:
    """Hourly series whose keyword share is multiplied by a per-day level (default 1)."""
    rng = random.Random(seed)
    out = []
    for i in range(days * 24):
        t = START + timedelta(hours=i)
        prof = 1 + 0.7 * math.sin((t.hour - 9) / 24 * 2 * math.pi)
        articles = max(0, int(rng.gauss(100 * prof, 10)))
        share = per_day / 2400 * levels.get(i // 24, 1.0)
        mentions = sum(1 for _ in range(articles) if rng.random() < share)
        out.append(Interval(t, mentions, articles))
    return out


def with_extra(series: list[Interval], at: int, extra: list[int]) -> list[Interval]:
    out = list(series)
    for k, e in enumerate(extra):
        iv = out[at + k]
        out[at + k] = Interval(iv.start, iv.mentions + e, iv.articles + e)
    return out


def fired(notes: list[dict]) -> list[dict]:
    return [n for n in notes if n["kind"] == "fired"]


BOTH_MUST_PASS = DetectorConfig(plain_alone=(0.0,) * 6, level_alone=(0.0,) * 6)


def test_a_day_level_shift_does_not_fire_with_conditioning() -> None:
    # A month whose days vary in level, then the keyword's level creeps up day by day: no hour
    # stands out from the hours before it, so no hour-scale window may report a burst. Only
    # once the term has run at about 3x its usual share for a whole day (Feb 8) does the
    # day-long window report it, once, on the long-run share alone.
    rng = random.Random(21)
    levels = {d: math.exp(rng.gauss(0, 0.3)) for d in range(34)}
    levels.update({34: 1.4, 35: 1.8, 36: 2.2, 37: 2.6, 38: 3.0})
    series = leveled(39, levels, per_day=50, seed=22)
    plain = fired(replay(series, DetectorConfig(level_conditioning=False)))
    late = [n for n in plain if n["time"] >= "2024-02-04"]
    assert late, "the test needs a level shift the unconditioned detector mistakes for a burst"
    # Unconditioned, a window shorter than a day already reports the creeping level as a burst.
    assert min(n["window"] for n in late) < 24
    assert [n for n in fired(replay(series, BOTH_MUST_PASS)) if n["time"] >= "2024-02-04"] == []
    conditioned = [n for n in fired(replay(series, DetectorConfig())) if n["time"] >= "2024-02-04"]
    assert len(conditioned) == 1
    day_long = conditioned[0]
    assert day_long["time"] >= "2024-02-08" and day_long["window"] == 24
    assert day_long["time"] > min(n["time"] for n in late)
    assert day_long["rule"] == "nb-tail-share"
    assert day_long["observed"] >= 2.5 * day_long["expected"]
    assert day_long["p_value"] < day_long["threshold"]


def test_a_six_hour_rise_from_a_low_day_fires_on_the_conditioned_test() -> None:
    # The keyword runs at under half its usual level all day, then jumps for six hours: against
    # its long-run share the window is unusual but not beyond the threshold; against the level
    # of the hours just before it, it clearly is.
    rng = random.Random(34)
    levels = {d: math.exp(rng.gauss(0, 0.3)) for d in range(37)}
    levels[35] = 0.45
    base = leveled(37, levels, per_day=50, seed=34)
    at = 35 * 24 + 13
    series = with_extra(base, at, [7] * 6)
    assert fired(replay(series, BOTH_MUST_PASS)) == []
    notes = fired(replay(series))
    assert len(notes) == 1
    note = notes[0]
    assert note["window"] == 6 and note["rule"] == "nb-tail-level"
    assert note["p_value"] < note["threshold"] == DetectorConfig().window_alpha(6)
    assert base[at + 5].start.isoformat().replace("+00:00", "Z") == note["time"]


def test_branch_factors_line_up_with_windows_or_are_off() -> None:
    cfg = DetectorConfig()
    assert cfg.branch_factors(24) == (0.5, 0.0, 3.0)
    assert cfg.branch_factors(6) == (0.0, 1.0, 3.0)
    assert cfg.branch_factors(1) == (0.0, 0.0, 3.0)
    assert cfg.branch_factors(5) == (0.0, 0.0, 0.0)
    # Custom windows without matching factors fall back to "both tests must pass".
    custom = DetectorConfig(windows=(1, 24))
    assert custom.branch_factors(24) == (0.0, 0.0, 0.0)


def test_ten_fold_one_hour_burst_fires_in_the_same_interval() -> None:
    base = leveled(36, {}, per_day=20, seed=23)
    at = 34 * 24 + 14
    notes = replay(with_extra(base, at, [9]))
    first = fired(notes)
    assert len(first) == 1
    assert first[0]["time"] == base[at].start.isoformat().replace("+00:00", "Z")
    assert first[0]["window"] == 1


def test_a_second_wave_inside_the_cooldown_sends_nothing_new() -> None:
    base = leveled(40, {}, per_day=20, seed=24)
    at = 35 * 24 + 9
    wave = [10, 12, 10, 8, 6]
    series = with_extra(base, at, wave)
    series = with_extra(series, at + len(wave) + 12, wave)  # resolved, then it flares again
    kinds = [n["kind"] for n in replay(series)]
    assert kinds.count("fired") == 1
    assert kinds.count("escalated") <= 1
    assert "resolved" in kinds


def test_per_window_thresholds_are_used_and_scaled_by_sensitivity() -> None:
    cfg = DetectorConfig(windows=(1, 6), window_alphas=(1e-6, 1e-3))
    assert cfg.window_alpha(1) == 1e-6
    assert cfg.window_alpha(6) == 1e-3
    loose = DetectorConfig(windows=(1, 6), window_alphas=(1e-6, 1e-3), sensitivity=2.0)
    assert math.isclose(loose.window_alpha(6), 1e-2)
    assert DetectorConfig().window_alpha(3) == DetectorConfig().alpha


def test_calibrated_window_thresholds_fall_back_when_windows_change() -> None:
    cfg = DetectorConfig()
    assert len(cfg.window_alphas) == len(cfg.windows)
    # The long windows carry the larger calibrated budget.
    assert cfg.window_alpha(24) > cfg.window_alpha(1)
    # Custom windows without matching thresholds use the single alpha, not a shifted entry.
    custom = DetectorConfig(windows=(1, 24), alpha=3e-5)
    assert custom.window_alpha(24) == 3e-5
    assert custom.window_alpha(1) == 3e-5
