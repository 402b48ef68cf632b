"""Backtest: read a `time,mentions,articles` CSV and replay it through the live detector."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from alerts.detect import Detector, DetectorConfig, Interval, new_state

MAX_ROWS = 2_000_000


class BacktestError(ValueError):
    """A CSV that cannot be replayed; the message names the line."""


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
    try:
        f = float(value)
    except ValueError:
        raise BacktestError(f"line {line}: {name} {value!r} is not a number") from None
    if f < 0 or f != f or f > 1e9:
        raise BacktestError(f"line {line}: {name} must be a count >= 0")
    return int(round(f))


def read_series(text: str) -> list[Interval]:
    """Parse the CSV (header required: time, mentions, articles; optional outlets)."""
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    missing = [c for c in ("time", "mentions", "articles") if c not in fields]
    if missing:
        raise BacktestError(f"header: missing column(s) {', '.join(missing)}")
    reader.fieldnames = fields
    out: list[Interval] = []
    lines: dict[datetime, int] = {}
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS:
            raise BacktestError(f"more than {MAX_ROWS} rows")
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        # A short or long row is a broken export, not zeros: nothing is guessed.
        if None in row:
            raise BacktestError(f"line {n}: more fields than the header")
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
        out.append(
            Interval(
                start=start,
                mentions=_parse_count(row["mentions"], "mentions", n),
                articles=_parse_count(row["articles"], "articles", n),
                outlets=outlets,
            )
        )
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
) -> Iterator[dict[str, Any]]:
    """Yield the notifications the live system would have sent, in order."""
    cfg = replace(
        config or DetectorConfig(),
        interval_seconds=interval_seconds or infer_interval(series),
        sensitivity=sensitivity,
    )
    check_spacing(series, cfg.interval_seconds)
    det = Detector(cfg)
    state = new_state()
    for iv in series:
        note = det.advance(state, iv)
        if note is not None:
            yield note
