"""Article-fetch defects from the feed audit: a host's Retry-After on a page is honoured, binary
answers are refused instead of stored as garbage, and a redirect-only meta refresh is followed."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from sources.http import HttpClient
from storage.models import Article
from tests.fixtures.feeds.localserver import Handler, LocalServer, Route
from tests.workers.test_robots_unreachable import new_article
from workers.pipeline import TransientError, fetch_and_clean, process_article

PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    + b"stream\n"
    + bytes(range(256)) * 20
    + b"\nendstream\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 30
REAL = (
    b"<html><head><title>Real story</title></head><body><article><h1>Real story</h1>"
    + b"<p>This is the real article body with plenty of words in it so extraction keeps it "
    + b"as the body text of the page.</p>" * 5
    + b"</article></body></html>"
)


def refresh_page(content: str, *, extra: str = "", noscript: bool = False) -> bytes:
    meta = f'<meta http-equiv="Refresh" content="{content}">'
    if noscript:
        meta = f"<noscript>{meta}</noscript>"
    return (
        f"<html><head><title>Redirecting</title>{meta}</head><body>"
        f'<p>If you are not redirected, <a href="/real">click here</a>.</p>{extra}'
        "</body></html>"
    ).encode()


def exact_headers(status: int, body: bytes, headers: Mapping[str, str]) -> Route:
    """A reply with exactly these headers (Handler.reply adds a Date of its own first)."""

    def route(h: Handler) -> None:
        h.send_response_only(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return route


def article(engine: Engine, article_id: int) -> Article:
    with Session(engine) as s:
        row = s.get(Article, article_id)
        assert row is not None
        s.expunge(row)
        return row


# --- 2. Retry-After on a page ------------------------------------------------------------------


def test_a_429_page_is_retried_after_the_hosts_retry_after(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    url = server.static("/p429", b"too many", 429, {"Retry-After": "600"})
    with pytest.raises(TransientError, match="HTTP 429") as err:
        fetch_and_clean(engine, new_article(engine, url), client=client, outlets={})
    assert err.value.retry_after == 600


def test_a_503_page_with_a_date_is_retried_by_the_servers_own_clock(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    ahead = datetime.now(UTC) + timedelta(hours=20)
    url = server.route(
        "/p503",
        exact_headers(
            503,
            b"busy",
            {
                "Date": format_datetime(ahead, usegmt=True),
                "Retry-After": format_datetime(ahead + timedelta(minutes=20), usegmt=True),
            },
        ),
    )
    with pytest.raises(TransientError, match="HTTP 503") as err:
        fetch_and_clean(engine, new_article(engine, url), client=client, outlets={})
    assert err.value.retry_after == pytest.approx(1200, abs=2)


def test_a_retry_after_of_an_hour_or_more_is_capped_below_the_visibility_timeout(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    from workers.pipeline import MAX_PAGE_RETRY_AFTER

    url = server.static("/day", b"come back tomorrow", 503, {"Retry-After": "86400"})
    with pytest.raises(TransientError) as err:
        fetch_and_clean(engine, new_article(engine, url), client=client, outlets={})
    assert err.value.retry_after == MAX_PAGE_RETRY_AFTER < 3600
    # A 502 has no Retry-After to honour, and one without the header keeps the task's backoff.
    plain = server.static("/p502", b"bad gateway", 502, {"Retry-After": "600"})
    with pytest.raises(TransientError) as err:
        fetch_and_clean(engine, new_article(engine, plain), client=client, outlets={})
    assert err.value.retry_after is None


# --- 3. what is not a page ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "ctype", "reason"),
    [
        ("/doc.pdf", PDF, "application/pdf", "unsupported content type: application/pdf"),
        ("/pic", PNG, "image/png", "unsupported content type: image/png"),
        (
            "/blob",
            PNG,
            "application/octet-stream",
            "unsupported content type: application/octet-stream (the body is neither HTML nor text)",
        ),
        (
            "/pdf-as-text",
            PDF,
            "text/plain",
            "unsupported content type: text/plain (the body is neither HTML nor text)",
        ),
    ],
)
def test_binary_answers_are_refused_not_stored(
    engine: Engine,
    server: LocalServer,
    client: HttpClient,
    path: str,
    body: bytes,
    ctype: str,
    reason: str,
) -> None:
    url = server.static(path, body, headers={"Content-Type": ctype})
    art_id = new_article(engine, url)
    outcome = process_article(engine, art_id, client=client, outlets={})
    assert outcome.status == "failed" and outcome.error == reason
    row = article(engine, art_id)
    assert row.status == "failed" and row.error == reason
    assert row.body is None and row.title is None and row.raw_page is None


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (REAL, "application/xhtml+xml; charset=utf-8"),
        (REAL, None),
        (REAL, "application/octet-stream"),
        (gzip.compress(REAL), "application/gzip"),
    ],
)
def test_html_served_as_html_or_as_an_unknown_type_is_stored(
    engine: Engine, server: LocalServer, client: HttpClient, body: bytes, ctype: str | None
) -> None:
    headers = {"Content-Type": ctype} if ctype else None
    art_id = new_article(engine, server.static("/story", body, headers=headers))
    outcome = process_article(engine, art_id, client=client, outlets={})
    assert outcome.status == "stored", outcome.error
    assert article(engine, art_id).title == "Real story"


def test_unsupported_content_reads_the_type_then_the_body() -> None:
    from workers.pipeline import unsupported_content

    assert unsupported_content("text/html; charset=utf-8", b"\x00\x01") is None  # as declared
    assert unsupported_content("TEXT/HTML", REAL) is None
    assert unsupported_content("text/plain", "Ein Text über nichts.\n".encode()) is None
    assert unsupported_content(None, b"Plain words, no markup.\n") is None
    assert unsupported_content("", b"\xef\xbb\xbf<!DOCTYPE html><html></html>") is None
    assert unsupported_content("text/html, text/html; charset=utf-8", REAL) is None
    assert unsupported_content("application/json", b"{}") == (
        "unsupported content type: application/json"
    )
    assert unsupported_content(None, PNG) == (
        "unsupported content type: none (the body is neither HTML nor text)"
    )
    assert unsupported_content("application/octet-stream", PDF) is not None


# --- 3. a page that only redirects by meta refresh --------------------------------------------------


def test_a_zero_second_meta_refresh_page_is_followed_once(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    server.static("/real", REAL, headers={"Content-Type": "text/html"})
    url = server.static(
        "/refresh", refresh_page("0; url='/real'"), headers={"Content-Type": "text/html"}
    )
    art_id = new_article(engine, url)
    outcome = process_article(engine, art_id, client=client, outlets={})
    assert outcome.status == "stored", outcome.error
    row = article(engine, art_id)
    assert row.title == "Real story" and "real article body" in (row.body or "")
    assert len(server.hits("/real")) == 1


def test_meta_refreshes_that_are_not_redirects_are_left_alone(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    long_text = "<p>" + " ".join(f"word{i}" for i in range(200)) + "</p>"
    pages = {
        "/delayed": refresh_page("30; url=/real"),  # read first, then moved on
        "/noscript": refresh_page("0;URL=/real", noscript=True),  # a no-script fallback
        "/long": refresh_page("0; url=/real", extra=long_text),  # a page of its own
        "/self": refresh_page("0"),  # reloads itself
        "/script": refresh_page("0; url=javascript:location.reload()"),  # not a web page
    }
    server.static("/real", REAL, headers={"Content-Type": "text/html"})
    for path, body in pages.items():
        url = server.static(path, body, headers={"Content-Type": "text/html"})
        outcome = process_article(engine, new_article(engine, url), client=client, outlets={})
        assert outcome.status == "stored", (path, outcome.error)
    assert server.hits("/real") == []


def test_a_refresh_is_followed_only_once_and_through_the_clients_rules(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    server.static("/hop2", refresh_page("0; url=/real"), headers={"Content-Type": "text/html"})
    server.static("/real", REAL, headers={"Content-Type": "text/html"})
    first = server.static(
        "/hop1", refresh_page("0; url=/hop2"), headers={"Content-Type": "text/html"}
    )
    outcome = process_article(engine, new_article(engine, first), client=client, outlets={})
    assert outcome.status == "stored"
    assert len(server.hits("/hop2")) == 1 and server.hits("/real") == []
    # The target is fetched like any page: the address guard refuses a private address.
    private = f"http://127.0.0.2:{server.port}/real"
    url = server.static(
        "/to-private", refresh_page(f"0; url={private}"), headers={"Content-Type": "text/html"}
    )
    art_id = new_article(engine, url)
    outcome = process_article(engine, art_id, client=client, outlets={})
    assert outcome.status == "failed" and "blocked" in (outcome.error or "")
    # And a refresh to a PDF is refused as the PDF it is.
    server.static("/doc.pdf", PDF, headers={"Content-Type": "application/pdf"})
    url = server.static(
        "/to-pdf", refresh_page("0; url=/doc.pdf"), headers={"Content-Type": "text/html"}
    )
    outcome = process_article(engine, new_article(engine, url), client=client, outlets={})
    assert outcome.error == "unsupported content type: application/pdf"
