"""Backtest: read a `time,mentions,articles` CSV and replay it through the live detector."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from alerts.detect import Detector, DetectorConfig, Interval, new_state

MAX_ROWS = 2_000_000


class BacktestError(ValueError):
    """A CSV that cannot be replayed; the message names the line."""


@dataclass
class History:
    """How much history the detector had to judge by, filled in by `run_backtest` as it goes."""

    span_days: float = 0.0  # first interval start to last interval end
    baseline_days: float = 0.0  # the longest baseline seen, in days of intervals with articles
    ready: bool = False  # the baseline was long enough to fire at some interval
    min_days: float = 0.0  # DetectorConfig.min_history_days
    recent_days: int = 0  # DetectorConfig.exclude_recent_days

    def why_silent(self) -> str | None:
        """Why no notification could be sent, or None when the detector could have fired."""
        if self.ready:
            return None
        recent = (
            "the current and the previous day"
            if self.recent_days == 1
            else f"the current day and the {self.recent_days} before it"
        )
        return (
            f"nothing could fire: {_amount(self.span_days)} of history, "
            f"{_amount(self.baseline_days)} of it usable as baseline; the detector fires only "
            f"after {_amount(self.min_days)} of baseline (which leaves out {recent}, and "
            "intervals with no articles)"
        )


def _amount(days: float) -> str:
    if 0 < days < 1:
        hours = float(f"{days * 24:.3g}")
        return f"{hours:g} hour{'' if hours == 1 else 's'}"
    return f"{float(f'{days:.3g}'):g} day{'' if days == 1 else 's'}"


def _parse_time(value: str, line: int) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (ValueError, OverflowError):  # overflow: e.g. year 1 with a positive UTC offset
        raise BacktestError(f"line {line}: time {value!r} is not an ISO 8601 time") from None


def _parse_count(value: str, name: str, line: int) -> int:
    text = value.strip()
    try:
        f = float(text)
    except ValueError:
        raise BacktestError(f"line {line}: {name} {text!r} is not a number") from None
    if f < 0 or f != f or f > 1e9:
        raise BacktestError(f"line {line}: {name} must be a count >= 0")
    # A count is whole: 1.7 mentions is a broken export (an average, a rate), not a rounding
    # question. "2.0" or "1e3", as spreadsheets write whole numbers, are still counts.
    if not f.is_integer():
        raise BacktestError(f"line {line}: {name} {text!r} is not a whole number")
    return int(f)


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on; a syntax error names that line.

    Strict parsing: an unclosed quote would otherwise swallow the rest of the file into one
    field and surface as a missing value.
    """
    reader = csv.reader(io.StringIO(text), strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            why = str(exc)
            if "unexpected end of data" in why:
                why = "a quoted field is never closed"
            raise BacktestError(f"line {start}: CSV syntax error: {why}") from None
        yield start, row
        start = reader.line_num + 1


def read_series(text: str) -> list[Interval]:
    """Parse the CSV (header required: time, mentions, articles; optional outlets).

    Each row must be possible: whole counts, and no more mentions than articles (a mention is
    counted in an article of the interval). A file with no data rows is an error.
    """
    records = _records(text)
    header = next(records, None)
    fields = [f.strip().lower() for f in (header[1] if header else [])]
    missing = [c for c in ("time", "mentions", "articles") if c not in fields]
    if missing:
        raise BacktestError(f"header: missing column(s) {', '.join(missing)}")
    repeated = sorted({f for f in fields if f and fields.count(f) > 1})
    if repeated:
        # Which of the two would be meant cannot be known; csv.DictReader kept the last.
        raise BacktestError(f"header: column {repeated[0]!r} appears more than once")
    out: list[Interval] = []
    lines: dict[datetime, int] = {}
    rows = 0
    for n, values in records:
        rows += 1
        if rows > MAX_ROWS:
            raise BacktestError(f"more than {MAX_ROWS} rows")
        if not any(v.strip() for v in values):
            continue
        # A short or long row is a broken export, not zeros: nothing is guessed.
        if len(values) > len(fields):
            raise BacktestError(f"line {n}: more fields than the header")
        row = dict(zip(fields, values, strict=False))
        for name in ("time", "mentions", "articles"):
            if not (row.get(name) or "").strip():
                raise BacktestError(f"line {n}: no value for {name}")
        outlets = None
        if row.get("outlets"):
            outlets = tuple(x for x in row["outlets"].split(";") if x)
        start = _parse_time(row["time"], n)
        if start in lines:
            raise BacktestError(f"line {n}: time {row['time'].strip()} repeats line {lines[start]}")
        lines[start] = n
        mentions = _parse_count(row["mentions"], "mentions", n)
        articles = _parse_count(row["articles"], "articles", n)
        if mentions > articles:
            raise BacktestError(
                f"line {n}: mentions {mentions} > articles {articles}; every mention is in an "
                "article of the interval, so articles counts them too"
            )
        out.append(Interval(start=start, mentions=mentions, articles=articles, outlets=outlets))
    if not out:
        raise BacktestError("no data rows (only a header)")
    out.sort(key=lambda iv: iv.start)
    return out


def check_spacing(series: list[Interval], interval_seconds: int) -> None:
    """Refuse rows that share one detector interval: the detector would keep only the first."""
    step = interval_seconds
    for a, b in zip(series, series[1:], strict=False):
        if int(a.start.timestamp()) // step == int(b.start.timestamp()) // step:
            raise BacktestError(
                f"times {a.start.isoformat()} and {b.start.isoformat()} fall in the same "
                f"{step}-second interval: sum the rows per interval or pass a smaller --interval"
            )


def infer_interval(series: list[Interval], default: int = 3600) -> int:
    """The most common spacing between consecutive rows (seconds)."""
    gaps: dict[int, int] = {}
    for a, b in zip(series, series[1:], strict=False):
        d = int((b.start - a.start).total_seconds())
        if d > 0:
            gaps[d] = gaps.get(d, 0) + 1
    if not gaps:
        return default
    return max(gaps.items(), key=lambda kv: (kv[1], -kv[0]))[0]


def run_backtest(
    series: list[Interval],
    *,
    interval_seconds: int | None = None,
    sensitivity: float = 1.0,
    config: DetectorConfig | None = None,
    history: History | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the notifications the live system would have sent, in order.

    `history`, when given, is updated with how much history the detector had (read from its
    state, the decisions untouched), so a silent run can say whether anything could fire.
    """
    cfg = replace(
        config or DetectorConfig(),
        interval_seconds=interval_seconds or infer_interval(series),
        sensitivity=sensitivity,
    )
    check_spacing(series, cfg.interval_seconds)
    det = Detector(cfg)
    state = new_state()
    if history is not None and series:
        history.min_days = cfg.min_history_days
        history.recent_days = cfg.exclude_recent_days
        span = series[-1].start - series[0].start
        history.span_days = span.total_seconds() / 86400 + cfg.interval_seconds / 86400
    for iv in series:
        note = det.advance(state, iv)
        if history is not None and state["base"] is not None:
            base = state["base"]
            history.ready = history.ready or bool(base["ready"])
            used = base["intervals"] * cfg.interval_seconds / 86400
            history.baseline_days = max(history.baseline_days, used)
        if note is not None:
            yield note
