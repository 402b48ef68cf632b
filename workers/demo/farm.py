"""A local outlet farm: a threaded HTTP server on 127.0.0.1 serving demo feeds and article pages."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from sources.registry import Outlet, dump_outlet_toml
from workers.demo.pages import (
    BASE_URL,
    SITES,
    SITES_DIR,
    TRACKING_QUERY,
    DemoArticle,
    DemoComment,
    FeedSpec,
    Site,
    load_site_articles,
)
from workers.demo.synth import parse_synth_id, synth_article, synth_outlet_id, synth_site

OUTLET_TEMPLATES_DIR = Path(__file__).resolve().parent / "outlets"

ROBOTS_TXT = """# newswatch demo farm
User-agent: *
Disallow: /admin/
Disallow: /*/wp-admin/
Disallow: /*/login

Sitemap: {base_url}/sitemap.xml
"""


@dataclass(frozen=True)
class _Doc:
    body: bytes
    content_type: str
    etag: str  # quoted, strong
    last_modified: datetime
    max_age: int


def _http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


def _rfc822(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(UTC))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _make_doc(body: bytes, content_type: str, last_modified: datetime, max_age: int) -> _Doc:
    etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:24] + '"'
    return _Doc(body, content_type, etag, last_modified.replace(microsecond=0), max_age)


def render_feed(site: Site, spec: FeedSpec, articles: list[DemoArticle], base: str) -> bytes:
    """RSS 2.0 or Atom for one feed of a site; `articles` newest first."""
    updated = max((a.published for a in articles), default=datetime(2024, 1, 1, tzinfo=UTC))
    home = f"{base}{site.home}"
    self_url = f"{base}{spec.path}"
    parts: list[str] = []
    if spec.kind == "atom":
        parts.append(
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{site.language}">\n'
            f"<title>{escape(spec.title)}</title>\n<id>urn:newswatch-demo:{site.id}:feed</id>\n"
            f"<updated>{_iso(updated)}</updated>\n"
            f'<link rel="self" type="application/atom+xml" href="{escape(self_url)}"/>\n'
            f'<link rel="alternate" type="text/html" href="{escape(home)}"/>\n'
            "<generator>newswatch demo farm</generator>\n"
        )
        for a in articles:
            link = f"{base}{site.path_for(a)}" + (TRACKING_QUERY if spec.tracking else "")
            authors = "".join(f"<author><name>{escape(n)}</name></author>" for n in a.authors)
            parts.append(
                f"<entry>\n<title>{escape(a.title)}</title>\n"
                f"<id>urn:newswatch-demo:{site.id}:{a.slug}</id>\n"
                f'<link rel="alternate" type="text/html" href="{escape(link)}"/>\n'
                f"<published>{_iso(a.published)}</published>\n<updated>{_iso(a.published)}</updated>\n"
                f'{authors}\n<category term="{escape(a.category)}"/>\n'
                f'<summary type="text">{escape(a.summary())}</summary>\n</entry>\n'
            )
        parts.append("</feed>\n")
    else:
        parts.append(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
            f"<title>{escape(spec.title)}</title>\n<link>{escape(home)}</link>\n"
            f"<description>Latest from {escape(site.name)}</description>\n"
            f"<language>{site.language}</language>\n"
            f"<lastBuildDate>{_rfc822(updated)}</lastBuildDate>\n<ttl>15</ttl>\n"
            f'<atom:link href="{escape(self_url)}" rel="self" type="application/rss+xml"/>\n'
        )
        for a in articles:
            link = f"{base}{site.path_for(a)}" + (TRACKING_QUERY if spec.tracking else "")
            guid = f"{base}{site.home}?p={int(hashlib.md5(a.slug.encode(), usedforsecurity=False).hexdigest()[:6], 16)}"
            creators = "".join(f"<dc:creator>{escape(n)}</dc:creator>" for n in a.authors)
            parts.append(
                f"<item>\n<title>{escape(a.title)}</title>\n<link>{escape(link)}</link>\n"
                f'<guid isPermaLink="false">{escape(guid)}</guid>\n'
                f"<pubDate>{_rfc822(a.published)}</pubDate>\n{creators}\n"
                f"<category>{escape(a.category)}</category>\n"
                f"<description>{escape(a.summary())}</description>\n</item>\n"
            )
        parts.append("</channel>\n</rss>\n")
    return "".join(parts).encode("utf-8")


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "article"


class Farm:
    """Serves the demo outlets (and optional synthetic ones) on 127.0.0.1; a context manager."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        generated_feeds: int = 0,
        articles_per_feed: int = 25,
        seed: int = 0,
    ) -> None:
        if generated_feeds < 0 or articles_per_feed < 1:
            raise ValueError("generated_feeds must be >= 0 and articles_per_feed >= 1")
        self.host = host
        self.port = port
        self.generated_feeds = generated_feeds
        self.articles_per_feed = articles_per_feed
        self.seed = seed
        self.base_url = ""
        self.request_log: list[tuple[float, str, str]] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Authored articles of the five local outlets, newest first.
        self._articles: dict[str, list[DemoArticle]] = {
            sid: load_site_articles(sid) for sid in SITES
        }
        self._published: dict[str, list[DemoArticle]] = {}  # added at runtime, newest first
        self._published_html: dict[str, tuple[str, dict[str, Any]]] = {}  # path -> (html, expected)
        self._feed_changed: dict[str, datetime] = {}
        self._static_paths: dict[str, tuple[Site, DemoArticle]] = {}
        for sid, arts in self._articles.items():
            for a in arts:
                self._static_paths[SITES[sid].path_for(a)] = (SITES[sid], a)
        self._cache: OrderedDict[str, _Doc] = OrderedDict()
        self._cache_limit = 2048
        self._faults: dict[str, tuple[int, int | None]] = {}
        self._gzipped: OrderedDict[str, bytes] = OrderedDict()  # etag -> compressed body

    # --- lifecycle

    def start(self) -> Farm:
        if self._server is not None:
            return self
        farm = self

        class Handler(_Handler):
            pass

        Handler.farm = farm
        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, name="demo-farm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Farm:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what the farm holds

    def _site(self, outlet_id: str) -> Site:
        if outlet_id in SITES:
            return SITES[outlet_id]
        index = parse_synth_id(outlet_id)
        if index is not None and index < self.generated_feeds:
            return synth_site(self.seed, index)
        raise KeyError(f"unknown demo outlet {outlet_id!r}")

    @property
    def outlet_ids(self) -> list[str]:
        return list(SITES) + [synth_outlet_id(i) for i in range(self.generated_feeds)]

    def site_articles(self, outlet_id: str) -> list[DemoArticle]:
        """Every article of an outlet, newest first (runtime additions included)."""
        site = self._site(outlet_id)
        with self._lock:
            extra = list(self._published.get(outlet_id, []))
        if outlet_id in SITES:
            base = self._articles[outlet_id]
        else:
            index = parse_synth_id(site.id)
            assert index is not None
            base = [synth_article(self.seed, index, n) for n in range(self.articles_per_feed)]
        return sorted(extra + base, key=lambda a: a.published, reverse=True)

    def feed_urls(self, outlet_id: str | None = None) -> list[str]:
        ids = [outlet_id] if outlet_id else self.outlet_ids
        return [f"{self.base_url}{spec.path}" for i in ids for spec in self._site(i).feeds]

    def article_urls(self, outlet_id: str | None = None) -> list[str]:
        ids = [outlet_id] if outlet_id else self.outlet_ids
        return [
            f"{self.base_url}{self._site(i).path_for(a)}"
            for i in ids
            for a in self.site_articles(i)
        ]

    def expected_for(self, url: str) -> dict[str, Any] | None:
        """The expected clean result of a page the farm serves (None for unknown URLs)."""
        path = urlsplit(url).path
        with self._lock:
            if path in self._published_html:
                return self._published_html[path][1]
        if path in self._static_paths:
            site, art = self._static_paths[path]
            file = SITES_DIR / site.id / f"{art.slug}.expected.json"
            return json.loads(file.read_text(encoding="utf-8"))
        found = self._synth_page(path)
        return found[1] if found else None

    def outlets_dir(self, dest: Path) -> Path:
        """Write outlet TOML files for the farm (base URL substituted) into `dest`; returns it."""
        if not self.base_url:
            raise RuntimeError("start the farm before asking for its outlet files")
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for template in sorted(OUTLET_TEMPLATES_DIR.glob("*.toml")):
            text = template.read_text(encoding="utf-8").replace(BASE_URL, self.base_url)
            (dest / template.name).write_text(text, encoding="utf-8")
        for i in range(self.generated_feeds):
            site = synth_site(self.seed, i)
            outlet = Outlet(
                id=site.id,
                name=site.name,
                language=site.language,
                country=site.country,
                homepage=f"{self.base_url}{site.home}",
                feeds=tuple(f"{self.base_url}{f.path}" for f in site.feeds),
                poll_interval_seconds=300,
            )
            (dest / f"{site.id}.toml").write_text(dump_outlet_toml(outlet), encoding="utf-8")
        return dest

    # --- runtime changes

    def publish(
        self,
        outlet_id: str,
        *,
        title: str,
        body_paragraphs: list[str],
        published: datetime | None = None,
        comments: list[tuple[str | None, str]] | tuple[()] = (),
    ) -> str:
        """Add an article to the outlet's main feed (its ETag changes); returns the article URL."""
        site = self._site(outlet_id)
        if not body_paragraphs:
            raise ValueError("an article needs at least one paragraph")
        when = published or datetime.now(UTC)
        if when.tzinfo is None:
            raise ValueError("published must be timezone-aware")
        with self._lock:
            existing = {site.path_for(a) for a in self.site_articles(outlet_id)}
            base_slug = _slugify(title)
            slug, n = base_slug, 1
            art = self._new_article(site, slug, title, when, body_paragraphs, comments)
            while site.path_for(art) in existing or site.path_for(art) in self._published_html:
                n += 1
                slug = f"{base_slug}-{n}"
                art = self._new_article(site, slug, title, when, body_paragraphs, comments)
            path = site.path_for(art)
            page, expected = site.render(site, art, self.base_url)
            self._published_html[path] = (page, expected)
            self._published.setdefault(outlet_id, []).insert(0, art)
            changed = datetime.now(UTC)
            for spec in site.feeds:
                self._feed_changed[spec.path] = changed
                self._cache.pop(spec.path, None)
        return f"{self.base_url}{path}"

    @staticmethod
    def _new_article(
        site: Site,
        slug: str,
        title: str,
        when: datetime,
        paragraphs: list[str],
        comments: Any,
    ) -> DemoArticle:
        return DemoArticle(
            slug=slug,
            title=title,
            published=when,
            paragraphs=list(paragraphs),
            authors=["Newsroom"],
            category="analysis" if any(f.category for f in site.feeds) else "news",
            comments=[DemoComment(a or None, t) for a, t in comments],
            original_outlet="The Northern Chronicle"
            if site.render.__name__ == "render_repost_blog"
            else None,
        )

    def set_fault(self, path_prefix: str, status: int, *, retry_after: int | None = None) -> None:
        """Answer every request under `path_prefix` with `status` (e.g. 503) until cleared."""
        with self._lock:
            self._faults[path_prefix] = (status, retry_after)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # --- documents

    def _synth_page(self, path: str) -> tuple[str, dict[str, Any]] | None:
        m = re.fullmatch(r"/(gen-\d{3,})/articles/(\d+)-[a-z0-9-]*\.html", path)
        if not m:
            return None
        index = parse_synth_id(m.group(1))
        number = int(m.group(2))
        if index is None or index >= self.generated_feeds or number >= self.articles_per_feed:
            return None
        site = synth_site(self.seed, index)
        art = synth_article(self.seed, index, number)
        if site.path_for(art) != path:
            return None
        return site.render(site, art, self.base_url)

    def _build(self, path: str) -> _Doc | None:
        base = self.base_url
        if path == "/robots.txt":
            body = ROBOTS_TXT.replace(BASE_URL, base).encode()
            return _make_doc(
                body, "text/plain; charset=utf-8", datetime(2024, 1, 1, tzinfo=UTC), 3600
            )
        if path == "/":
            return _make_doc(
                self._index_page(), "text/html; charset=utf-8", datetime(2024, 1, 1, tzinfo=UTC), 60
            )
        feed = self._feed_for_path(path)
        if feed is not None:
            site, spec = feed
            arts = self.site_articles(site.id)
            if spec.category:
                arts = [a for a in arts if a.category == spec.category]
            body = render_feed(site, spec, arts, base)
            newest = max((a.published for a in arts), default=datetime(2024, 1, 1, tzinfo=UTC))
            changed = self._feed_changed.get(spec.path)
            modified = max(newest, changed) if changed else newest
            ctype = "application/atom+xml" if spec.kind == "atom" else "application/rss+xml"
            return _make_doc(body, f"{ctype}; charset=utf-8", modified, 300)
        with self._lock:
            published = self._published_html.get(path)
        if published is not None:
            return _make_doc(
                published[0].encode(), "text/html; charset=utf-8", datetime.now(UTC), 600
            )
        if path in self._static_paths:
            site, art = self._static_paths[path]
            text = (SITES_DIR / site.id / f"{art.slug}.html").read_text(encoding="utf-8")
            body = text.replace(BASE_URL, base).encode()
            return _make_doc(body, "text/html; charset=utf-8", art.published, 600)
        synth = self._synth_page(path)
        if synth is not None:
            art_time = datetime(2024, 4, 1, tzinfo=UTC)
            return _make_doc(synth[0].encode(), "text/html; charset=utf-8", art_time, 600)
        return None

    def _feed_for_path(self, path: str) -> tuple[Site, FeedSpec] | None:
        first = path.strip("/").split("/", 1)[0]
        try:
            site = self._site(first)
        except KeyError:
            return None
        for spec in site.feeds:
            if spec.path == path:
                return site, spec
        return None

    def _index_page(self) -> bytes:
        rows = []
        for sid in self.outlet_ids[:50]:
            site = self._site(sid)
            feeds = " ".join(f'<a href="{escape(f.path)}">{escape(f.kind)}</a>' for f in site.feeds)
            rows.append(f"<li>{escape(site.name)} — {feeds}</li>")
        more = len(self.outlet_ids) - 50
        tail = f"<li>… and {more} more</li>" if more > 0 else ""
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>newswatch demo farm</title>"
            f"</head><body><h1>newswatch demo farm</h1><ul>{''.join(rows)}{tail}</ul></body></html>"
        ).encode()

    def document(self, path: str) -> _Doc | None:
        """The document served at `path` (query ignored), built once and cached."""
        with self._lock:
            doc = self._cache.get(path)
            if doc is not None:
                self._cache.move_to_end(path)
                return doc
        doc = self._build(path)
        if doc is not None:
            with self._lock:
                self._cache[path] = doc
                while len(self._cache) > self._cache_limit:
                    self._cache.popitem(last=False)
        return doc

    def _gzip(self, doc: _Doc) -> bytes:
        with self._lock:
            cached = self._gzipped.get(doc.etag)
        if cached is None:
            cached = gzip.compress(doc.body, compresslevel=5, mtime=0)
            with self._lock:
                self._gzipped[doc.etag] = cached
                while len(self._gzipped) > self._cache_limit:
                    self._gzipped.popitem(last=False)
        return cached

    def _fault(self, path: str) -> tuple[int, int | None] | None:
        with self._lock:
            for prefix, fault in self._faults.items():
                if path.startswith(prefix):
                    return fault
        return None


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    bare = etag.strip('"')
    for candidate in header.split(","):
        c = candidate.strip()
        if c.startswith("W/"):
            c = c[2:]
        c = c.strip('"')
        if c in (bare, bare + "-gzip"):
            return True
    return False


def _wants_gzip(header: str) -> bool:
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() in ("gzip", "*"):
            q = params.strip()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


class _Handler(BaseHTTPRequestHandler):
    farm: Farm
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "newswatch-demo-farm/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(head=False)

    def _plain(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self, *, head: bool) -> None:
        farm = self.farm
        with farm._lock:
            farm.request_log.append((time.time(), self.command, self.path))
        path = urlsplit(self.path).path or "/"
        fault = farm._fault(path)
        if fault is not None:
            status, retry_after = fault
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            self._plain(status, f"{status} injected fault\n", extra)
            return
        doc = farm.document(path)
        if doc is None:
            self._plain(404, "404 not found\n")
            return
        gz = _wants_gzip(self.headers.get("Accept-Encoding", ""))
        etag = doc.etag[:-1] + '-gzip"' if gz else doc.etag
        common = {
            "ETag": etag,
            "Last-Modified": _http_date(doc.last_modified),
            "Cache-Control": f"max-age={doc.max_age}",
            "Vary": "Accept-Encoding",
        }
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            not_modified = _etag_matches(inm, doc.etag)
        elif ims:
            try:
                since = email.utils.parsedate_to_datetime(ims)
                not_modified = since.tzinfo is not None and doc.last_modified <= since
            except (TypeError, ValueError):
                not_modified = False
        if not_modified:
            self.send_response(304)
            for k, v in common.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = farm._gzip(doc) if gz else doc.body
        self.send_response(200)
        self.send_header("Content-Type", doc.content_type)
        self.send_header("Content-Length", str(len(body)))
        if gz:
            self.send_header("Content-Encoding", "gzip")
        for k, v in common.items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)


def main() -> None:
    """Run the farm in the foreground (for trying it by hand): python -m workers.demo.farm."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8808)
    parser.add_argument("--generated-feeds", type=int, default=0)
    args = parser.parse_args()
    with Farm(port=args.port, generated_feeds=args.generated_feeds) as farm:
        print(f"demo farm on {farm.base_url}/ (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
