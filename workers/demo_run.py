"""`newswatch demo`: the real pipeline on the embedded default against local outlets, then a summary."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

DEMO_WATCHES = """\
# Demo watches: keywords the demo outlets mention.
[[watch]]
id = "sarmat"
terms = ["Sarmat*", "Сармат*"]
recipients = ["analyst@example.org"]

[[watch]]
id = "kaliningrad"
terms = ["Kaliningrad"]
recipients = ["analyst@example.org"]
"""


def run_demo(*, keep: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Serve the demo outlets on 127.0.0.1, ingest them twice (the second poll adds nothing)."""
    from workers import runtime
    from workers import settings as settings_module
    from workers.demo.farm import Farm

    data_dir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    saved = {k: v for k, v in os.environ.items() if k.startswith("NEWSWATCH_")}
    saved_env_file = settings_module.ENV_FILE
    try:
        # Neither the environment nor a `.env` file in the current directory may point the demo
        # at a configured database, broker or SMTP server: it writes demo data and emails.
        settings_module.ENV_FILE = None
        with Farm() as farm:
            outlets_dir = farm.outlets_dir(data_dir / "outlets")
            watches = data_dir / "watches.toml"
            if not watches.exists():
                watches.write_text(DEMO_WATCHES, encoding="utf-8")
            # The demo is the embedded default in its own folder: clear any configured servers.
            for key in list(os.environ):
                if key.startswith("NEWSWATCH_"):
                    del os.environ[key]
            os.environ.update(
                NEWSWATCH_DATA_DIR=str(data_dir),
                NEWSWATCH_OUTLETS_DIR=str(outlets_dir),
                NEWSWATCH_WATCHES_FILE=str(watches),
                NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
                NEWSWATCH_PER_HOST_SPACING="0",
                NEWSWATCH_PER_HOST_CONCURRENCY="8",
            )
            runtime.reset()
            from workers.oneshot import poll_once
            from workers.settings import get_settings

            settings = get_settings()
            first = poll_once(settings, progress=progress)
            second = poll_once(settings, all_feeds=True, progress=False)
            alerts = evaluate_and_deliver(settings)
            summary = summarize(settings) | {
                "feeds_polled": first["feeds_polled"],
                "feed_errors": first["feed_errors"],
                "second_poll_new_articles": second["articles_processed"],
                "alerts_written": alerts,
                "data_dir": str(data_dir) if keep else "(temporary, removed)",
            }
    finally:
        settings_module.ENV_FILE = saved_env_file
        for key in [k for k in os.environ if k.startswith("NEWSWATCH_")]:
            del os.environ[key]
        os.environ.update(saved)
        runtime.reset()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return summary


def evaluate_and_deliver(settings: Any) -> int:
    from alerts.delivery import deliver_pending
    from alerts.service import evaluate_watches
    from workers import runtime
    from workers.tasks import current_watches

    engine = runtime.get_engine(settings)
    alerts = evaluate_watches(
        engine,
        now=datetime.now(UTC),
        interval_seconds=settings.alert_interval_seconds,
        watches=current_watches(),
        mail_from=settings.mail_from,
    )
    deliver_pending(
        engine,
        smtp_url=None,
        outbox_dir=settings.effective_outbox_dir,
        now=datetime.now(UTC),
    )
    return len(alerts)


def summarize(settings: Any) -> dict[str, Any]:
    from storage.models import Article, Comment, FeedEntry, RemovedSpan, Story
    from workers import runtime

    with Session(runtime.get_engine(settings)) as s:

        def count(q: Any) -> int:
            return int(s.exec(q).one())

        stored = count(select(func.count()).select_from(Article).where(Article.status == "stored"))
        copies = count(
            select(func.count()).select_from(Article).where(Article.copy_of_id.is_not(None))
        )  # type: ignore[union-attr]
        entries = count(select(func.count()).select_from(FeedEntry))
        entry_articles = count(select(func.count(func.distinct(FeedEntry.article_id))))
        return {
            "feed_entries": entries,
            "articles_stored": stored,
            "unique_articles": stored - copies,
            # Two kinds of merge: feed entries that named an already-known canonical URL, and
            # stored articles linked as copies of another outlet's article.
            "duplicates_merged": (entries - entry_articles) + copies,
            "url_duplicates_merged": entries - entry_articles,
            "copies_linked": copies,
            "articles_failed": count(
                select(func.count()).select_from(Article).where(Article.status == "failed")
            ),
            "comments_separated": count(select(func.count()).select_from(Comment)),
            "spans_removed": count(select(func.count()).select_from(RemovedSpan)),
            "stories": count(select(func.count()).select_from(Story)),
        }
