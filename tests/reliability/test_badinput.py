"""The bad-input corpus through the real poll + process path: a clear error or a correct result."""

from __future__ import annotations

import gzip
import json
import os
import time
import tomllib
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import brotli
import pytest
from sqlmodel import Session, select

from alerts.render import ArticleSummary, render_alert
from storage.db import make_engine
from storage.models import Article, Feed, FeedEntry
from tests.conftest import REPO, run_cli
from tests.reliability.harness import LocalSite, Route, send, write_outlet

pytestmark = pytest.mark.reliability

CORPUS = REPO / "tests" / "fixtures" / "badinput"
MAX_BODY = 2_000_000
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))


# --- generated documents (too big, or too dangerous, to keep as files)


def ten_thousand_entries(base: str) -> bytes:
    items = "".join(
        f"<item><title>Entry {i}</title><link>{base}/pages/many-{i}.html</link>"
        f"<guid>many-{i}</guid></item>"
        for i in range(10_000)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Many</title>'
        f"<link>{base}/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def gzip_bomb(base: str) -> bytes:
    """~50 MB of zeros in ~50 KB: decompressed past the 2 MB cap."""
    return gzip.compress(b"\0" * 50_000_000, compresslevel=9)


def brotli_bomb(base: str) -> bytes:
    return brotli.compress(b"\0" * 50_000_000, quality=5)


def giant_page(base: str) -> bytes:
    para = "<p>" + "Giant page text that goes on and on. " * 40 + "</p>\n"
    return (
        "<html><body><article>" + para * (3 * MAX_BODY // len(para)) + "</article></body></html>"
    ).encode()


def pages_feed(base: str) -> bytes:
    links = "".join(
        f"<item><title>Page {p['name']}</title><link>{base}/pages/{p['name']}.html</link>"
        f"<guid>page-{p['name']}</guid></item>"
        for p in CASES["page"]
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Pages</title>'
        f"<link>{base}/</link><description>d</description>{links}</channel></rss>"
    ).encode()


GENERATORS: dict[str, Callable[[str], bytes]] = {
    f.__name__: f for f in (ten_thousand_entries, gzip_bomb, brotli_bomb, giant_page, pages_feed)
}


# --- misbehaving servers


def slow(handler: BaseHTTPRequestHandler) -> None:
    """Says nothing for longer than the read timeout."""
    time.sleep(4)
    send(handler, b"too late", content_type="text/plain")


def trickle(handler: BaseHTTPRequestHandler) -> None:
    """Headers at once, then one byte every 0.2 s: each read is quick, the whole is endless."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.end_headers()
    for _ in range(100):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.2)


def redirect_loop(path: str) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        other = path + "-b" if not path.endswith("-b") else path[:-2]
        send(handler, b"", status=302, content_type=None, headers={"Location": other})

    return route


def build_routes(site: LocalSite) -> None:
    base = site.base
    site.routes["/evil.dtd"] = lambda h: send(
        h, (CORPUS / "evil.dtd").read_bytes(), content_type="application/xml-dtd"
    )
    for section, prefix, suffix in (("feed", "/feeds/", ""), ("page", "/pages/", ".html")):
        for case in CASES[section]:
            path = f"{prefix}{case['name']}{suffix}"
            behaviour = case.get("behaviour")
            if behaviour == "slow":
                site.routes[path] = slow
            elif behaviour == "trickle":
                site.routes[path] = trickle
            elif behaviour == "redirect_loop":
                site.routes[path] = redirect_loop(path)
                site.routes[path + "-b"] = redirect_loop(path + "-b")
            else:
                if "generate" in case:
                    body = GENERATORS[case["generate"]](base)
                else:
                    body = (CORPUS / case["file"]).read_bytes().replace(b"{BASE}", base.encode())
                headers = {}
                if "content_encoding" in case:
                    headers["Content-Encoding"] = case["content_encoding"]
                site.routes[path] = _static(body, case.get("content_type"), headers)
    # The 500 articles of the 10,000-entry feed are left to 404 (quick); links elsewhere in the
    # corpus point at one plain page.
    plain = (CORPUS / "plain.html").read_bytes()
    site.routes["/pages/plain.html"] = _static(plain, "text/html; charset=utf-8", {})


def _static(body: bytes, content_type: str | None, headers: dict[str, str]) -> Route:
    return lambda h: send(h, body, content_type=content_type, headers=headers)


@pytest.fixture()
def corpus_site() -> Any:
    with LocalSite() as site:
        build_routes(site)
        yield site


def corpus_env(tmp_path: Path, site: LocalSite, database_url: str) -> dict[str, str]:
    outlets = tmp_path / "outlets"
    outlets.mkdir()
    for case in CASES["feed"]:
        write_outlet(
            outlets, f"bad-{case['name']}", [site.url(f"/feeds/{case['name']}")], home=site.url("/")
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        NEWSWATCH_DATA_DIR=str(tmp_path / "data"),
        NEWSWATCH_OUTLETS_DIR=str(outlets),
        NEWSWATCH_DATABASE_URL=database_url,
        NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
        NEWSWATCH_PER_HOST_SPACING="0",
        NEWSWATCH_PER_HOST_CONCURRENCY="8",
        NEWSWATCH_MAX_BODY_BYTES=str(MAX_BODY),
        NEWSWATCH_CONNECT_TIMEOUT="2",
        NEWSWATCH_READ_TIMEOUT="1.5",
        NEWSWATCH_REQUEST_DEADLINE="3",
        NEWSWATCH_MAX_ENTRIES_PER_POLL="500",
    )
    return env


def _feeds_by_name(session: Session) -> dict[str, Feed]:
    return {f.url.rsplit("/", 1)[1]: f for f in session.exec(select(Feed)).all()}


@pytest.mark.timeout(400)
@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_bad_input_corpus_gets_clear_errors_or_correct_results(
    corpus_site: LocalSite, database_url: str, tmp_path: Path
) -> None:
    env = corpus_env(tmp_path, corpus_site, database_url)
    run_cli(["db", "upgrade"], env)
    proc = run_cli(["poll", "--once", "--format", "json"], env, timeout=300)
    summary = json.loads(proc.stdout)  # the process survived every case and reported
    assert summary["feeds_polled"] == len(CASES["feed"])

    engine = make_engine(database_url)
    results: dict[str, Any] = {}
    with Session(engine) as s:
        feeds = _feeds_by_name(s)
        for case in CASES["feed"]:
            feed = feeds[case["name"]]
            entries = s.exec(select(FeedEntry).where(FeedEntry.feed_id == feed.id)).all()
            results[case["name"]] = (feed.last_error_kind, feed.last_error, len(entries))
            expect = case["expect"]
            if expect.startswith("entries:"):
                assert feed.last_error is None, (case["name"], feed.last_error)
                assert len(entries) == int(expect.split(":")[1]), (case["name"], len(entries))
            elif expect.startswith("error:"):
                assert feed.last_error_kind == expect.split(":")[1], (case["name"], feed.last_error)
                assert feed.last_error, case["name"]
            else:  # no-expansion: parsed or refused, but no entity ever expanded or fetched
                text = " ".join(f"{e.title}" for e in entries) + f" {feed.title} {feed.last_error}"
                assert "lollollol" not in text and "root:" not in text, (case["name"], text[:200])
                assert "EXTERNAL-DTD-WAS-FETCHED" not in text
            if "title_contains" in case:
                assert any(case["title_contains"] in (e.title or "") for e in entries), [
                    e.title for e in entries
                ]
        assert "/evil.dtd" not in corpus_site.requests

        articles = {a.url.rsplit("/", 1)[1]: a for a in s.exec(select(Article)).all()}
        for case in CASES["page"]:
            article = articles[f"{case['name']}.html"]
            results[f"page:{case['name']}"] = (article.status, article.error)
            expect = case["expect"]
            if expect == "stored":
                assert article.status == "stored", (case["name"], article.error)
                assert article.body and "\x00" not in article.body
            elif expect.startswith("failed:"):
                assert article.status == "failed", (case["name"], article.status)
                assert expect.split(":")[1] in (article.error or ""), (case["name"], article.error)
            else:
                assert article.status in ("stored", "failed"), article.status
                assert article.status == "stored" or article.error
        # Only http(s) links ever become articles.
        assert not [a.url for a in articles.values() if not a.url.startswith("http")]
        xss_article = articles["xss.html"]
        unicode_article = articles["unicode.html"]
    engine.dispose()
    (tmp_path / "results.json").write_text(json.dumps(results, indent=1, default=str))

    assert "\x00" not in (unicode_article.title or "") + (unicode_article.body or "")
    assert "עברית" in (unicode_article.body or "")
    check_alert_email_is_safe(xss_article)


def check_alert_email_is_safe(article: Article) -> None:
    """The stored XSS article, rendered into an alert email the way alerts/render.py does it."""
    now = article.stored_at or article.first_seen_at
    hostile = [
        ArticleSummary(
            title=article.title or "",
            url=article.url,
            outlet="bad-xss",
            time=now,
            text=article.body or "",
        ),
        ArticleSummary(title="<b>click</b>", url="javascript:alert(3)", outlet="x", time=now),
        ArticleSummary(
            title="data", url="data:text/html;base64,PHNjcmlwdD4=", outlet="x", time=now
        ),
    ]
    rendered = render_alert(
        watch_id="defence",
        label="Defence budget",
        note={"kind": "fired", "mentions": 9, "expected": 1.0, "ratio": 9.0},
        series=[1, 1, 9],
        expected=[1, 1, 1],
        articles=hostile,
        recipients=["analyst@example.org"],
        mail_from="newswatch <newswatch@example.org>",
        interval_start=now,
        now=now,
    )
    msg = message_from_bytes(rendered.as_bytes(), policy=default_policy)
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert "<script" not in html.lower()
    # The only image is the inline sparkline; hostile <img onerror> arrives as escaped text.
    assert html.lower().count("<img") == 1 and '<img src="cid:sparkline"' in html
    assert "&lt;img src=x onerror=alert(5)&gt;" in html
    assert "javascript:" not in html.lower() and "data:text" not in html.lower()
    assert "&lt;script&gt;" in html  # shown as text, escaped
    text = text_part.get_content()
    assert "javascript:" not in text and "data:text" not in text
    assert "link withheld" in text
