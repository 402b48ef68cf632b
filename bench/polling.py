"""Polling overhead: unchanged feeds (all 304) through the full path vs bare httpx, same server, same run.

Run: .venv/bin/python bench/polling.py [--feeds 300] [--rounds 5] [--concurrency 1 [4 ...]]
The full path is what a worker does per feed: claim due feeds, load the feed row, conditional GET
through the guarded client (SSRF check, deadline, size cap, politeness slot), write the schedule
to SQLite. The baseline is a bare httpx.Client sending the same conditional GETs. The server runs
in its own process so neither side pays for the other's GIL. Prints the ratio (target >= 0.5)
and writes bench/results/polling.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

RESULTS = REPO_ROOT / "bench" / "results" / "polling.json"
ETAG = '"bench-v1"'
FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>'
    b"<item><title>one</title><link>https://bench.example/1</link><guid>1</guid></item>"
    b"</channel></rss>"
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("If-None-Match") == ETAG:
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", ETAG)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)


def _serve(port_queue: Any) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    port_queue.put(httpd.server_address[1])
    httpd.serve_forever()


@dataclass
class Outlet:
    id: str
    feeds: tuple[str, ...]


def _run_parallel(items: list[Any], work: Any, concurrency: int) -> None:
    """Run work(item) over items with `concurrency` threads (1 = a plain loop)."""
    if concurrency == 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, items))


def bare_httpx(base: str, n: int, concurrency: int) -> float:
    import httpx

    with httpx.Client(headers={"User-Agent": "bench"}) as client:
        client.get(base + "/warm", headers={"If-None-Match": ETAG})

        def one(i: int) -> None:
            resp = client.get(f"{base}/feed{i}", headers={"If-None-Match": ETAG})
            assert resp.status_code == 304

        started = time.perf_counter()
        _run_parallel(list(range(n)), one, concurrency)
        return n / (time.perf_counter() - started)


class FullPath:
    """A SQLite database of `n` feeds that have all been polled once (validators stored)."""

    def __init__(self, base: str, n: int, workdir: Path, concurrency: int) -> None:
        from sources.http import HttpClient
        from sources.politeness import LocalHostLimiter
        from storage.db import create_all, make_engine
        from workers.polling import PollConfig, due_feed_ids, poll_feed, sync_outlets

        self.n = n
        self.concurrency = concurrency
        self.engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
        create_all(self.engine)
        self.client = HttpClient(
            user_agent="newswatch-bench/1.0",
            allowed_networks=["127.0.0.1/32"],
            # Politeness is measured for its bookkeeping cost, not its waiting: no spacing, and
            # as many slots as benchmark threads.
            limiter=LocalHostLimiter(concurrency=max(2, concurrency), spacing=0),
        )
        # floor = ceiling = 1 s: every feed is due again one simulated second later.
        self.config = PollConfig(floor=1, ceiling=1, rand=lambda: 0.5)
        self.now = datetime.now(UTC)
        self._due, self._poll = due_feed_ids, poll_feed
        sync_outlets(
            self.engine, [Outlet("bench", tuple(f"{base}/feed{i}" for i in range(n)))], now=self.now
        )
        outcomes = self.round()
        assert outcomes == {"new"}, outcomes

    def round(self) -> set[str]:
        self.now += timedelta(seconds=5)
        ids = self._due(self.engine, now=self.now, limit=self.n)
        assert len(ids) == self.n, len(ids)
        return {
            self._poll(
                self.engine, fid, client=self.client, config=self.config, now=self.now
            ).outcome
            for fid in ids
        }

    def rate(self) -> float:
        started = time.perf_counter()
        outcomes = self.round()
        elapsed = time.perf_counter() - started
        assert outcomes == {"not_modified"}, outcomes
        return self.n / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1],
        help="threads per side; the first value gives the headline ratio",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(queue,), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{queue.get(timeout=30)}"
        runs = {}
        for conc in args.concurrency:
            with tempfile.TemporaryDirectory(prefix="nw-bench-") as tmp:
                full = FullPath(base, args.feeds, Path(tmp), conc)
                bare_rates, full_rates = [], []
                for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
                    bare_rates.append(bare_httpx(base, args.feeds, conc))
                    full_rates.append(full.rate())
                full.client.close()
                full.engine.dispose()
            bare, fullp = statistics.median(bare_rates), statistics.median(full_rates)
            runs[conc] = {
                "concurrency": conc,
                "bare_httpx_requests_per_second": round(bare, 1),
                "full_path_polls_per_second": round(fullp, 1),
                "ratio": round(fullp / bare, 3),
                "bare_rates": [round(r, 1) for r in bare_rates],
                "full_rates": [round(r, 1) for r in full_rates],
            }
    finally:
        server.terminate()
        server.join(10)

    headline = runs[args.concurrency[0]]
    ratio = headline["ratio"]
    result = {
        "benchmark": "polling",
        "what": "polls/s of unchanged feeds (304) through the full path vs bare httpx req/s",
        "feeds": args.feeds,
        "rounds": args.rounds,
        "ratio": ratio,
        "headline_concurrency": args.concurrency[0],
        "target_ratio": 0.5,
        "passed": ratio >= 0.5,
        "runs": list(runs.values()),
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "command": "python bench/polling.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("| threads | bare httpx req/s | full path polls/s | ratio |\n|---|---|---|---|")
    for run in runs.values():
        print(
            f"| {run['concurrency']} | {run['bare_httpx_requests_per_second']:.0f} "
            f"| {run['full_path_polls_per_second']:.0f} | {run['ratio']:.3f} |"
        )
    verdict = "PASS" if ratio >= 0.5 else "FAIL"
    print(f"\nratio (threads={args.concurrency[0]}) = {ratio:.3f} (target >= 0.5) -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
