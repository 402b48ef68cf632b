"""Prometheus metrics: counters summed across worker processes, queue depth and quality at scrape time."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from storage.db import create_all, make_engine
from storage.models import Article
from tests.conftest import NEWSWATCH, REPO, run_cli, wait_for
from tests.ops.conftest import base_env, start_process, stop_process
from tests.servers import free_port
from workers.metrics import build_registry, exposition, redis_queue_depths

# What one worker process observes; the test runs it in two processes with different numbers.
WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace as NS

    from workers import metrics

    new, dup = int(sys.argv[1]), int(sys.argv[2])
    stored = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    for i in range(new):
        metrics.observe_poll(NS(outcome="new", error_kind=None))
        metrics.observe_article(NS(
            status="stored", dedup="new", stored_at=stored,
            first_seen_at=stored - timedelta(seconds=20),
            feed_published=stored - timedelta(seconds=600),
        ))
    for i in range(dup):
        metrics.observe_article(NS(status="stored", dedup="exact"))
    metrics.observe_poll(NS(outcome="not_modified", error_kind=None))
    metrics.observe_poll(NS(outcome="error", error_kind="timeout"))
    metrics.observe_article(NS(status="failed", dedup=None))
    """
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def add_articles(url: str, outlet: str, bodies: list[str], *, authors: int) -> None:
    engine = make_engine(url)
    create_all(engine)
    now = datetime.now(UTC)
    with Session(engine) as s:
        for i, body in enumerate(bodies):
            link = f"https://{outlet}.example/{i}"
            s.add(
                Article(
                    outlet_id=outlet,
                    url=link,
                    canonical_url=link,
                    url_hash=hashlib.sha256(link.encode()).hexdigest(),
                    status="stored",
                    body=body,
                    authors=["Someone"] if i < authors else [],
                    published=now if i % 2 == 0 else None,
                    first_seen_at=now - timedelta(minutes=5),
                    stored_at=now - timedelta(minutes=len(bodies) - i),
                )
            )
        s.commit()
    engine.dispose()


def test_metrics_serve_exposes_worker_counters_queue_depth_and_quality(
    tmp_path: Path, redis_url: str
) -> None:
    metrics_dir = tmp_path / "metrics"
    db_url = f"sqlite:///{tmp_path / 'newswatch.db'}"
    add_articles(db_url, "gazette", ["word " * 400] * 4, authors=3)
    env = base_env(tmp_path) | {
        "NEWSWATCH_METRICS_DIR": str(metrics_dir),
        "NEWSWATCH_DATABASE_URL": db_url,
        "NEWSWATCH_BROKER_URL": redis_url,
    }
    for new, dup in ((2, 1), (1, 0)):  # two "worker processes"
        subprocess.run(
            [sys.executable, "-c", WRITER, str(new), str(dup)],
            env=env,
            cwd=REPO,
            check=True,
            timeout=60,
        )
    assert len(list(metrics_dir.glob("*.db"))) >= 2  # one file per process: multiprocess mode

    client = redis.Redis.from_url(redis_url)
    client.lpush("articles", *[b"{}"] * 4)
    client.lpush("feeds\x06\x163", b"{}")  # a priority sub-queue counts towards its queue

    port = free_port()
    proc = start_process(["metrics-serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:

        def scrape() -> str | None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            except httpx.HTTPError:
                return None
            return r.text if r.status_code == 200 else None

        text = wait_for(scrape, timeout=60, what="metrics-serve answering")
    finally:
        stop_process(proc)

    got = samples(text)
    assert got[("newswatch_polls_total", (("error_kind", ""), ("outcome", "new")))] == 3
    assert got[("newswatch_polls_total", (("error_kind", ""), ("outcome", "not_modified")))] == 2
    assert got[("newswatch_polls_total", (("error_kind", "timeout"), ("outcome", "error")))] == 2
    assert got[("newswatch_articles_ingested_total", ())] == 3
    assert got[("newswatch_articles_deduplicated_total", (("kind", "exact"),))] == 1
    assert got[("newswatch_articles_total", (("dedup", ""), ("status", "failed")))] == 2
    assert got[("newswatch_ingest_latency_seconds_count", ())] == 3
    assert got[("newswatch_ingest_latency_seconds_sum", ())] == 60
    assert got[("newswatch_ingest_latency_seconds_bucket", (("le", "15.0"),))] == 0
    assert got[("newswatch_ingest_latency_seconds_bucket", (("le", "30.0"),))] == 3
    assert got[("newswatch_publish_to_store_seconds_sum", ())] == 1800
    assert got[("newswatch_queue_depth", (("queue", "articles"),))] == 4
    assert got[("newswatch_queue_depth", (("queue", "feeds"),))] == 1
    assert got[("newswatch_queue_depth", (("queue", "alerts"),))] == 0
    assert got[("newswatch_broker_up", ())] == 1
    assert got[("newswatch_extraction_author_share", (("outlet", "gazette"),))] == 0.75
    assert got[("newswatch_extraction_date_share", (("outlet", "gazette"),))] == 0.5
    assert got[("newswatch_extraction_body_chars", (("outlet", "gazette"),))] == 2000
    assert got[("newswatch_extraction_leftover_share", (("outlet", "gazette"),))] == 0
    assert got[("newswatch_extraction_drift", (("outlet", "gazette"),))] == 0


def test_exposition_in_process_reports_broker_down_without_failing(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'q.db'}"
    add_articles(db_url, "site", ["short"] * 3, authors=0)
    engine = make_engine(db_url)
    dead = redis.Redis(port=free_port(), socket_connect_timeout=1)
    text = exposition(build_registry(engine=engine, depths=lambda: redis_queue_depths(dead)))
    engine.dispose()
    got = samples(text)
    assert got[("newswatch_broker_up", ())] == 0
    assert got[("newswatch_extraction_body_chars", (("outlet", "site"),))] == 5
    assert got[("newswatch_extraction_short_share", (("outlet", "site"),))] == 1


def test_a_scrape_before_the_database_exists_creates_no_file(tmp_path: Path) -> None:
    db_path = tmp_path / "not-yet.db"
    engine = make_engine(f"sqlite:///{db_path}")
    dead = redis.Redis(port=free_port(), socket_connect_timeout=1)
    text = exposition(build_registry(engine=engine, depths=lambda: redis_queue_depths(dead)))
    engine.dispose()
    assert "newswatch_broker_up" in text  # the rest of the exposition is still served
    assert "newswatch_extraction_body_chars{" not in text
    assert not db_path.exists()


def _write_metrics(tmp_path: Path, metrics_dir: Path) -> None:
    """One worker-like process writing its per-process metric files into `metrics_dir`."""
    subprocess.run(
        [sys.executable, "-c", WRITER, "1", "0"],
        env=base_env(tmp_path) | {"NEWSWATCH_METRICS_DIR": str(metrics_dir)},
        cwd=REPO,
        check=True,
        timeout=60,
    )


def test_compose_migrate_removes_stale_metric_files_and_nothing_else(tmp_path: Path) -> None:
    """The migrate service's own shell line, run natively: the schema, then last run's files."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    entrypoint = compose["services"]["migrate"]["entrypoint"]
    assert entrypoint[:2] == ["sh", "-c"]
    metrics_dir = tmp_path / "metrics"
    _write_metrics(tmp_path, metrics_dir)
    stale = sorted(p.name for p in metrics_dir.glob("*.db"))
    assert stale  # a previous run's per-process files
    (metrics_dir / "operator-notes.txt").write_text("not ours")
    (metrics_dir / "archive.db").write_text("not prometheus_client's either")
    env = base_env(tmp_path) | {
        "NEWSWATCH_METRICS_DIR": str(metrics_dir),
        "PATH": f"{Path(NEWSWATCH).parent}:{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(
        entrypoint, env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert f"removed {len(stale)} metric files" in proc.stdout
    assert sorted(p.name for p in metrics_dir.iterdir()) == ["archive.db", "operator-notes.txt"]
    assert (tmp_path / "data" / "newswatch.db").stat().st_size > 0  # the schema came first


def test_metrics_reset_without_a_folder_is_an_error(tmp_path: Path) -> None:
    proc = run_cli(["metrics-reset"], base_env(tmp_path), check=False)
    assert proc.returncode == 2
    assert "NEWSWATCH_METRICS_DIR is not set" in proc.stderr


def test_a_blank_metrics_dir_is_unset_not_the_current_directory(tmp_path: Path) -> None:
    """`NEWSWATCH_METRICS_DIR=` used to be the current directory, which `run` emptied."""
    from workers.settings import Settings

    here = tmp_path / "cwd"
    here.mkdir()
    (here / "counter_1.db").write_text("looks like a metric file, and is the user's")
    env = {"NEWSWATCH_METRICS_DIR": "", "NEWSWATCH_OUTBOX_DIR": " ", "NEWSWATCH_OUTLETS_DIR": ""}
    settings = Settings(_env_file=None, **{k[10:].lower(): v for k, v in env.items()})
    assert settings.metrics_dir is None and settings.outbox_dir is None
    assert settings.outlets_dir.name == "outlets" and (settings.outlets_dir / "tass.toml").exists()
    proc = subprocess.run(
        [NEWSWATCH, "metrics-reset"],
        env=base_env(tmp_path) | env,
        cwd=here,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout
    assert (here / "counter_1.db").exists()


def test_metric_files_are_named_by_host_and_pid(tmp_path: Path) -> None:
    """Worker containers scaled out share one metrics volume and each numbers its processes from
    1: named by pid alone, their files collided and overwrote each other's counts."""
    import re
    import socket

    metrics_dir = tmp_path / "metrics"
    _write_metrics(tmp_path, metrics_dir)
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())
    names = [p.name for p in metrics_dir.glob("*.db")]
    assert names and all(re.fullmatch(rf"[a-z]+_{re.escape(host)}-\d+\.db", n) for n in names)
