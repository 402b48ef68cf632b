"""Load: N feeds × M entries from the local farm, two workers on Redis + PostgreSQL, measured.

Run: .venv/bin/python bench/load.py [--feeds 2000] [--entries 20] [--workers 2] [--concurrency 1]
                                    [--timeout 3600] [--out bench/results/load.json]
Starts a private redis-server and PostgreSQL cluster, the outlet farm (the five demo outlets plus
--feeds generated ones), `newswatch db upgrade`, one beat and --workers worker processes. Samples
every second: the RSS of every worker process (main and pool children, summed), the Redis queue
lengths and the stored-article count. Stops when every article the farm announces is stored or
failed and the queues are empty. Prints the results and writes them as JSON. Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import redis  # noqa: E402

from sources.urls import canonical_url  # noqa: E402
from tests.conftest import run_cli  # noqa: E402
from tests.pgserver import PostgresServer  # noqa: E402
from tests.reliability.harness import Proc, duplicate_report  # noqa: E402
from tests.servers import RedisServer  # noqa: E402
from workers.demo.farm import Farm  # noqa: E402

QUEUES = ("feeds", "articles", "alerts")


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """A process and all its descendants (prefork children), from /proc."""
    out = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for kid in kids:
        out += tree(int(kid))
    return out


def status_counts(engine: Any) -> Counter[str]:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from storage.models import Article

    with Session(engine) as s:
        rows = s.exec(select(Article.status, func.count()).group_by(Article.status)).all()
    return Counter({str(k): int(v) for k, v in rows})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--feeds", type=int, default=2000, help="generated feeds (plus 5 demo outlets)"
    )
    parser.add_argument("--entries", type=int, default=20, help="entries per generated feed")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="pool size of each worker")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="give up after this many seconds"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "load.json")
    args = parser.parse_args()

    from storage.db import make_engine

    tmp = Path(tempfile.mkdtemp(prefix="nw-load-"))
    pg = PostgresServer().start()
    broker = RedisServer().start()
    procs: list[Proc] = []
    samples: list[dict[str, Any]] = []
    try:
        with Farm(generated_feeds=args.feeds, articles_per_feed=args.entries) as farm:
            env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
            env.update(
                NEWSWATCH_DATA_DIR=str(tmp / "data"),
                NEWSWATCH_OUTLETS_DIR=str(farm.outlets_dir(tmp / "outlets")),
                NEWSWATCH_DATABASE_URL=pg.url,
                NEWSWATCH_BROKER_URL=broker.url,
                NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
                NEWSWATCH_PER_HOST_SPACING="0",
                NEWSWATCH_PER_HOST_CONCURRENCY="64",
                NEWSWATCH_DISPATCH_INTERVAL_SECONDS="5",
                PYTHONUNBUFFERED="1",
            )
            expected = {canonical_url(u) for u in farm.article_urls()}
            run_cli(["db", "upgrade"], env)
            engine = make_engine(pg.url)
            queue = redis.Redis.from_url(broker.url)
            started = time.monotonic()
            procs.append(Proc(["beat"], env, tmp / "beat.log"))
            for i in range(args.workers):
                procs.append(
                    Proc(
                        ["worker", "--concurrency", str(args.concurrency)],
                        env,
                        tmp / f"worker-{i}.log",
                    )
                )
            workers = procs[1:]
            first_stored_at: float | None = None
            done = False
            while time.monotonic() - started < args.timeout:
                time.sleep(1)
                pids = [p for w in workers for p in tree(w.pid)]
                counts = status_counts(engine)
                depth = {q: int(queue.llen(q)) for q in QUEUES}
                now = time.monotonic() - started
                if counts["stored"] and first_stored_at is None:
                    first_stored_at = now
                samples.append(
                    {
                        "t": round(now, 1),
                        "rss_kib": sum(rss_kib(p) for p in pids),
                        "processes": len(pids),
                        **counts,
                        **{f"queue_{q}": d for q, d in depth.items()},
                    }
                )
                if len(samples) % 15 == 0:
                    print(json.dumps(samples[-1]), flush=True)
                finished = (
                    counts["stored"] + counts["failed"] >= len(expected) and counts["pending"] == 0
                )
                if finished and not any(depth.values()):
                    done = True
                    break
            elapsed = time.monotonic() - started
            counts = status_counts(engine)
            dups = duplicate_report(pg.url)
            engine.dispose()
    finally:
        for p in procs:
            p.stop()
        pg.stop()
        broker.cleanup()
    peak = max(samples, key=lambda s: s["rss_kib"]) if samples else {"rss_kib": 0}
    ingest_window = elapsed - (first_stored_at or 0)
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": "bench/load.py " + " ".join(sys.argv[1:]),
        "feeds": args.feeds + 5,
        "entries_per_generated_feed": args.entries,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "articles_expected": len(expected),
        "articles_stored": counts["stored"],
        "articles_failed": counts["failed"],
        "articles_pending": counts["pending"],
        "finished": done,
        "queues_drained": done,
        "nothing_lost": done and counts["stored"] == len(expected),
        "duplicates": {k: len(v) if isinstance(v, list) else v for k, v in dups.items()},
        "elapsed_seconds": round(elapsed, 1),
        "ingest_rate_articles_per_second": round(counts["stored"] / elapsed, 2) if elapsed else 0,
        "ingest_rate_after_first_store": round(counts["stored"] / ingest_window, 2)
        if ingest_window
        else 0,
        "peak_worker_rss_mib": round(peak["rss_kib"] / 1024, 1),
        "rss_mib_at_end": round(samples[-1]["rss_kib"] / 1024, 1) if samples else 0,
        "max_queue_articles": max((s["queue_articles"] for s in samples), default=0),
        "samples_every_second": len(samples),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
