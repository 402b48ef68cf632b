"""Polling overhead: unchanged feeds (all 304) through the full path vs bare httpx, same server, same run.

Run: .venv/bin/python bench/polling.py [--feeds 300] [--rounds 5]
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
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
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


def bare_httpx(base: str, n: int) -> float:
    import httpx

    with httpx.Client(headers={"User-Agent": "bench"}) as client:
        client.get(base + "/warm", headers={"If-None-Match": ETAG})
        started = time.perf_counter()
        for i in range(n):
            resp = client.get(f"{base}/feed{i}", headers={"If-None-Match": ETAG})
            resp.read()
            assert resp.status_code == 304
        return n / (time.perf_counter() - started)


class FullPath:
    """A SQLite database of `n` feeds that have all been polled once (validators stored)."""

    def __init__(self, base: str, n: int, workdir: Path) -> None:
        from sources.http import HttpClient
        from sources.politeness import LocalHostLimiter
        from storage.db import create_all, make_engine
        from workers.polling import PollConfig, due_feed_ids, poll_feed, sync_outlets

        self.n = n
        self.engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
        create_all(self.engine)
        self.client = HttpClient(
            user_agent="newswatch-bench/1.0",
            allowed_networks=["127.0.0.1/32"],
            limiter=LocalHostLimiter(concurrency=2, spacing=0),
        )
        # floor = ceiling = 1 s: every feed is due again one simulated second later.
        self.config = PollConfig(floor=1, ceiling=1, rand=lambda: 0.5)
        self.now = datetime.now(timezone.utc)
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
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(queue,), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{queue.get(timeout=30)}"
        with tempfile.TemporaryDirectory(prefix="nw-bench-") as tmp:
            full = FullPath(base, args.feeds, Path(tmp))
            bare_rates, full_rates = [], []
            for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
                bare_rates.append(bare_httpx(base, args.feeds))
                full_rates.append(full.rate())
            full.client.close()
            full.engine.dispose()
    finally:
        server.terminate()
        server.join(10)

    bare, fullp = statistics.median(bare_rates), statistics.median(full_rates)
    ratio = fullp / bare
    result = {
        "benchmark": "polling",
        "what": "polls/s of unchanged feeds (304) through the full path vs bare httpx req/s",
        "feeds": args.feeds,
        "rounds": args.rounds,
        "bare_httpx_requests_per_second": round(bare, 1),
        "full_path_polls_per_second": round(fullp, 1),
        "ratio": round(ratio, 3),
        "target_ratio": 0.5,
        "passed": ratio >= 0.5,
        "bare_rates": [round(r, 1) for r in bare_rates],
        "full_rates": [round(r, 1) for r in full_rates],
        "python": platform.python_version(),
        "command": "python bench/polling.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("| path | per second |\n|---|---|")
    print(f"| bare httpx (requests) | {bare:.0f} |")
    print(f"| full poll path (304 polls) | {fullp:.0f} |")
    print(
        f"\nratio full/bare = {ratio:.3f} (target >= 0.5) -> {'PASS' if ratio >= 0.5 else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
