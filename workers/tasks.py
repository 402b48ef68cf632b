"""Celery tasks: thin wrappers that take ids, call one plain function, and retry only transient errors."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from sources.politeness import DEFER_SECONDS

# Imported here, in the worker's main process, so pool children inherit the extractor and the
# pipeline instead of paying seconds of imports on their first task.
from workers import pipeline as _pipeline  # noqa: F401
from workers import runtime
from workers.settings import get_settings

# A deferred page (its host's politeness queue was full) comes back after the wait the queue
# named (or politeness.DEFER_SECONDS), plus up to this many seconds at random.
DEFER_SPREAD_SECONDS = 30.0
# An article met with an outlet registry that does not load (and no good one to fall back on)
# is tried again after this long.
REGISTRY_WAIT_SECONDS = 60.0

log = logging.getLogger("newswatch.tasks")
_synced: dict[str, Any] = {}  # per process: the outlet registry last mirrored into feeds


def _now() -> datetime:
    return datetime.now(UTC)


@shared_task(name="newswatch.dispatch_due_feeds", ignore_result=True)
def dispatch_due_feeds() -> int:
    """Claim the feeds due before the next dispatch (a lease in the database, so two beats never
    double-poll) and send each to be polled when it is due."""
    from workers.polling import claim_feeds_due_soon, sync_outlets

    settings = get_settings()
    engine = runtime.get_engine(settings)
    outlets = runtime.outlets_by_id(settings)
    # Outlet files change rarely; re-sync feeds only when the parsed registry is a new object.
    if _synced.get("outlets") is not outlets:
        sync_outlets(engine, list(outlets.values()), now=_now())
        _synced["outlets"] = outlets
    claimed = claim_feeds_due_soon(
        engine, now=_now(), horizon_seconds=settings.dispatch_interval_seconds
    )
    for feed_id, wait in claimed:
        # Without the look-ahead a feed waited for the next dispatch: up to a whole interval
        # (30 s by default) past its due time.
        if wait > 0:
            poll_feed.apply_async((feed_id,), countdown=wait)
        else:
            poll_feed.delay(feed_id)
    return len(claimed)


@shared_task(name="newswatch.poll_feed", bind=True, ignore_result=True, max_retries=0)
def poll_feed(self: Any, feed_id: int) -> dict[str, Any]:
    from workers.polling import poll_feed as poll

    settings = get_settings()
    outcome = poll(
        runtime.get_engine(settings),
        feed_id,
        client=runtime.get_http_client(settings),
        config=poll_config(),
        outlets=runtime.outlets_by_id(settings),
    )
    for article_id in [*outcome.new_article_ids, *outcome.refresh_article_ids]:
        process_article.delay(article_id)
    _metrics().observe_poll(outcome)
    return {"feed_id": feed_id, "outcome": outcome.outcome, "new": len(outcome.new_article_ids)}


class ArticleTask(Task):  # type: ignore[misc]
    """process_article's base: a hard time limit kills the child, so the parent records why."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        # Called in the worker's main process on a hard time limit (the child is gone); without
        # this the article would stay pending, since a timed-out task is not redelivered.
        if isinstance(exc, TimeLimitExceeded) and args:
            from workers.pipeline import mark_failed

            mark_failed(
                runtime.get_engine(),
                int(args[0]),
                f"time limit exceeded ({exc}): page too slow to process",
            )


@shared_task(
    name="newswatch.process_article", bind=True, base=ArticleTask, ignore_result=True, max_retries=4
)
def process_article(self: Any, article_id: int) -> dict[str, Any]:
    from sources.registry import OutletError
    from workers.pipeline import Deferred, TransientError, mark_failed, note_retry
    from workers.pipeline import process_article as process

    settings = get_settings()
    engine = runtime.get_engine(settings)

    def later(countdown: float) -> None:
        # Recorded first: the sweep for lost messages must not send another meanwhile.
        note_retry(engine, article_id, at=_now() + timedelta(seconds=countdown))

    try:
        outlets = runtime.outlets_by_id(settings)
    except OutletError:
        # The registry is broken and this worker never had a good one: the article is not at
        # fault, so it waits (no retry spent) until the outlet files are fixed.
        later(REGISTRY_WAIT_SECONDS)
        process_article.apply_async((article_id,), countdown=REGISTRY_WAIT_SECONDS)
        return {"article_id": article_id, "status": "deferred"}
    try:
        outcome = process(
            engine,
            article_id,
            client=runtime.get_http_client(settings),
            outlets=outlets,
            watches=current_watches(),
        )
    except SoftTimeLimitExceeded:
        mark_failed(engine, article_id, "time limit exceeded while processing the page")
        return {"article_id": article_id, "status": "failed"}
    except Deferred as exc:
        # Our own queue for the host was full, which says nothing about the page: a new task
        # with a fresh retry budget, spread over a little more than the wait the queue named
        # so that the deferred ones do not all come back in the same second.
        countdown = (exc.retry_after or DEFER_SECONDS) + random.uniform(0, DEFER_SPREAD_SECONDS)
        later(countdown)
        process_article.apply_async((article_id,), countdown=countdown)
        return {"article_id": article_id, "status": "deferred"}
    except TransientError as exc:
        if self.request.retries >= self.max_retries:
            mark_failed(engine, article_id, f"gave up after retries: {exc}")
            return {"article_id": article_id, "status": "failed"}
        countdown = exc.retry_after or min(600, 15 * 2**self.request.retries)
        later(countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:
        from storage.db import is_transient_db_error

        if is_transient_db_error(exc) and self.request.retries < self.max_retries:
            # (no note_retry: the database is what just failed)
            raise self.retry(exc=exc, countdown=5 * (self.request.retries + 1)) from exc
        # Anything else will fail the same way next time: record why, never leave it pending.
        mark_failed(engine, article_id, f"{type(exc).__name__}: {exc}")
        raise
    _metrics().observe_article(outcome)
    return {"article_id": article_id, "status": outcome.status, "dedup": outcome.dedup}


@shared_task(name="newswatch.evaluate_watches", ignore_result=True)
def evaluate_watches() -> int:
    from alerts.service import evaluate_watches as evaluate

    settings = get_settings()
    alerts = evaluate(
        runtime.get_engine(settings),
        now=_now(),
        interval_seconds=settings.alert_interval_seconds,
        watches=current_watches(),
        mail_from=settings.mail_from,
        unsubscribe_url=settings.unsubscribe_url or None,
        # an article in processing when an interval ended commits its mentions within a
        # task time limit; the interval is counted after that
        settle_seconds=settings.task_time_limit,
    )
    from alerts.drift import check_drift

    # The extraction drift alarm rides on the same schedule and outbox as keyword alerts.
    ops_events = check_drift(
        runtime.get_engine(settings),
        now=_now(),
        ops_email=settings.ops_email,
        mail_from=settings.mail_from,
    )
    if alerts or ops_events:
        deliver_outbox.delay()
    return len(alerts)


@shared_task(name="newswatch.send_alert", bind=True, ignore_result=True, max_retries=0)
def send_alert(self: Any, outbox_id: int) -> str:
    """Deliver one outbox message now (the periodic deliver_outbox catches anything missed)."""
    from alerts.delivery import deliver_one

    settings = get_settings()
    return deliver_one(
        runtime.get_engine(settings),
        outbox_id,
        smtp_url=settings.smtp_url.get_secret_value() or None,
        outbox_dir=settings.effective_outbox_dir,
        now=_now(),
    )


@shared_task(name="newswatch.deliver_outbox", ignore_result=True)
def deliver_outbox() -> dict[str, int]:
    from alerts.delivery import deliver_pending

    settings = get_settings()
    from alerts.delivery import SMTP_TIMEOUT

    report = deliver_pending(
        runtime.get_engine(settings),
        smtp_url=settings.smtp_url.get_secret_value() or None,
        outbox_dir=settings.effective_outbox_dir,
        now=_now(),
        # Room for one whole SMTP exchange (connect, send, quit) before the soft time limit.
        time_budget=max(0.0, settings.task_soft_time_limit - 3 * SMTP_TIMEOUT),
    )
    return report.as_dict() if hasattr(report, "as_dict") else {}


@shared_task(name="newswatch.maintenance", ignore_result=True)
def maintenance() -> int:
    """Drop story-index buckets older than the story window (the near-copy index is kept), and
    on the embedded default the broker's delivered messages, which kombu never deletes."""
    from storage.db import session_scope
    from storage.dedup import prune_story_index
    from workers.broker_sqlite import prune_delivered

    settings = get_settings()
    with session_scope(runtime.get_engine(settings)) as session:
        pruned = prune_story_index(session, before=_now() - timedelta(days=3))
    if settings.embedded_broker:
        removed = prune_delivered(settings.effective_broker_url, now=datetime.now())
        if removed:
            log.info("pruned delivered broker messages", extra={"count": removed})
    return pruned


@shared_task(name="newswatch.requeue_stalled", ignore_result=True)
def requeue_stalled() -> int:
    """Send again the articles left pending with no task to run them.

    A task message can be lost between the commit that creates an article and its publish (a
    worker killed there, or the broker down at that moment). Only when the articles queue is
    empty, and only articles with no task begun or due for two hard time limits (retries and
    deferrals wait inside the worker, invisible to the queue depth), so a message still
    queued, waiting or running is rarely sent twice; a second one is harmless (idempotent).
    """
    from workers.pipeline import pending_article_ids

    settings = get_settings()
    try:
        depth = runtime.queue_depths(settings, ["articles"])["articles"]
    except Exception:  # broker down: try again next period rather than guess
        return 0
    if depth != 0:
        return 0
    seen_before = _now() - timedelta(seconds=2 * settings.task_time_limit)
    ids = pending_article_ids(runtime.get_engine(settings), limit=500, seen_before=seen_before)
    for article_id in ids:
        process_article.delay(article_id)
    if ids:
        log.warning("re-sent stalled articles", extra={"count": len(ids)})
    return len(ids)


@shared_task(name="newswatch.revive_failed", ignore_result=True)
def revive_failed() -> int:
    """Try again the articles that failed only because their site was down for a while."""
    from workers.pipeline import revive_failed as revive

    ids = revive(runtime.get_engine(), now=_now())
    for article_id in ids:
        process_article.delay(article_id)
    if ids:
        log.info("revived articles that failed on a transient error", extra={"count": len(ids)})
    return len(ids)


@shared_task(name="newswatch.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Proves beat schedules and a worker consumes: status and health read this row."""
    from storage.health import record_heartbeat

    record_heartbeat(runtime.get_engine(), name="beat", now=_now())


def poll_config() -> Any:
    from workers.polling import PollConfig

    s = get_settings()
    return PollConfig(
        floor=s.poll_floor_seconds,
        ceiling=s.poll_ceiling_seconds,
        disable_after_days=s.disable_after_days,
        max_entries=s.max_entries_per_poll,
    )


def current_watches() -> list[Any]:
    return runtime.current_watches()


def _metrics() -> Any:
    from workers import metrics

    return metrics
