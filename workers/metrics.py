"""Prometheus metrics of the workers (multiprocess-safe when PROMETHEUS_MULTIPROC_DIR is set).

Counters and histograms are written by the worker processes; queue depth and per-outlet extraction
quality are read from Redis and the database when the exporter is scraped, so they are never stale
and need no dead-process cleanup.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any


def _enable_multiprocess() -> None:
    # prometheus_client picks its value class when first imported, so the directory must be in
    # the environment before that import; settings.metrics_dir is the documented way to set it.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        return
    try:
        from workers.settings import get_settings

        metrics_dir = get_settings().metrics_dir
    except Exception:  # settings errors surface elsewhere; metrics must never break a task
        return
    if metrics_dir:
        Path(metrics_dir).mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(metrics_dir).resolve())


_enable_multiprocess()

from prometheus_client import (  # noqa: E402
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402


def _process_identifier() -> str:
    """Host and pid: containers scaled out (`--scale worker=3`) share one metrics volume, and
    each numbers its processes from 1, so a pid alone names the same file in all of them."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "host"
    return f"{host}-{os.getpid()}"


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    from prometheus_client import values as _values  # noqa: E402

    # Read when each metric is created, so set before the first one below.
    _values.ValueClass = _values.MultiProcessValue(process_identifier=_process_identifier)

# Seconds; ingest runs from a few seconds (demo) to hours (slow feeds, backlog after an outage).
LATENCY_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, float("inf"))
# Publishers often state a publish time before the item appears in the feed, so wider buckets.
PUBLISH_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 21600, 86400, 259200, float("inf"))

POLLS = Counter("newswatch_polls_total", "Feed polls by outcome", ["outcome", "error_kind"])
ARTICLES = Counter(
    "newswatch_articles_total", "Articles processed by status and dedup result", ["status", "dedup"]
)
INGESTED = Counter("newswatch_articles_ingested_total", "Articles stored as new originals")
DEDUPLICATED = Counter(
    "newswatch_articles_deduplicated_total", "Articles recognised as copies", ["kind"]
)
LATENCY_FIRST_SEEN = Histogram(
    "newswatch_ingest_latency_seconds",
    "Time from first seeing an entry in a feed to storing its article",
    buckets=LATENCY_BUCKETS,
)
LATENCY_PUBLISHED = Histogram(
    "newswatch_publish_to_store_seconds",
    "Time from the feed's stated publish time to storing the article",
    buckets=PUBLISH_BUCKETS,
)

QUEUES = ("feeds", "articles", "alerts")
COPY_KINDS = ("exact", "near", "url")  # storage.dedup kinds that mean "a copy of another"


def observe_poll(outcome: Any) -> None:
    POLLS.labels(
        outcome=str(outcome.outcome), error_kind=getattr(outcome, "error_kind", None) or ""
    ).inc()


def observe_article(outcome: Any) -> None:
    """Count a processed article; latencies are taken from the outcome when it carries them."""
    dedup = getattr(outcome, "dedup", None) or ""
    ARTICLES.labels(status=str(outcome.status), dedup=dedup).inc()
    if outcome.status != "stored":
        return
    if dedup in COPY_KINDS:
        DEDUPLICATED.labels(kind=dedup).inc()
        return
    if dedup not in ("", "new"):
        return  # a new version or an unchanged re-fetch of an article stored before
    INGESTED.inc()
    observe_latency(
        first_seen_at=getattr(outcome, "first_seen_at", None),
        feed_published=getattr(outcome, "feed_published", None),
        stored_at=getattr(outcome, "stored_at", None),
    )


def observe_latency(
    *, first_seen_at: datetime | None, feed_published: datetime | None, stored_at: datetime | None
) -> None:
    if stored_at is None:
        return
    if first_seen_at is not None:
        LATENCY_FIRST_SEEN.observe(max(0.0, (stored_at - first_seen_at).total_seconds()))
    if feed_published is not None:
        # A publish time in the future (bad clock, scheduled post) says nothing about our latency.
        delta = (stored_at - feed_published).total_seconds()
        if delta >= 0:
            LATENCY_PUBLISHED.observe(delta)


# ---------------------------------------------------------------- scrape-time collectors


def redis_queue_depths(client: Any, queues: Iterable[str] = QUEUES) -> dict[str, int]:
    """LLEN of each queue, summing kombu's per-priority lists (`name`, `name\\x06\\x16N`)."""
    depths = {}
    for name in queues:
        keys = [name] + [f"{name}\x06\x16{p}" for p in range(1, 10)]
        pipe = client.pipeline()
        for key in keys:
            pipe.llen(key)
        depths[name] = int(sum(pipe.execute()))
    return depths


def sql_queue_depths(broker_url: str, queues: Iterable[str] = QUEUES) -> dict[str, int]:
    """Visible messages per queue in kombu's SQL transport (the embedded default)."""
    from sqlalchemy import create_engine, text

    depths = dict.fromkeys(queues, 0)
    url = broker_url.removeprefix("sqla+")
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return depths  # no broker file yet: nothing queued, and a probe must not create one
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT q.name, COUNT(m.id) FROM kombu_queue q "
                    "LEFT JOIN kombu_message m ON m.queue_id = q.id AND m.visible "
                    "GROUP BY q.name"
                )
            ).all()
    except Exception:  # the transport creates its tables lazily; none yet means nothing queued
        rows = []
    finally:
        engine.dispose()
    for name, count in rows:
        if name in depths:
            depths[name] = int(count)
    return depths


class QueueDepthCollector(Collector):
    def __init__(self, depths: Callable[[], dict[str, int]]) -> None:
        self._depths = depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "newswatch_queue_depth", "Messages waiting in a broker queue", labels=["queue"]
        )
        up = GaugeMetricFamily("newswatch_broker_up", "1 when the broker answered the scrape")
        try:
            for queue, depth in sorted(self._depths().items()):
                family.add_metric([queue], depth)
            up.add_metric([], 1)
        except Exception:
            up.add_metric([], 0)
        yield family
        yield up


class QualityCollector(Collector):
    """Per-outlet extraction quality of the newest window, cached so scrapes stay cheap."""

    def __init__(self, engine: Any, *, window: int = 20, ttl: float = 60.0) -> None:
        self._engine = engine
        self._window = window
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any], set[str]] | None = None

    def _read(self) -> tuple[dict[str, Any], set[str]]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self._ttl:
                return self._cached[1], self._cached[2]
            from alerts.drift import open_events
            from storage.health import missing_database
            from storage.quality import outlet_quality

            # Scrapes start before `db upgrade` on a fresh machine: opening a SQLite file
            # that is not there would create an empty one that later passes for a database.
            if missing_database(self._engine.url.render_as_string(hide_password=True)):
                raise LookupError("no database yet")
            quality = outlet_quality(self._engine, window=self._window)
            drifted = {e.subject for e in open_events(self._engine)}
            self._cached = (time.monotonic(), quality, drifted)
            return quality, drifted

    def collect(self) -> Iterator[GaugeMetricFamily]:
        specs = (
            ("newswatch_extraction_body_chars", "Median body length (chars), newest articles"),
            ("newswatch_extraction_author_share", "Share of newest articles with an author"),
            ("newswatch_extraction_date_share", "Share of newest articles with a publish date"),
            (
                "newswatch_extraction_leftover_share",
                "Share of newest articles with suspected leftover comments or boilerplate",
            ),
            ("newswatch_extraction_short_share", "Share of newest articles with a short body"),
            ("newswatch_extraction_drift", "1 while an extraction drift alarm is open"),
        )
        families = {name: GaugeMetricFamily(name, doc, labels=["outlet"]) for name, doc in specs}
        try:
            quality, drifted = self._read()
        except Exception:
            return
        for outlet, q in sorted(quality.items()):
            families["newswatch_extraction_body_chars"].add_metric([outlet], q.median_body_chars)
            families["newswatch_extraction_author_share"].add_metric([outlet], q.share_with_author)
            families["newswatch_extraction_date_share"].add_metric([outlet], q.share_with_date)
            families["newswatch_extraction_leftover_share"].add_metric([outlet], q.share_leftover)
            families["newswatch_extraction_short_share"].add_metric([outlet], q.share_short_body)
            families["newswatch_extraction_drift"].add_metric([outlet], int(outlet in drifted))
        yield from families.values()


def build_registry(
    *, engine: Any | None = None, depths: Callable[[], dict[str, int]] | None = None
) -> CollectorRegistry:
    """The exporter's registry: worker counters (all processes) plus scrape-time gauges."""
    registry = CollectorRegistry()
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=multiproc)
    else:
        # Single process (tests, `poll --once`): this process's own metric objects.
        for metric in (
            POLLS,
            ARTICLES,
            INGESTED,
            DEDUPLICATED,
            LATENCY_FIRST_SEEN,
            LATENCY_PUBLISHED,
        ):
            registry.register(metric)
    if depths is not None:
        registry.register(QueueDepthCollector(depths))
    if engine is not None:
        registry.register(QualityCollector(engine))
    return registry


def exposition(registry: CollectorRegistry) -> str:
    """The text a scrape of the registry returns (what tests and `metrics-serve` share)."""
    return generate_latest(registry).decode("utf-8")


def serve(registry: CollectorRegistry, *, port: int, address: str = "127.0.0.1") -> Any:
    """Start the exporter's HTTP server in a thread; returns (server, thread)."""
    return start_http_server(port, addr=address, registry=registry)
