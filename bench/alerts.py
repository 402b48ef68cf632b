"""Evaluation of the spike detector: false alerts, recall, delay and burst hygiene on backgrounds.

Run: .venv/bin/python bench/alerts.py [--quick] [--seed N]
Prints a Markdown table and writes bench/results/alerts.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy.special import pdtrc
from scipy.stats import chi2

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from alerts.detect import Detector, DetectorConfig, Interval, new_state  # noqa: E402

CORPUS = Path(os.environ.get("NEWSWATCH_CORPUS_DIR", REPO_ROOT / ".." / "shared" / "corpus"))
RESULTS = REPO_ROOT / "bench" / "results" / "alerts.json"
DOC = REPO_ROOT / "docs" / "alerts-evaluation.md"

HOUR = 3600
WARMUP_DAYS = 30  # baseline (28) + excluded last day + today
START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday

SHAPES = ("step", "decay", "ramp")
MULTS = (2, 3, 5, 10)
DURATIONS = (1, 3, 6, 12, 24)


@dataclass
class Series:
    """A background: mentions and articles per hour, the mean mention level, and bad zones."""

    name: str
    group: str
    rate: float  # mentions a day
    mentions: np.ndarray
    articles: np.ndarray
    mean: np.ndarray  # expected mentions per interval (for sizing injected bursts)
    start: datetime
    labelled: list[tuple[int, int]]  # index ranges of known real events (NAB)


# -- backgrounds ----------------------------------------------------------------------------


def _seasonality(n: int, start: datetime) -> np.ndarray:
    hours = np.array([(start + timedelta(hours=i)).hour for i in range(n)])
    wdays = np.array([(start + timedelta(hours=i)).weekday() for i in range(n)])
    hour = 1.0 + 0.75 * np.sin((hours - 9) / 24 * 2 * math.pi)  # busy afternoons, quiet nights
    week = np.where(wdays >= 5, 0.55, 1.0)
    prof = hour * week
    return prof / prof.mean()


# Per-interval negative-binomial shape of the synthetic backgrounds. News mentions of a term in
# one hour are close to Poisson around a smoothly varying level (each article is a separate
# editorial decision; syndicated copies are already merged into one story), so the per-hour
# extra variance is small: shape 20 gives a variance of mean + mean²/20, i.e. +5 % at one
# mention an hour. The big, realistic extra variance is the day-to-day level of a keyword, which
# the "+ daily level" backgrounds add (log-normal, σ = 0.3, a new level every day) and which
# stays the hard case. An earlier version used shape 4 (variance +25 % per mention-hour, every
# hour independently), which makes a 3× rise over 6 h at 20/day a ~1e-3 event of the noise alone.
NB_SHAPE = 20.0
EVAL_SEED = 20240601  # the reported figures
TUNE_SEED = 1  # every threshold and knob was chosen on this seed (and 2, 3), never on EVAL_SEED


def synthetic(
    rng: np.random.Generator,
    rate: float,
    days: int,
    level: bool,
    name: str,
    size: float = NB_SHAPE,
) -> Series:
    n = days * 24
    prof = _seasonality(n, START)
    articles_mean = 2400 / 24 * prof
    articles = rng.poisson(articles_mean)
    share = rate / 2400
    daily = np.ones(days)
    if level:
        sigma = 0.3
        daily = rng.lognormal(-sigma * sigma / 2, sigma, size=days)
    lvl = np.repeat(daily, 24)
    mean = share * articles * lvl
    # Negative binomial per interval (gamma-mixed Poisson with shape `size`).
    lam = rng.gamma(size, mean / size)
    mentions = rng.poisson(lam)
    articles = articles + mentions
    return Series(
        name, "synthetic", rate, mentions, articles, share * articles_mean * lvl, START, []
    )


def _nab_hourly() -> tuple[
    dict[str, np.ndarray], datetime, dict[str, list[tuple[datetime, datetime]]]
]:
    folder = CORPUS / "nab" / "data" / "realTweets"
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise SystemExit(f"NAB series not found under {folder}")
    raw: dict[str, dict[int, int]] = {}
    t_min = None
    t_max = None
    for f in files:
        bins: dict[int, int] = defaultdict(int)
        with f.open() as fh:
            for row in csv.DictReader(fh):
                ts = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                h = int(ts.timestamp()) // HOUR
                bins[h] += int(float(row["value"]))
        raw[f.stem] = bins
        lo, hi = min(bins), max(bins)
        t_min = lo if t_min is None else min(t_min, lo)
        t_max = hi if t_max is None else max(t_max, hi)
    assert t_min is not None and t_max is not None
    # Drop the partial first and last hours.
    t_min += 1
    n = t_max - t_min
    out = {k: np.array([v.get(t_min + i, 0) for i in range(n)]) for k, v in raw.items()}
    start = datetime.fromtimestamp(t_min * HOUR, UTC)
    labels: dict[str, list[tuple[datetime, datetime]]] = {}
    lab_path = CORPUS / "nab" / "labels" / "combined_windows.json"
    if lab_path.exists():
        for key, wins in json.loads(lab_path.read_text()).items():
            if "realTweets" in key:
                stem = Path(key).stem
                labels[stem] = [
                    (
                        datetime.fromisoformat(a.split(".")[0]).replace(tzinfo=UTC),
                        datetime.fromisoformat(b.split(".")[0]).replace(tzinfo=UTC),
                    )
                    for a, b in wins
                ]
    return out, start, labels


def raw_surges(counts: np.ndarray, ratio: float = 2.0) -> list[tuple[int, int]]:
    """Real, unlabelled surges of an unthinned NAB series (an oracle independent of the detector).

    NAB labels only a few anomalies per series, but the full Twitter volume (hundreds to
    thousands an hour) shows many more genuine surges. An hour ending a 1–24 h window whose raw
    volume is >= `ratio` × the median of the same window over the previous seven days is a real
    event; an alert there is not counted as false, and no burst is injected near it.
    """
    zones = []
    c = np.concatenate([[0], np.cumsum(counts)])
    n = len(counts)
    for i in range(24 * 8, n):
        for w in (1, 3, 6, 12, 24):
            cur = c[i + 1] - c[i + 1 - w]
            prev = [c[i + 1 - 24 * d] - c[i + 1 - w - 24 * d] for d in range(1, 8)]
            med = float(np.median(prev))
            if cur >= ratio * max(med, 1.0) and cur - med >= 20:
                zones.append((i - w - 12, i + 12))
                break
    merged: list[tuple[int, int]] = []
    for a, b in zones:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def nab_backgrounds(rng: np.random.Generator, rates: tuple[float, ...], seeds: int) -> list[Series]:
    """Each NAB keyword thinned to `rates` mentions a day, `seeds` times; its article flow is the
    other nine keywords' tweets thinned to 2,400 a day (so weekly and daily rhythms co-move, as
    mentions and all articles do in news; a flow with the synthetic seasonality instead made
    weekends look like surges of every keyword)."""
    series, start, labels = _nab_hourly()
    total = sum(series.values())
    surges = {name: raw_surges(c) for name, c in series.items()}
    out = []
    for name, counts in series.items():
        for rate in rates:
            for s in range(seeds):
                q = min(1.0, rate / (counts.sum() / (len(counts) / 24)))
                mentions = rng.binomial(counts, q)
                others = total - counts
                qa = min(1.0, 2400 / (others.sum() / (len(others) / 24)))
                articles = rng.binomial(others, qa) + mentions
                mean = np.convolve(counts * q, np.ones(24) / 24, mode="same")
                lab = []
                for a, b in labels.get(name, []):
                    ia = int((a - start).total_seconds() // HOUR) - 12
                    ib = int((b - start).total_seconds() // HOUR) + 12
                    lab.append((ia, ib))
                lab.extend(surges[name])
                out.append(
                    Series(
                        f"{name}@{rate:g}#{s}",
                        f"nab {rate:g}/day",
                        rate,
                        mentions,
                        articles,
                        mean,
                        start,
                        lab,
                    )
                )
    return out


# -- running --------------------------------------------------------------------------------


def _intervals(series: Series) -> list[datetime]:
    return [series.start + timedelta(hours=i) for i in range(len(series.mentions))]


def run_clean(
    det: Detector, series: Series, starts: list[int], post: int, bursts: list[dict]
) -> dict:
    """Replay the clean series; at each trial start, fork the state and replay with a burst."""
    times = _intervals(series)
    st = new_state()
    fired: list[int] = []
    escal = 0
    by_start: dict[int, list[dict]] = defaultdict(list)
    for b in bursts:
        by_start[b["start"]].append(b)
    m = series.mentions.tolist()
    a = series.articles.tolist()
    for i in range(len(m)):
        if i in by_start:
            for b in by_start[i]:
                _run_trial(det, st, series, times, m, a, b, post)
        note = det.advance(st, Interval(times[i], m[i], a[i]))
        if note and note["kind"] == "fired":
            fired.append(i)
        elif note and note["kind"] == "escalated":
            escal += 1
    return {"fired": fired, "escalated": escal}


def _copy(st: dict) -> dict:
    out = dict(st)
    for key in ("m", "a", "x"):
        out[key] = list(st[key])
    out["o"] = list(st["o"])
    out["base"] = dict(st["base"]) if st["base"] else None
    return out


def burst_profile(shape: str, mult: float, dur: int) -> np.ndarray:
    t = np.arange(dur, dtype=float)
    if shape == "step" or dur == 1:
        w = np.ones(dur)
    elif shape == "decay":
        w = np.exp(-t / max(1.0, dur / 3))
    else:  # ramp
        w = t + 1
    # Normalised so the mean multiplier over the burst equals `mult` (same total extra volume).
    return 1.0 + (mult - 1.0) * dur * w / w.sum()


def _run_trial(det, st, series, times, m, a, b, post) -> None:
    s, dur = b["start"], b["dur"]
    # "k× usual" multiplies the keyword's usual rate: its mean per interval over the previous
    # week (so a 5× burst adds 4× that rate whatever the hour; see the note in the output).
    b["base"] = float(np.mean(series.mentions[max(0, s - 168) : s])) if s else 0.0
    prof = burst_profile(b["shape"], b["mult"], dur)
    rng = b["rng"]
    trial = _copy(st)
    end = min(len(m), s + dur + post)
    fires: list[int] = []
    escal = 0
    resolved = None
    for i in range(s, end):
        mi, ai = m[i], a[i]
        if i < s + dur:
            extra = int(rng.poisson((prof[i - s] - 1.0) * b["base"]))
            mi += extra
            ai += extra
        note = det.advance(trial, Interval(times[i], mi, ai))
        if note is None:
            continue
        if note["kind"] == "fired":
            fires.append(i)
        elif note["kind"] == "escalated":
            escal += 1
        elif note["kind"] == "resolved" and resolved is None:
            resolved = i
    first = [f for f in fires if s <= f <= s + dur + 1]
    b["detected"] = bool(first)
    b["delay"] = (first[0] - s) if first else None
    # A ramp "of 5×" starts far below 5× (a 24 h one at 1.3×) and only runs at 5× usual later;
    # this second delay counts from the first interval whose injected rate reaches 5× usual
    # (the burst start for steps and decays), and is 0 when the alert came earlier.
    at5 = np.nonzero(prof >= 5.0 - 1e-9)[0]
    b["delay5"] = max(0, first[0] - s - int(at5[0])) if first and len(at5) else None
    b["fires"] = len([f for f in fires if s <= f <= s + dur + 6])
    b["escalations"] = escal
    # The clean replay was already alerting (or cooling down) on something real when the
    # burst began: by design that is the same story, merged into the running alert.
    b["busy"] = st["phase"] != "quiet"
    del b["rng"]


def plan_bursts(rng: np.random.Generator, series: Series, per_cell: int, post: int) -> list[dict]:
    n = len(series.mentions)
    lo = WARMUP_DAYS * 24
    bursts = []
    for shape in SHAPES:
        for mult in MULTS:
            for dur in DURATIONS:
                for _ in range(per_cell):
                    for _try in range(50):
                        s = int(rng.integers(lo, n - dur - post))
                        if not any(a - dur - 48 <= s <= b for a, b in series.labelled):
                            break
                    bursts.append(
                        {
                            "start": s,
                            "shape": shape,
                            "mult": mult,
                            "dur": dur,
                            "rng": np.random.default_rng(rng.integers(1 << 31)),
                        }
                    )
    return bursts


def burst_quotas(series_list: list[Series], burst_series: int, per_cell: int) -> list[int]:
    """Bursts per cell to inject into each series of one background.

    Synthetic series are exchangeable, so the first `burst_series` get `per_cell` each. The NAB
    backgrounds are ten different real keywords, each thinned several times; the same total is
    spread over the first thinning of every keyword, so NAB recall speaks for all ten series
    and not for whichever sorts first.
    """
    total = burst_series * per_cell
    if not series_list or series_list[0].group == "synthetic":
        return [per_cell if k < burst_series else 0 for k in range(len(series_list))]
    firsts = [k for k, s in enumerate(series_list) if s.name.endswith("#0")]
    share = max(1, round(total / len(firsts)))
    return [share if k in firsts else 0 for k in range(len(series_list))]


def false_alerts(series: Series, fired: list[int]) -> tuple[int, int]:
    lo = WARMUP_DAYS * 24
    all_f = [f for f in fired if f >= lo]
    clean = [f for f in all_f if not any(a <= f <= b for a, b in series.labelled)]
    return len(all_f), len(clean)


def evaluate(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    cfg = DetectorConfig(**args.overrides)
    det = Detector(cfg)
    backgrounds: list[tuple[str, list[Series]]] = []
    eval_days = args.weeks * 7
    for rate in (5, 20, 50):
        for level in (False, True):
            group = f"synthetic {rate}/day" + (" + daily level" if level else "")
            backgrounds.append(
                (
                    group,
                    [
                        synthetic(
                            rng,
                            rate,
                            WARMUP_DAYS + eval_days,
                            level,
                            f"{group}#{k}",
                            size=args.nb_shape,
                        )
                        for k in range(args.series)
                    ],
                )
            )
    nab = nab_backgrounds(rng, (5, 20, 50), args.nab_seeds)
    for rate in (5, 20, 50):
        backgrounds.append((f"nab {rate}/day", [s for s in nab if s.rate == rate]))

    post = 48
    rows = []
    all_bursts = []
    t0 = time.perf_counter()
    for group, series_list in backgrounds:
        fa_all = fa_clean = 0
        weeks = 0.0
        bursts_g = []
        quotas = burst_quotas(series_list, args.burst_series, args.per_cell)
        for k, series in enumerate(series_list):
            per_cell = quotas[k]
            bursts = plan_bursts(rng, series, per_cell, post) if per_cell else []
            res = run_clean(
                det, series, sorted({b["start"] for b in bursts}) if bursts else [], post, bursts
            )
            fa, fc = false_alerts(series, res["fired"])
            fa_all += fa
            fa_clean += fc
            lab_hours = sum(
                max(0, min(b, len(series.mentions)) - max(a, WARMUP_DAYS * 24))
                for a, b in series.labelled
            )
            weeks += (len(series.mentions) - WARMUP_DAYS * 24 - lab_hours) / 168
            for b in bursts:
                b["group"] = group
                b["rate"] = series.rate
            bursts_g.extend(bursts)
        all_bursts.extend(bursts_g)
        rows.append(
            {
                "background": group,
                "keyword_weeks": round(weeks, 1),
                "false_alerts": fa_clean,
                "false_alerts_incl_labelled": fa_all,
                "false_per_week": round(fa_clean / weeks, 4) if weeks else None,
                "bursts": len(bursts_g),
            }
        )
        print(f"  {group}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return {
        "config": cfg.to_dict(),
        "backgrounds": rows,
        "bursts": all_bursts,
        "seed": args.seed,
        "nb_shape": args.nb_shape,
    }


def _recall(bursts: list[dict], raw: bool = False, **cond) -> tuple[float | None, int]:
    sel = [
        b
        for b in bursts
        if (raw or not b["busy"])
        and all(
            (b[k] in v)
            if isinstance(v, (tuple, list, set))
            else (v(b[k]) if callable(v) else b[k] == v)
            for k, v in cond.items()
        )
    ]
    if not sel:
        return None, 0
    return sum(b["detected"] for b in sel) / len(sel), len(sel)


# The Poisson oracle knows every hour's true mean and sees pure Poisson counts (no day level, no
# overdispersion, no estimation). It runs the detector's windows, thresholds (× `scale`) and
# minimum extra; after an alert it stays silent for the detector's quiet + cool-down intervals.
ORACLE_BUDGET = 0.05  # false alerts per keyword-week, the goal
ORACLE_SCALES = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
ORACLE_CONFIG = DetectorConfig()  # the shipped defaults, whatever `--set` overrides


def _oracle_fires(x: np.ndarray, mu: np.ndarray, scale: float) -> np.ndarray:
    """Per interval: does any window ending there clear its (scaled) threshold?"""
    cfg = ORACLE_CONFIG
    cx = np.r_[0, np.cumsum(x)]
    cm = np.r_[0.0, np.cumsum(mu)]
    fires = np.zeros(len(x), dtype=bool)
    for w in cfg.windows:
        if w > len(x):
            continue
        obs = cx[w:] - cx[:-w]
        exp = cm[w:] - cm[:-w]
        hit = (obs - exp >= cfg.min_extra) & (pdtrc(obs - 1, exp) < cfg.window_alpha(w) * scale)
        fires[w - 1 :] |= hit
    return fires


def _oracle_mean(rate: float) -> np.ndarray:
    return rate / 24 * _seasonality(24 * 28, START)


def oracle_false_rate(rate: float, scale: float = 1.0, weeks: int = 4000, seed: int = 13) -> float:
    """False alerts per keyword-week of the Poisson oracle on its own burst-free background."""
    cfg = ORACLE_CONFIG
    dead = cfg.quiet_intervals + cfg.cooldown_intervals
    rng = np.random.default_rng(seed)
    mu = _oracle_mean(rate)
    blocks = max(1, weeks // 4)
    alerts = 0
    for _ in range(blocks):
        last = -(10**9)
        for i in np.nonzero(_oracle_fires(rng.poisson(mu), mu, scale))[0]:
            if i - last > dead:
                alerts += 1
                last = int(i)
    return alerts / (blocks * len(mu) / 168)


def oracle_budget_scale(
    rates: tuple[float, ...] = (20, 50),
) -> tuple[float, dict[float, dict[float, float]]]:
    """The loosest threshold scale of ORACLE_SCALES at which the oracle's false alerts stay
    within the budget at every rate, and the rates measured at each scale tried."""
    tried: dict[float, dict[float, float]] = {}
    best = ORACLE_SCALES[0]
    for scale in ORACLE_SCALES:
        tried[scale] = {r: oracle_false_rate(r, scale) for r in rates}
        if max(tried[scale].values()) > ORACLE_BUDGET:
            break
        best = scale
    return best, tried


def _oracle_delay(
    rng: np.random.Generator,
    mu: np.ndarray,
    shape: str,
    mult: float,
    dur: int,
    rate: float,
    scale: float = 1.0,
) -> int | None:
    """One burst seen by the Poisson oracle: its delay in intervals, or None if never alerted
    by the detector's deadline (one interval after the burst)."""
    lead = max(ORACLE_CONFIG.windows)  # the longest window starts before the burst
    s = int(rng.integers(lead, len(mu) - dur - 2))
    m = mu[s - lead : s + dur + 2]
    extra = np.zeros(len(m))
    extra[lead : lead + dur] = (burst_profile(shape, mult, dur) - 1.0) * rate / 24
    fires = _oracle_fires(rng.poisson(m + extra), m, scale)[lead:]
    hits = np.nonzero(fires)[0]
    return int(hits[0]) if len(hits) else None


def oracle_recall(
    mult: float, dur: int, rate: float, scale: float = 1.0, trials: int = 2000, seed: int = 11
) -> float:
    """Recall of the Poisson oracle (`_oracle_delay`) on one cell, all shapes pooled."""
    rng = np.random.default_rng(seed)
    mu = _oracle_mean(rate)
    hits = sum(
        _oracle_delay(rng, mu, SHAPES[k % len(SHAPES)], mult, dur, rate, scale) is not None
        for k in range(trials)
    )
    return hits / trials


def oracle_delays(
    rates: tuple[float, ...], scale: float = 1.0, per_cell: int = 150, seed: int = 12
) -> list[int]:
    """Delays of the Poisson oracle on every detected burst of 5× and more, as the bench pools them."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for rate in rates:
        mu = _oracle_mean(rate)
        for shape in SHAPES:
            for mult in (m for m in MULTS if m >= 5):
                for dur in DURATIONS:
                    for _ in range(per_cell):
                        d = _oracle_delay(rng, mu, shape, mult, dur, rate, scale)
                        if d is not None:
                            out.append(d)
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def poisson_interval(k: int, exposure: float) -> tuple[float, float]:
    """Exact 95 % interval of a Poisson rate from k events over `exposure` units."""
    lo = float(chi2.ppf(0.025, 2 * k)) / 2 if k > 0 else 0.0
    hi = float(chi2.ppf(0.975, 2 * k + 2)) / 2
    return lo / exposure, hi / exposure


def summarise(result: dict) -> dict:
    bursts = result["bursts"]
    targets = []

    def add(
        name: str,
        value: float | None,
        n: int,
        goal: str,
        ok: bool,
        interval: tuple[float, float] | None = None,
    ) -> None:
        targets.append(
            {"target": name, "value": value, "n": n, "goal": goal, "met": ok, "interval": interval}
        )

    worst_row = max(result["backgrounds"], key=lambda r: r["false_per_week"])
    worst = worst_row["false_per_week"]
    add(
        f"false alerts per keyword-week (worst background: {worst_row['background']})",
        worst,
        worst_row["false_alerts"],
        "<= 0.05",
        worst <= 0.05,
        poisson_interval(worst_row["false_alerts"], worst_row["keyword_weeks"]),
    )
    for mult, dur, goal in ((5, 6, 0.9), (3, 24, 0.95), (3, 6, 0.6)):
        r, n = _recall(bursts, mult=mult, dur=dur, rate=lambda x: x >= 20)
        add(
            f"recall {mult}x over {dur} h at >= 20/day",
            r,
            n,
            f">= {goal}",
            r is not None and r >= goal,
            wilson(round((r or 0.0) * n), n),
        )
    for mult, dur in ((5, 6), (3, 24), (3, 6)):
        r, n = _recall(bursts, raw=True, mult=mult, dur=dur, rate=lambda x: x >= 20)
        add(
            f"(info) raw recall {mult}x over {dur} h incl. bursts during a running alert",
            r,
            n,
            "-",
            True,
        )
    busy = sum(1 for b in bursts if b["busy"])
    add(
        "(info) bursts starting during a running alert (left out of recall)",
        busy,
        len(bursts),
        "-",
        True,
    )
    # The oracle twice: at the detector's thresholds, and at the loosest scale of them that
    # still keeps its own false alerts within the budget (what a detector that knew every
    # hour's true mean could reach while spending the whole budget).
    scale, tried = oracle_budget_scale((20, 50))
    oracle_runs = [(sc, tried[sc]) for sc in sorted({1.0, scale})]
    for sc, fa in oracle_runs:
        where = "at the detector's thresholds" if sc == 1.0 else f"at {sc:g}x the thresholds"
        for rate in (20, 50):
            add(
                f"(info) Poisson oracle {where}, {rate}/day: false alerts per keyword-week "
                f"{fa[rate]:.3f}, recall 3x over 6 h",
                oracle_recall(3, 6, rate, sc),
                2000,
                "-",
                True,
            )
    r, n = _recall(bursts, mult=3, dur=24)
    add("(info) recall 3x over 24 h, all backgrounds incl. 5/day", r, n, "-", True)
    r, n = _recall(bursts, mult=3, dur=6)
    add("(info) recall 3x over 6 h, all backgrounds incl. 5/day", r, n, "-", True)
    for key, label in (("delay", ""), ("delay5", " from the first interval at >= 5x usual")):
        delays = [
            b[key]
            for b in bursts
            if b["detected"] and b["mult"] >= 5 and b["rate"] >= 20 and not b["busy"]
        ]
        med = float(np.median(delays)) if delays else None
        p90 = float(np.percentile(delays, 90)) if delays else None
        unit = " (intervals)" if not label else ""
        add(
            f"median delay{label}, >= 5x, >= 20/day{unit}",
            med,
            len(delays),
            "<= 1",
            med is not None and med <= 1,
        )
        add(
            f"p90 delay{label}, >= 5x, >= 20/day{unit}",
            p90,
            len(delays),
            "<= 3",
            p90 is not None and p90 <= 3,
        )
        if not label and delays:
            late = sum(1 for d in delays if d > 3)
            add(
                "(info) share of those alerted more than 3 intervals late (p90 <= 3 needs <= 0.10)",
                late / len(delays),
                len(delays),
                "-",
                True,
                wilson(late, len(delays)),
            )
            for sc, _fa in oracle_runs:
                oracle = oracle_delays((20, 50), sc)
                o_late = sum(1 for d in oracle if d > 3)
                where = "detector's thresholds" if sc == 1.0 else f"{sc:g}x the thresholds"
                add(
                    f"(info) Poisson oracle ({where}), same bursts at 20 and 50/day: share "
                    "more than 3 intervals late",
                    o_late / len(oracle),
                    len(oracle),
                    "-",
                    True,
                    wilson(o_late, len(oracle)),
                )
    ramps = sorted(
        {
            (b["mult"], b["dur"])
            for b in bursts
            if b["shape"] == "ramp" and b["mult"] >= 5 and b["rate"] >= 20 and b["detected"]
        }
    )
    no_ramp = [
        b["delay"]
        for b in bursts
        if b["detected"]
        and b["mult"] >= 5
        and b["rate"] >= 20
        and not b["busy"]
        and b["shape"] != "ramp"
    ]
    if ramps and no_ramp:
        add(
            "(info) p90 delay from burst start, steps and decays only, >= 5x, >= 20/day",
            float(np.percentile(no_ramp, 90)),
            len(no_ramp),
            "-",
            True,
        )
    delays_all = [b["delay"] for b in bursts if b["detected"] and b["mult"] >= 5 and not b["busy"]]
    med_a = float(np.median(delays_all)) if delays_all else None
    p90_a = float(np.percentile(delays_all, 90)) if delays_all else None
    add(
        "median delay, >= 5x, all backgrounds (intervals)",
        med_a,
        len(delays_all),
        "<= 1",
        med_a is not None and med_a <= 1,
    )
    add(
        "p90 delay, >= 5x, all backgrounds (intervals)",
        p90_a,
        len(delays_all),
        "<= 3",
        p90_a is not None and p90_a <= 3,
    )
    det = [b for b in bursts if b["detected"]]
    multi = sum(1 for b in det if b["fires"] > 1)
    over_esc = sum(1 for b in det if b["escalations"] > 1)
    frac = (multi + over_esc) / len(det) if det else 0.0
    add(
        "bursts with >1 fired or >1 escalation",
        round(frac, 4),
        len(det),
        "0",
        multi + over_esc == 0,
    )
    return {"targets": targets}


def recall_table(bursts: list[dict]) -> list[dict]:
    rows = []
    groups = sorted(
        {b["group"] for b in bursts}, key=lambda g: [b["group"] for b in bursts].index(g)
    )
    for g in groups:
        for mult in MULTS:
            row = {"background": g, "mult": mult}
            for dur in DURATIONS:
                r, _n = _recall(bursts, group=g, mult=mult, dur=dur)
                row[f"{dur}h"] = r
            rows.append(row)
    return rows


def markdown(result: dict, summary: dict, timing: dict) -> str:
    out = ["## Spike detector evaluation (interval 1 h)", ""]
    out += [
        f"Seed {result['seed']} (the reported figures use {EVAL_SEED}; every threshold and knob "
        f"was chosen on tuning seeds {TUNE_SEED} and 2, never on {EVAL_SEED}). Synthetic "
        f"backgrounds: negative binomial per hour with shape {result['nb_shape']:g} around a "
        "weekday × hour seasonal level; the '+ daily level' variants multiply each day by a "
        "log-normal level (σ = 0.3).",
        "",
        "Why shape 20: an hour's mentions of a term are close to Poisson around a smoothly "
        "varying level (separate editorial decisions; syndicated copies are already merged into "
        "one story), so the per-hour extra variance is small (+5 % at one mention an hour). The "
        "large, realistic extra variance is the keyword's day-to-day level, which the daily-level "
        "variants add and which stays the hard case. (Shape 4, used before, adds +25 % "
        "per mention-hour independently every hour, which makes a 3× rise over 6 h at 20/day "
        "a ~1e-3 event of the noise alone.)",
        "",
        "Recall and delay leave out bursts that began while the detector was already alerting "
        "(or cooling down) on something in the background itself (mostly real NAB surges): by "
        "design those merge into the running alert. The raw figures including them are listed "
        "as (info).",
        "",
        "Decision rule: each window has two negative-binomial tests, one against the keyword's "
        "long-run share and one conditioned on its level in the 12 intervals before the window. "
        "A window fires when both clear its threshold; on the 12- and 24-interval windows the "
        "long-run test alone may fire at half the threshold (the hours before a day-long window "
        "say little about that day's own level); on the 6-interval window the conditioned test "
        "alone may fire when the long-run p-value is also below 1e-3 (a rise from a low day). "
        "Any window also fires when the long-run test clears a third of its threshold and the "
        "conditioned one three times it. "
        "The alert says which test decided (`rule`: nb-tail, nb-tail-share, nb-tail-level, "
        "nb-tail-trade).",
        "",
        "Baseline: the expectation uses the keyword's own share in each hour of the day "
        "(smoothed over ±2 h, pulled toward its flat share), and intervals more than 5 standard "
        "deviations above expectation (a past surge the detector never alerted on) are left out "
        "of the share and the dispersions.",
        "",
        "NAB bursts are spread over all ten Twitter keywords (the first thinning of each). "
        "Before 2026-11-22 they all went into the keyword that sorts first (AAPL), one of the "
        "easiest; the NAB recall reported then was not representative. These real series carry "
        "a per-hour overdispersion of 0.4–0.8 (variance = mean + φ·mean², against 0.05 on the "
        "synthetic backgrounds), so a 3× rise over 6 h is far harder to tell from their own "
        "noise, and they weigh on every pooled recall target.",
        "",
    ]
    out.append(
        "| background | keyword-weeks | false alerts | per week | (incl. labelled NAB events) |"
    )
    out.append("|---|---:|---:|---:|---:|")
    for r in result["backgrounds"]:
        out.append(
            f"| {r['background']} | {r['keyword_weeks']} | {r['false_alerts']} | "
            f"{r['false_per_week']:.3f} | {r['false_alerts_incl_labelled']} |"
        )
    out += ["", "Recall by background, multiplier and burst length (all shapes pooled):", ""]
    out.append("| background | mult | " + " | ".join(f"{d} h" for d in DURATIONS) + " |")
    out.append("|---|---:|" + "---:|" * len(DURATIONS))
    for r in recall_table(result["bursts"]):
        cells = " | ".join("-" if r[f"{d}h"] is None else f"{r[f'{d}h']:.2f}" for d in DURATIONS)
        out.append(f"| {r['background']} | {r['mult']}× | {cells} |")
    out += ["", "Recall by shape (all backgrounds):", ""]
    out.append("| shape | mult | " + " | ".join(f"{d} h" for d in DURATIONS) + " |")
    out.append("|---|---:|" + "---:|" * len(DURATIONS))
    for shape in SHAPES:
        for mult in MULTS:
            by_len: list[str] = []
            for d in DURATIONS:
                r, _ = _recall(result["bursts"], shape=shape, mult=mult, dur=d)
                by_len.append("-" if r is None else f"{r:.2f}")
            out.append(f"| {shape} | {mult}× | " + " | ".join(by_len) + " |")
    out += [
        "",
        "n is the number of bursts (or detections, or false alerts on the worst background) "
        "behind a figure; the 95 % interval is Wilson's for proportions and the exact Poisson "
        "one for the false-alert rate. A target whose interval straddles its goal is decided "
        "by sampling luck at this size, whichever side the point estimate falls.",
        "",
        "| target | value | 95 % interval | n | goal | met |",
        "|---|---:|---|---:|---|---|",
    ]
    for t in summary["targets"]:
        v = (
            "-"
            if t["value"] is None
            else (f"{t['value']:.3f}" if isinstance(t["value"], float) else t["value"])
        )
        ci = "" if not t.get("interval") else f"{t['interval'][0]:.3f} – {t['interval'][1]:.3f}"
        # An (info) row has no goal, so nothing to meet.
        met = "–" if t["goal"] == "-" else ("yes" if t["met"] else "NO")
        out.append(f"| {t['target']} | {v} | {ci} | {t['n']} | {t['goal']} | {met} |")
    out += [
        "",
        "Delay = intervals between the close of the burst's first interval and the alert "
        "(0 = alerted at the end of the first burst hour). A ramp 'of 5×' is normalised to a "
        "mean of 5× over its length, so it starts far below 5× (a 24 h ramp at 1.3×, a 12 h one "
        "at 1.6×) and only runs at 5× usual after about half its length; the rows 'from the "
        "first interval at >= 5x usual' count its delay from that interval instead (identical "
        "to the plain delay for steps and decays; 0 if the alert came earlier). Both are "
        "reported; the plain one, measured from the ramp's first hour, is the stricter.",
        "",
        "The Poisson oracle rows show what these windows and thresholds reach when nothing has "
        "to be estimated: the oracle knows every hour's true mean, sees pure Poisson counts (no "
        "day level, no overdispersion) and uses the detector's windows, thresholds, minimum "
        "extra, deadline and silence after an alert. It is run twice: at the detector's own "
        "thresholds, where it spends about as much of the false-alert budget as the detector "
        "does on the synthetic backgrounds, and at the loosest multiple of them that keeps its "
        "own false alerts within 0.05 a keyword-week. This is not a bound on every conceivable "
        "test, but it locates the gap: at 20/day the oracle stays near 0.6–0.7 for 3× over 6 h "
        "even when it spends the whole budget, and the pooled ≥ 20/day target of 0.6 is within "
        "its reach only through the 50/day backgrounds. Half of the pool (the daily-level and "
        "NAB backgrounds) carries variability the oracle never faces.",
        "",
        "Why the p90 delay from burst start misses while the one from the first interval at 5× "
        "meets: a 24 h ramp 'of 5×' adds only 3.2× the usual hourly rate in total over its first "
        "four hours (2.7 mentions at 20/day, below the minimum extra of 3; 6.7 against ~8 "
        "expected at 50/day, a ~1e-2 event), a 12 h one 6.2× and a 24 h ramp of 10× 7.2×; these "
        "three ramp cells are about 12 % of the detected ≥ 5× bursts and almost all of them "
        "(9 % of the detections on the tuning seeds) alert after their fourth hour. The Poisson "
        "oracle rows measure the same thing without any estimation: on these bursts at 20 and "
        "50/day, with no day level and no overdispersion, it is itself more than three "
        "intervals late on 8–9 % of its detections, even when it spends the whole budget, "
        "against the 10 % that p90 ≤ 3 allows. A detector that must estimate the mean on "
        "backgrounds with a day level and overdispersion needs more evidence than the oracle "
        "for the same false-alert budget, so this target is not expected to be met for this "
        "burst mix; measured from the first hour at 5× usual it is.",
        "",
        f"Evaluating 1,000 watches for one interval (JSON state load + step + dump): "
        f"{timing['watches_1000_s'] * 1000:.0f} ms "
        f"({timing['per_watch_us']:.0f} µs a watch; baseline json round trip alone "
        f"{timing['json_only_s'] * 1000:.0f} ms, ratio {timing['ratio_to_json']:.1f}×).",
    ]
    return "\n".join(out)


def time_watches(n: int = 1000) -> dict:
    """Time stepping n watches with a full 30-day history, state kept as JSON like the live system."""
    rng = np.random.default_rng(7)
    det = Detector(DetectorConfig())
    series = synthetic(rng, 20, WARMUP_DAYS + 1, False, "timing")
    st = new_state()
    times = _intervals(series)
    for i in range(len(times) - 1):
        det.advance(st, Interval(times[i], int(series.mentions[i]), int(series.articles[i])))
    blob = json.dumps(st)
    blobs = [blob] * n
    last = Interval(times[-1], int(series.mentions[-1]), int(series.articles[-1]))
    t = time.perf_counter()
    for b in blobs:
        json.dumps(json.loads(b))
    json_only = time.perf_counter() - t
    t = time.perf_counter()
    for b in blobs:
        s2 = json.loads(b)
        det.advance(s2, last)
        json.dumps(s2)
    total = time.perf_counter() - t
    return {
        "watches": n,
        "watches_1000_s": total * 1000 / n,
        "per_watch_us": total / n * 1e6,
        "json_only_s": json_only * 1000 / n,
        "ratio_to_json": total / json_only if json_only else float("nan"),
        "state_bytes": len(blob),
    }


def _override(text: str) -> object:
    """`--set` values: numbers, true/false, or comma-separated tuples (windows, window_alphas)."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if "," in text:
        return tuple(_override(x) for x in text.split(",") if x)
    try:
        return int(text)
    except ValueError:
        return float(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--seed",
        type=int,
        default=EVAL_SEED,
        help=f"random seed (reported figures: {EVAL_SEED}; tuning used {TUNE_SEED})",
    )
    ap.add_argument("--nb-shape", type=float, default=NB_SHAPE, help="per-interval NB shape")
    ap.add_argument("--series", type=int, default=24, help="series per synthetic background")
    ap.add_argument("--weeks", type=int, default=10, help="evaluated weeks per synthetic series")
    ap.add_argument(
        "--burst-series",
        type=int,
        default=4,
        help="synthetic series per background with bursts (NAB: the same total over all keywords)",
    )
    ap.add_argument(
        "--per-cell", type=int, default=10, help="bursts per shape×mult×length per series"
    )
    ap.add_argument(
        "--nab-seeds",
        type=int,
        default=4,
        help="independent thinnings of each NAB series (false alerts use all; bursts the first)",
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="detector override key=value")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    args.overrides = {k: _override(v) for k, v in (x.split("=", 1) for x in args.set)}
    if args.quick:
        args.series, args.weeks, args.per_cell, args.nab_seeds, args.burst_series = 4, 6, 4, 1, 1
    t0 = time.perf_counter()
    result = evaluate(args)
    timing = time_watches()
    summary = summarise(result)
    md = markdown(result, summary, timing)
    print(md)
    elapsed = time.perf_counter() - t0
    command = ".venv/bin/python bench/alerts.py" + " ".join(sys.argv[1:]).join(
        [" ", ""] if len(sys.argv) > 1 else ["", ""]
    )
    print(f"\n(run took {elapsed:.0f} s; command: {command})")
    if args.seed == EVAL_SEED and not args.quick and not args.set and args.out == RESULTS:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(
            "# Spike alerts: evaluation\n\n"
            "Written by `bench/alerts.py` (do not edit by hand). Reproduce with:\n\n"
            f"    {command}\n\n" + md + "\n"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": command,
        "nb_shape": args.nb_shape,
        "seed": args.seed,
        "config": result["config"],
        "backgrounds": result["backgrounds"],
        "recall": recall_table(result["bursts"]),
        "targets": summary["targets"],
        "timing": timing,
        "elapsed_s": round(elapsed, 1),
    }
    args.out.write_text(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
