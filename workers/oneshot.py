"""Synchronous polling without a broker: `newswatch poll --once`, the demo and tests call this."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import Progress

from workers import runtime
from workers.settings import Settings


def poll_once(
    settings: Settings, *, all_feeds: bool = False, progress: bool = False
) -> dict[str, Any]:
    """Poll due (or all) feeds, then process every new article; returns counts for a summary."""
    from storage.migrate import upgrade
    from workers import metrics
    from workers.pipeline import (
        Deferred,
        TransientError,
        mark_failed,
        pending_article_ids,
        process_article,
        revive_failed,
    )
    from workers.polling import due_feed_ids, poll_feed, sync_outlets
    from workers.tasks import current_watches, poll_config

    # The registry first: a broken one (OutletError) stops the run before it creates or
    # migrates a database and the HTTP client's files.
    outlets = runtime.outlets_by_id(settings)
    upgrade(settings.effective_database_url)
    engine = runtime.get_engine(settings)
    client = runtime.get_http_client(settings)
    now = datetime.now(UTC)
    sync_outlets(engine, list(outlets.values()), now=now)
    if all_feeds:
        from sqlmodel import Session, select

        from storage.models import Feed

        with Session(engine) as session:
            feed_ids = [
                int(i)
                for i in session.exec(select(Feed.id).where(Feed.disabled_at.is_(None))).all()
            ]  # type: ignore[union-attr]
    else:
        feed_ids = due_feed_ids(engine, now=now)
    outcomes: Counter[str] = Counter()
    dedup: Counter[str] = Counter()
    counts = Counter[str]()
    watches = current_watches()
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not progress) as bar:
        feeds_task = bar.add_task("polling feeds", total=len(feed_ids))
        for feed_id in feed_ids:
            outcome = poll_feed(
                engine, feed_id, client=client, config=poll_config(), outlets=outlets
            )
            metrics.observe_poll(outcome)
            outcomes[outcome.outcome] += 1
            bar.advance(feeds_task)
        # Articles that failed only because their site was down get their next try (cron
        # users have no beat to run the revival).
        revive_failed(engine, now=now)
        ids = pending_article_ids(engine)
        art_task = bar.add_task("processing articles", total=len(ids))
        for article_id in ids:
            try:
                result = process_article(
                    engine, article_id, client=client, outlets=outlets, watches=watches
                )
            except Deferred:
                # Nothing was sent: the article stays pending for the next run.
                counts["deferred"] += 1
            except TransientError as exc:
                mark_failed(engine, article_id, f"transient: {exc}")
                counts["failed"] += 1
            except Exception as exc:  # one bad page must not stop the run; its reason is kept
                mark_failed(engine, article_id, f"{type(exc).__name__}: {exc}")
                counts["failed"] += 1
            else:
                metrics.observe_article(result)
                counts[result.status] += 1
                if result.dedup:
                    dedup[result.dedup] += 1
                counts["comments"] += result.comments
                counts["mentions"] += len(result.mentions)
            bar.advance(art_task)
    return {
        "feeds_polled": len(feed_ids),
        "feeds_with_new_entries": outcomes.get("new", 0),
        "feed_errors": outcomes.get("error", 0),
        "articles_processed": len(ids),
        "articles_stored": counts.get("stored", 0),
        "articles_failed": counts.get("failed", 0),
        "articles_deferred": counts.get("deferred", 0),
        "duplicates_merged": sum(v for k, v in dedup.items() if k in ("exact", "near", "url")),
        "comments_separated": counts.get("comments", 0),
        "mentions": counts.get("mentions", 0),
    }
