"""End-to-end ingest throughput: real workers ingest a local outlet farm; rate, CPU and the ceiling.

A farm of synthetic outlets (`workers/demo/farm.py`, realistic article pages with comments and
boilerplate) is served on 127.0.0.1 by this process. Each configuration starts from an empty
store and runs the real `newswatch` processes until every announced article is stored:

- distributed, 2 workers: Redis broker + PostgreSQL, two `newswatch worker --concurrency 1`
  processes and one `newswatch beat` (the headline figure);
- distributed, 1 worker: the same with one worker process;
- embedded default: `newswatch run --concurrency 2` (SQLite broker and SQLite store).

The ceiling is 2 x the pages per second plain `trafilatura.extract` manages on one core on a
sample of the same farm pages, measured in the same run: two cores doing nothing but extraction.

Run: .venv/bin/python bench/ingest.py [--feeds 200 --articles 25] [--quick]
Writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
import peers  # noqa: E402

CONFIGS = {
    "distributed-2": {
        "label": "Redis + PostgreSQL, 2 worker processes (--concurrency 1 each)",
        "workers": 2,
    },
    "distributed-2x2": {
        "label": "Redis + PostgreSQL, 2 worker processes (--concurrency 2 each)",
        "workers": 2,
        "concurrency": 2,
    },
    "distributed-1": {
        "label": "Redis + PostgreSQL, 1 worker process (--concurrency 1)",
        "workers": 1,
    },
    "embedded": {
        "label": "embedded default: `newswatch run --concurrency 2` (SQLite broker + store)",
        "workers": 0,
    },
}
TARGET_CEILING_RATIO = 0.7


def base_env(data_dir: Path, outlets_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        NEWSWATCH_DATA_DIR=str(data_dir),
        NEWSWATCH_OUTLETS_DIR=str(outlets_dir),
        NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
        NEWSWATCH_PER_HOST_SPACING="0",
        NEWSWATCH_PER_HOST_CONCURRENCY="64",
        NEWSWATCH_DISPATCH_INTERVAL_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # Own session, so stop() can end the worker and its prefork children together.
    return subprocess.Popen(
        [str(common.NEWSWATCH), *args],
        env=env,
        cwd=env["NEWSWATCH_DATA_DIR"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def status_counts(engine: Any) -> dict[str, int]:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from storage.models import Article

    try:
        with Session(engine) as s:
            rows = s.exec(select(Article.status, func.count()).group_by(Article.status)).all()
    except Exception:  # the schema may not exist yet while `run` migrates
        return {}
    return {str(k): int(v) for k, v in rows}


def stored_window(engine: Any) -> dict[str, Any]:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from storage.models import Article, Comment

    with Session(engine) as s:
        first_seen, first, last = s.exec(
            select(
                func.min(Article.first_seen_at),
                func.min(Article.stored_at),
                func.max(Article.stored_at),
            )
        ).one()
        comments = s.exec(select(func.count()).select_from(Comment)).one()
    return {
        "first_seen": first_seen,
        "first_stored": first,
        "last_stored": last,
        "comments": int(comments),
    }


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


def measure_ceiling(
    farm: Any, outlet_ids: list[str], sample: int, timeout: float
) -> dict[str, Any]:
    """Plain trafilatura (and newswatch clean) pages/s on one core, on pages the farm serves."""
    import httpx

    urls = [u for oid in outlet_ids for u in farm.article_urls(oid)]
    step = max(1, len(urls) // sample)
    picked = urls[::step][:sample]
    docs = []
    with httpx.Client(timeout=20) as client:
        for url in picked:
            docs.append({"key": url, "url": url, "doc": client.get(url).text, "kind": "html"})
    raw = peers.run_worker(
        common.PROJECT_PYTHON, ["trafilatura", "newswatch"], docs, "ceiling", timeout
    )
    pps = {name: r["pages"] / r["seconds"] for name, r in raw.items()}
    return {
        "sample_pages": len(docs),
        "trafilatura_pages_per_second_one_core": round(pps["trafilatura"], 2),
        "newswatch_clean_pages_per_second_one_core": round(pps["newswatch"], 2),
        "ceiling_articles_per_second": round(2 * pps["trafilatura"], 2),
        "mean_page_kib": round(sum(len(d["doc"]) for d in docs) / len(docs) / 1024, 1),
    }


def run_config(
    name: str,
    *,
    farm: Any,
    outlets_dir: Path,
    expected: int,
    budget: float,
    redis: Any | None,
    pg: Any | None,
) -> dict[str, Any]:
    from storage.db import make_engine

    cfg = CONFIGS[name]
    data = common.WORK_DIR / f"ingest-{name}"
    if data.exists():
        import shutil

        shutil.rmtree(data)
    data.mkdir(parents=True)
    env = base_env(data, outlets_dir)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    if cfg["workers"]:
        import psycopg
        import redis as redis_lib

        db = f"ingest_{name.replace('-', '_')}_{int(time.time())}"
        admin = (
            pg.url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        db_url = pg.url.rsplit("/", 1)[0] + f"/{db}"
        redis_lib.Redis.from_url(redis.url).flushall()
        env.update(NEWSWATCH_DATABASE_URL=db_url, NEWSWATCH_BROKER_URL=redis.url)
        subprocess.run(
            [str(common.NEWSWATCH), "db", "upgrade"],
            env=env,
            cwd=data,
            check=True,
            capture_output=True,
            timeout=120,
        )
    else:
        db_url = f"sqlite:///{data / 'newswatch.db'}"
    engine = make_engine(db_url)
    started_wall = time.time()
    started = time.monotonic()
    self_cpu0 = common.self_cpu_seconds()
    if cfg["workers"]:
        for i in range(cfg["workers"]):
            procs[f"worker{i}"] = start(
                ["worker", "--concurrency", str(cfg.get("concurrency", 1))],
                env,
                data / f"worker{i}.log",
            )
        procs["beat"] = start(["beat"], env, data / "beat.log")
    else:
        procs["run"] = start(["run", "--concurrency", "2"], env, data / "run.log")
    meters = {k: common.CpuMeter([p.pid]) for k, p in procs.items()}
    counts: dict[str, int] = {}
    timeline = []
    finished = False
    try:
        while time.monotonic() - started < budget:
            time.sleep(1.0)
            for m in meters.values():
                m.sample()
            if not (data / "newswatch.db").exists() and not cfg["workers"]:
                continue
            counts = status_counts(engine)
            done = counts.get("stored", 0) + counts.get("failed", 0)
            timeline.append((round(time.monotonic() - started, 1), counts.get("stored", 0)))
            if done >= expected:
                finished = True
                break
            dead = [k for k, p in procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited early; see {data}")
    finally:
        for m in meters.values():
            m.sample()
        wall = time.monotonic() - started
        harness_cpu = common.self_cpu_seconds() - self_cpu0
        for p in procs.values():
            stop(p)
    window = stored_window(engine)
    engine.dispose()
    stored = counts.get("stored", 0)
    steady = _seconds(window["first_stored"], window["last_stored"])
    worker_cpu = sum(m.total for k, m in meters.items() if k != "beat")
    out = {
        "label": cfg["label"],
        "expected_articles": expected,
        "stored": stored,
        "failed": counts.get("failed", 0),
        "pending_left": counts.get("pending", 0),
        "finished_within_budget": finished,
        "budget_seconds": budget,
        "wall_seconds": round(wall, 1),
        "articles_per_second_wall": round(stored / wall, 2) if wall else None,
        "steady_seconds": round(steady, 1) if steady else None,
        # first stored to last stored: start-up (imports, first dispatch) is not throughput
        "articles_per_second": round((stored - 1) / steady, 2) if steady and stored > 1 else None,
        "startup_seconds": round(
            _seconds(
                datetime.fromtimestamp(started_wall, window["first_stored"].tzinfo),
                window["first_stored"],
            )
            or 0,
            1,
        )
        if window["first_stored"]
        else None,
        "worker_cpu_seconds": round(worker_cpu, 1),
        "cpu_seconds_per_article": round(worker_cpu / stored, 4) if stored else None,
        "beat_cpu_seconds": round(meters["beat"].total, 1) if "beat" in meters else None,
        "harness_cpu_seconds": round(harness_cpu, 1),  # the farm serving pages, in this process
        "comments_stored": window["comments"],
        "timeline": timeline[:: max(1, len(timeline) // 40)],
        "logs": str(data.relative_to(common.REPO_ROOT)),
    }
    return out


def run(
    feeds: int, articles: int, configs: list[str], budget: float, sample: int
) -> dict[str, Any]:
    from tests.pgserver import PostgresServer
    from tests.servers import RedisServer
    from workers.demo.farm import Farm

    deadline = common.Deadline(budget)
    result: dict[str, Any] = {"feeds": feeds, "articles_per_feed": articles, "configs": {}}
    common.WORK_DIR.mkdir(parents=True, exist_ok=True)
    with Farm(generated_feeds=feeds, articles_per_feed=articles) as farm:
        outlets_dir = common.WORK_DIR / "ingest-outlets"
        if outlets_dir.exists():
            import shutil

            shutil.rmtree(outlets_dir)
        farm.outlets_dir(outlets_dir)
        gen_ids = [oid for oid in farm.outlet_ids if oid.startswith("gen-")]
        for toml in outlets_dir.glob("*.toml"):
            if toml.stem not in gen_ids:  # only the synthetic outlets: a known, exact article count
                toml.unlink()
        expected = sum(len(farm.site_articles(oid)) for oid in gen_ids)
        result["expected_articles"] = expected
        result["ceiling"] = measure_ceiling(
            farm, gen_ids, sample, timeout=max(60, deadline.left() / 4)
        )
        ceiling = result["ceiling"]["ceiling_articles_per_second"]
        redis = pg = None
        try:
            if any(CONFIGS[c]["workers"] for c in configs):
                redis = RedisServer(appendonly=True).start()
                import redis as redis_lib

                # as docker-compose runs it: AOF on, fsync once a second (Redis's default)
                redis_lib.Redis.from_url(redis.url).config_set("appendfsync", "everysec")
                pg = PostgresServer("newswatch_bench").start()
            weights = {"distributed-2": 0.45, "distributed-1": 0.275, "embedded": 0.275}
            for i, name in enumerate(configs):
                left_weights = sum(weights.get(c, 0.3) for c in configs[i:])
                share = deadline.left() * weights.get(name, 0.3) / left_weights
                try:
                    r = run_config(
                        name,
                        farm=farm,
                        outlets_dir=outlets_dir,
                        expected=expected,
                        budget=max(20, share - 15),
                        redis=redis,
                        pg=pg,
                    )
                    if r["articles_per_second"] and ceiling:
                        r["ratio_to_ceiling"] = round(r["articles_per_second"] / ceiling, 3)
                except Exception as exc:  # one failing configuration must not hide the others
                    r = {
                        "label": CONFIGS[name]["label"],
                        "error": f"{type(exc).__name__}: {exc}"[:1500],
                    }
                result["configs"][name] = r
                print(f"{name}: {r}", file=sys.stderr)
        finally:
            if redis is not None:
                redis.cleanup()
            if pg is not None:
                pg.stop()
    head = result["configs"].get("distributed-2", {})
    result["target_ratio"] = TARGET_CEILING_RATIO
    result["headline_ratio"] = head.get("ratio_to_ceiling")
    result["met"] = bool(
        head.get("ratio_to_ceiling") and head["ratio_to_ceiling"] >= TARGET_CEILING_RATIO
    )
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--articles", type=int, default=25, help="articles per feed")
    ap.add_argument("--configs", default="distributed-2,distributed-1,embedded")
    ap.add_argument("--budget", type=float, default=360, help="seconds for the whole section")
    ap.add_argument("--sample", type=int, default=300, help="farm pages for the ceiling")
    ap.add_argument("--quick", action="store_true", help="10 feeds x 5 articles, 2 workers only")
    args = ap.parse_args()
    common.exit_on_sigterm()
    if args.quick:
        args.feeds, args.articles, args.configs, args.sample = 10, 5, "distributed-2", 30
        args.budget = min(args.budget, 90)
    started = time.monotonic()
    result = run(
        args.feeds,
        args.articles,
        [c.strip() for c in args.configs.split(",") if c.strip()],
        args.budget,
        args.sample,
    )
    result["seconds"] = round(time.monotonic() - started, 1)
    result["quick"] = args.quick
    path = common.write_result("ingest", result)
    for name, r in result["configs"].items():
        print(
            f"{name:14} {r.get('articles_per_second')} articles/s  cpu/article {r.get('cpu_seconds_per_article')}  "
            f"ratio {r.get('ratio_to_ceiling')}  {r.get('error', '')}"
        )
    print(f"ceiling {result['ceiling']}\nwrote {path} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
