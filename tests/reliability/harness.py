"""Process harness for the reliability suite: workers and beats as real subprocesses, kills, checks."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import Article
from tests.conftest import wait_for
from tests.pgserver import PostgresServer, _as_postgres
from tests.servers import NewswatchProcess

# Short limits so faults resolve within seconds instead of the production hour. The soft limit
# stays well above a cold pool child's first article (imports and first extraction took over
# 10 s on a loaded 2-core machine), so only the poison page reaches it.
FAST_LIMITS = {
    "NEWSWATCH_VISIBILITY_TIMEOUT": "20",
    "NEWSWATCH_TASK_SOFT_TIME_LIMIT": "30",
    "NEWSWATCH_TASK_TIME_LIMIT": "40",
    # Every 5 s rather than every second: each dispatch syncs the outlet files, and on 2 cores
    # a beat firing every second (two beats, in one test) takes CPU the ingest needs.
    "NEWSWATCH_DISPATCH_INTERVAL_SECONDS": "5",
    "NEWSWATCH_PER_HOST_SPACING": "0",
    "NEWSWATCH_PER_HOST_CONCURRENCY": "16",
    "NEWSWATCH_POLL_FLOOR_SECONDS": "60",
}


class Proc(NewswatchProcess):
    """A newswatch subprocess in its own session, so a kill reaches its prefork children too."""

    def children(self) -> list[int]:
        """Direct children (the prefork pool) read from /proc."""
        try:
            raw = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in raw.split()]


def busy_child(proc: Proc, *, timeout: float = 60) -> int:
    """A pool child that is using CPU right now (mid-task), found by sampling /proc stat."""

    def cpu(pid: int) -> int:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return -1
        return int(fields[11]) + int(fields[12])

    def pick() -> int | None:
        kids = proc.children()
        before = {k: cpu(k) for k in kids}
        time.sleep(0.3)
        busy = [k for k in kids if before[k] >= 0 and cpu(k) > before[k]]
        return busy[0] if busy else None

    return int(wait_for(pick, timeout=timeout, interval=0.1, what="a busy worker child"))


def article_counts(url: str) -> Counter[str]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            rows = s.exec(select(Article.status, func.count()).group_by(Article.status)).all()
    except Exception:  # noqa: BLE001 - the database may be restarting right now
        return Counter()
    finally:
        engine.dispose()
    return Counter({str(k): int(v) for k, v in rows})


def comments_match_a_fresh_clean(
    url: str, outlets_dir: Path, *, sample: int = 25, seed: int = 8
) -> list[str]:
    """Re-clean the stored raw page of a sample of articles: the stored comments must be exactly
    what one cleaning yields (a redelivered task that added its comments twice would not be)."""
    import random
    import zlib

    from cleaning import clean
    from sources.registry import load_outlets
    from storage.models import Comment
    from workers.pipeline import outlet_rules

    outlets = {o.id: o for o in load_outlets(outlets_dir)}

    engine = make_engine(url)
    problems: list[str] = []
    try:
        with Session(engine) as s:
            ids = sorted(
                int(i) for i in s.exec(select(Article.id).where(Article.status == "stored"))
            )
            for article_id in random.Random(seed).sample(ids, min(sample, len(ids))):
                article = s.get(Article, article_id)
                assert article is not None and article.raw_page is not None
                fresh = clean(
                    zlib.decompress(article.raw_page),
                    url=article.url,
                    outlet=outlet_rules(outlets.get(article.outlet_id)),
                )
                stored = s.exec(
                    select(Comment.text)
                    .where(Comment.article_id == article_id)
                    .order_by(Comment.position)  # type: ignore[arg-type]
                ).all()
                if list(stored) != [c.text for c in fresh.comments]:
                    problems.append(
                        f"{article.url}: {len(stored)} stored, {len(fresh.comments)} fresh"
                    )
    finally:
        engine.dispose()
    return problems


def duplicate_report(url: str) -> dict[str, Any]:
    """Everything that would show a duplicate: articles per URL, comments, versions, outbox."""
    engine = make_engine(url)
    queries = {
        "articles_per_canonical_url": "SELECT canonical_url, COUNT(*) FROM articles "
        "GROUP BY canonical_url HAVING COUNT(*) > 1",
        "comments_per_position": "SELECT article_id, position, COUNT(*) FROM comments "
        "GROUP BY article_id, position HAVING COUNT(*) > 1",
        "versions_per_article": "SELECT article_id, version, COUNT(*) FROM article_versions "
        "GROUP BY article_id, version HAVING COUNT(*) > 1",
        "outbox_per_message_id": "SELECT message_id, COUNT(*) FROM outbox "
        "GROUP BY message_id HAVING COUNT(*) > 1",
    }
    out: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            for name, sql in queries.items():
                out[name] = [tuple(r) for r in conn.execute(text(sql)).all()]
            out["versions"] = int(
                conn.execute(text("SELECT COUNT(*) FROM article_versions")).one()[0]
            )
    finally:
        engine.dispose()
    return out


class RestartablePostgres(PostgresServer):
    """PostgresServer whose `restart()` stops and starts the same cluster (same port and data)."""

    def _opts(self) -> str:
        return (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.tmp} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )

    def restart(self, *, down_for: float = 0.0) -> None:
        assert self.tmp is not None
        data = str(self.tmp / "data")
        _as_postgres([str(self.bindir / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"])
        time.sleep(down_for)
        _as_postgres(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                data,
                "-o",
                self._opts(),
                "-l",
                str(self.tmp / "log.txt"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )


# --- a small programmable web site on a loopback address -------------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


def send(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    *,
    status: int = 200,
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    if content_type is not None:
        handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def static(body: bytes, content_type: str | None = "text/html; charset=utf-8", **kw: Any) -> Route:
    return lambda h: send(h, body, content_type=content_type, **kw)


class LocalSite:
    """A threaded HTTP server on `host` serving `routes` (path → callable); logs every request."""

    def __init__(self, routes: dict[str, Route] | None = None, *, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.routes.setdefault("/robots.txt", static(b"User-agent: *\nAllow: /\n", "text/plain"))
        self.host = host
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                site.requests.append(self.path)
                route = site.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    send(self, b"not found", status=404, content_type="text/plain")
                    return
                # The client may give up mid-answer: a size cap or a deadline did its job.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route(self)

            do_HEAD = do_GET

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self.server = Server((host, 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rss(items: list[tuple[str, str]], *, title: str = "Test feed") -> bytes:
    """A minimal RSS 2.0 document from (title, link) pairs."""
    from html import escape

    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link><description>t</description>",
    ]
    for i, (item_title, link) in enumerate(items):
        parts.append(
            f"<item><title>{escape(item_title)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">item-{i}</guid>'
            f"<pubDate>Mon, 0{1 + i % 9} Apr 2024 10:00:00 GMT</pubDate></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def write_outlet(directory: Path, outlet_id: str, feeds: list[str], *, home: str) -> Path:
    """One outlet TOML file in `directory` (through the registry's own writer)."""
    from sources.registry import Outlet, dump_outlet_toml

    outlet = Outlet(
        id=outlet_id,
        name=outlet_id.replace("-", " ").title(),
        language="en",
        country="GB",
        homepage=home,
        feeds=tuple(feeds),
        poll_interval_seconds=300,
    )
    path = Path(directory) / f"{outlet_id}.toml"
    path.write_text(dump_outlet_toml(outlet), encoding="utf-8")
    return path


def article_html(title: str, paragraphs: list[str]) -> bytes:
    from html import escape

    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title></head><body><article><h1>{escape(title)}</h1>{body}</article></body></html>"
    ).encode()


PARAGRAPHS = [
    "The committee met on Tuesday to discuss the budget for the coming year, and members "
    "agreed that spending on roads and bridges should rise by a tenth over two years.",
    "Officials said the plan would be published in full next month after a consultation with "
    "the regional councils, which have asked for more money for rural bus services.",
    "Critics argued that the figures did not add up and that the savings promised elsewhere "
    "in the budget were unlikely to materialise before the next election.",
]


# The poison page must outlast the soft time limit (FAST_LIMITS, 30 s) by a wide margin on any
# core, idle or not. Extraction cost grows with the number of blocks times their nesting depth,
# so the blocks are nested POISON_DEPTH deep: well below libxml2's parser depth limit (256),
# past which the parser gives up and the page becomes cheap. Measured on an idle 2-core VM:
# 750 nests of 200 (6.5 MB) take about 95 s of CPU to clean, about three soft limits. The
# earlier flat page of 100,000 blocks took about 29 s there: on an uncontended core it was
# cleaned and stored just inside the limit, and the test failed now and then.
POISON_DEPTH = 200
POISON_NESTS = 750


def poison_html() -> bytes:
    """A page within the size cap (6.5 MB of 15) that keeps the extractor busy for minutes."""
    unit = "<div><p>a b c d</p><a href='/x'>l</a>"
    nest = unit * POISON_DEPTH + "</div>" * POISON_DEPTH
    return ("<html><body>" + nest * POISON_NESTS + "</body></html>").encode()
