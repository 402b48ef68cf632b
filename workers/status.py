"""`newswatch status`: workers, queues, feed freshness, last hour's ingest, latency and drift at a glance."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.models import Article, Feed, Heartbeat
from workers.settings import Settings

OVERDUE_AFTER = timedelta(minutes=10)  # due for longer than this = the dispatcher is not keeping up
LATENCY_SAMPLE = 20_000


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def workers_via_broker(celery_app: Any, *, timeout: float = 1.5) -> list[dict[str, Any]]:
    replies = celery_app.control.inspect(timeout=timeout).ping() or {}
    active = celery_app.control.inspect(timeout=timeout).active_queues() or {}
    return [
        {
            "name": name,
            "alive": True,
            "queues": sorted(q.get("name", "") for q in active.get(name, [])),
        }
        for name in sorted(replies)
    ]


def feed_counts(engine: Engine, *, now: datetime) -> dict[str, int]:
    t = Feed.__table__  # type: ignore[attr-defined]
    enabled = t.c.disabled_at.is_(None)
    with Session(engine) as s:

        def count(*where: Any) -> int:
            return int(s.execute(select(func.count()).select_from(t).where(*where)).scalar_one())

        return {
            "total": count(),
            "due": count(enabled, t.c.next_check_at <= now),
            "overdue": count(enabled, t.c.next_check_at <= now - OVERDUE_AFTER),
            "failing": count(enabled, t.c.error_count > 0),
            "disabled": count(t.c.disabled_at.is_not(None)),
        }


def ingest_last_hour(engine: Engine, *, now: datetime) -> dict[str, Any]:
    t = Article.__table__  # type: ignore[attr-defined]
    since = now - timedelta(hours=1)
    with Session(engine) as s:
        stored = s.execute(
            select(t.c.copy_of_id.is_(None), func.count())
            .where(t.c.status == "stored", t.c.stored_at >= since)
            .group_by(t.c.copy_of_id.is_(None))
        ).all()
        by_status = dict(
            s.execute(
                select(t.c.status, func.count())
                .where(t.c.status.in_(("pending", "failed")))
                .group_by(t.c.status)
            ).all()
        )
        rows = s.execute(
            select(t.c.first_seen_at, t.c.feed_published, t.c.stored_at)
            .where(t.c.status == "stored", t.c.stored_at >= since, t.c.copy_of_id.is_(None))
            .order_by(t.c.stored_at.desc())
            .limit(LATENCY_SAMPLE)
        ).all()
    originals = sum(int(c) for is_original, c in stored if is_original)
    copies = sum(int(c) for is_original, c in stored if not is_original)
    seen, published = [], []
    for first_seen_at, feed_published, stored_at in rows:
        stored_at = _utc(stored_at)
        if stored_at is None:
            continue
        if first_seen_at is not None:
            seen.append(max(0.0, (stored_at - _utc(first_seen_at)).total_seconds()))  # type: ignore[operator]
        if feed_published is not None:
            delta = (stored_at - _utc(feed_published)).total_seconds()  # type: ignore[operator]
            if delta >= 0:
                published.append(delta)

    def summary(values: list[float]) -> dict[str, Any]:
        return {
            "n": len(values),
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "mean": statistics.fmean(values) if values else None,
        }

    return {
        "stored": originals,
        "duplicates": copies,
        "pending_total": int(by_status.get("pending", 0)),
        "failed_total": int(by_status.get("failed", 0)),
        "latency_seconds": {
            "first_seen_to_stored": summary(seen),
            "published_to_stored": summary(published),
        },
    }


def heartbeats(engine: Engine, *, now: datetime) -> list[dict[str, Any]]:
    with Session(engine) as s:
        rows = s.execute(select(Heartbeat.name, Heartbeat.at)).all()  # type: ignore[call-overload]
    out = []
    for name, at in sorted(rows):
        when = _utc(at)
        if when is None or str(name).startswith("health:"):
            continue  # health probe echoes are not process heartbeats
        out.append(
            {
                "name": name,
                "at": when.isoformat(),
                "age_seconds": round((now - when).total_seconds(), 1),
            }
        )
    return out


def degraded_outlets(engine: Engine) -> list[dict[str, Any]]:
    from alerts.drift import open_events

    return [
        {
            "outlet": e.subject,
            "since": _utc(e.opened_at).isoformat(),  # type: ignore[union-attr]
            "reasons": (e.details or {}).get("reasons", []),
            "baseline": (e.details or {}).get("baseline", {}),
            "recent": (e.details or {}).get("recent", {}),
        }
        for e in open_events(engine)
    ]


def collect_status(
    settings: Settings,
    engine: Engine,
    *,
    now: datetime,
    celery_app: Any | None = None,
    redis: Any | None = None,
) -> dict[str, Any]:
    """Everything `newswatch status` shows, as plain data (the JSON format prints this)."""
    from workers.metrics import redis_queue_depths, sql_queue_depths

    data: dict[str, Any] = {
        "time": now.isoformat(),
        "broker": "embedded" if settings.embedded_broker else "redis",
        "problems": [],
    }
    if settings.embedded_broker:
        data["workers_source"] = "heartbeats (the embedded SQLite broker has no broadcast)"
        data["workers"] = []
        try:
            data["queues"] = sql_queue_depths(settings.effective_broker_url)
        except Exception as exc:
            data["queues"] = {}
            data["problems"].append(f"queue depths unavailable: {type(exc).__name__}")
    else:
        data["workers_source"] = "broker ping"
        try:
            data["workers"] = workers_via_broker(celery_app) if celery_app is not None else []
        except Exception as exc:
            data["workers"] = []
            data["problems"].append(f"broker ping failed: {type(exc).__name__}")
        try:
            data["queues"] = redis_queue_depths(redis) if redis is not None else {}
        except Exception as exc:
            data["queues"] = {}
            data["problems"].append(f"queue depths unavailable: {type(exc).__name__}")
        if not data["workers"]:
            data["problems"].append("no worker answered the broker ping")
    data["heartbeats"] = heartbeats(engine, now=now)
    beat = next((h for h in data["heartbeats"] if h["name"] == "beat"), None)
    if beat is None or beat["age_seconds"] > 90:
        data["problems"].append("beat heartbeat missing or older than 90 s")
    data["feeds"] = feed_counts(engine, now=now)
    if data["feeds"]["overdue"]:
        data["problems"].append(f"{data['feeds']['overdue']} feeds overdue")
    data["last_hour"] = ingest_last_hour(engine, now=now)
    data["degraded_outlets"] = degraded_outlets(engine)
    if data["degraded_outlets"]:
        data["problems"].append(f"{len(data['degraded_outlets'])} outlets with degraded extraction")
    return data


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def render(data: dict[str, Any], console: Console) -> None:
    """The Rich view of collect_status's data."""
    workers = Table(title=f"workers ({data['workers_source']})", expand=True)
    workers.add_column("name")
    workers.add_column("queues / age")
    for w in data["workers"]:
        workers.add_row(Text(w["name"], style="green"), ", ".join(w.get("queues", [])))
    for h in data["heartbeats"]:
        style = "green" if h["age_seconds"] <= 90 else "red"
        workers.add_row(Text(f"heartbeat {h['name']}", style=style), _fmt_seconds(h["age_seconds"]))
    if not data["workers"] and data["broker"] == "redis":
        workers.add_row(Text("no worker answered", style="red"), "")

    queues = Table(title="queues", expand=True)
    queues.add_column("queue")
    queues.add_column("waiting", justify="right")
    for name, depth in data["queues"].items():
        queues.add_row(name, str(depth))

    feeds = Table(title="feeds", expand=True)
    feeds.add_column("state")
    feeds.add_column("count", justify="right")
    for key, value in data["feeds"].items():
        style = "red" if key in ("overdue", "failing") and value else ""
        feeds.add_row(key, Text(str(value), style=style))

    hour = data["last_hour"]
    ingest = Table(title="last hour", expand=True)
    ingest.add_column("figure")
    ingest.add_column("value", justify="right")
    ingest.add_row("stored (new)", str(hour["stored"]))
    ingest.add_row("copies linked", str(hour["duplicates"]))
    ingest.add_row("pending (all)", str(hour["pending_total"]))
    ingest.add_row("failed (all)", str(hour["failed_total"]))
    for label, key in (
        ("seen→stored", "first_seen_to_stored"),
        ("published→stored", "published_to_stored"),
    ):
        lat = hour["latency_seconds"][key]
        ingest.add_row(
            f"{label} p50 / p95",
            f"{_fmt_seconds(lat['p50'])} / {_fmt_seconds(lat['p95'])} (n={lat['n']})",
        )

    drift = Table(title="outlets with degraded extraction", expand=True)
    drift.add_column("outlet")
    drift.add_column("since")
    drift.add_column("what dropped")
    for d in data["degraded_outlets"]:
        drift.add_row(Text(d["outlet"], style="red"), d["since"][:16], ", ".join(d["reasons"]))
    if not data["degraded_outlets"]:
        drift.add_row(Text("none", style="green"), "", "")

    problems = data["problems"]
    headline = (
        Text("all good", style="bold green")
        if not problems
        else Text("\n".join(f"• {p}" for p in problems), style="bold red")
    )
    console.print(
        Panel(
            Group(headline, workers, queues, feeds, ingest, drift),
            title=f"newswatch status · {data['time'][:19]}Z · broker {data['broker']}",
        )
    )
