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


def test_a_day_level_shift_does_not_fire_with_conditioning() -> None:
    # A month whose days vary in level, then the keyword's level creeps up day by day: no hour
    # stands out from the hours before it, so there is no burst to report.
    rng = random.Random(21)
    levels = {d: math.exp(rng.gauss(0, 0.3)) for d in range(34)}
    levels.update({34: 1.4, 35: 1.8, 36: 2.2, 37: 2.6, 38: 3.0})
    series = leveled(39, levels, per_day=50, seed=22)
    plain = fired(replay(series, DetectorConfig(level_conditioning=False)))
    conditioned = fired(replay(series, DetectorConfig()))
    late = [n for n in plain if n["time"] >= "2024-02-04"]
    assert late, "the test needs a level shift the unconditioned detector mistakes for a burst"
    assert [n for n in conditioned if n["time"] >= "2024-02-04"] == []


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
