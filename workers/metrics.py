"""Prometheus metrics of the workers (multiprocess-safe when PROMETHEUS_MULTIPROC_DIR is set)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

POLLS = Counter("newswatch_polls_total", "Feed polls by outcome", ["outcome", "error_kind"])
ARTICLES = Counter("newswatch_articles_total", "Articles processed by status and dedup result", ["status", "dedup"])


def observe_poll(outcome: Any) -> None:
    POLLS.labels(outcome=outcome.outcome, error_kind=getattr(outcome, "error_kind", None) or "").inc()


def observe_article(outcome: Any) -> None:
    ARTICLES.labels(status=outcome.status, dedup=outcome.dedup or "").inc()
