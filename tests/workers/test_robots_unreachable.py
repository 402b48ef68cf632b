"""A page refused only because its site's robots.txt is unreachable is retried, never failed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from sources.http import HttpClient
from sources.politeness import LocalHostLimiter
from storage.db import make_engine, session_scope
from storage.dedup import ensure_article
from storage.models import Article
from tests.conftest import run_cli
from tests.fixtures.feeds.localserver import LocalServer
from workers.pipeline import Deferred, TransientError, fetch_and_clean


def new_article(engine: Engine, url: str) -> int:
    with session_scope(engine) as s:
        art = ensure_article(
            s,
            url=url,
            canonical=url,
            url_key=hashlib.sha256(url.encode()).hexdigest(),
            outlet_id="example",
            now=datetime.now(UTC),
        )
        assert art.id is not None
        return art.id


def test_unreachable_robots_txt_is_a_retry_and_a_disallow_is_a_failure(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    run_cli(["db", "upgrade"], {"NEWSWATCH_DATA_DIR": str(data)})
    engine = make_engine(f"sqlite:///{data / 'newswatch.db'}")
    with LocalServer() as down, LocalServer() as strict:
        down.static("/robots.txt", b"busy", 503)
        down.static("/a.html", b"<html><body><p>text</p></body></html>")
        strict.static("/robots.txt", b"User-agent: *\nDisallow: /\n")
        strict.static("/a.html", b"<html><body><p>text</p></body></html>")
        ids = [new_article(engine, down.url("/a.html")), new_article(engine, strict.url("/a.html"))]
        client = HttpClient(
            user_agent="newswatch-test/1.0", allowed_networks=["127.0.0.1/32"], deadline=5.0
        )
        with pytest.raises(TransientError, match="robots_unreachable"):
            fetch_and_clean(engine, ids[0], client=client, outlets={})
        refused = fetch_and_clean(engine, ids[1], client=client, outlets={})
        client.close()
        assert down.hits("/a.html") == [] and strict.hits("/a.html") == []
    with Session(engine) as s:
        retried, disallowed = s.get(Article, ids[0]), s.get(Article, ids[1])
        assert retried is not None and retried.status != "failed"
        assert disallowed is not None and disallowed.status == "failed"
        assert "robots.txt disallows" in (disallowed.error or "")
    assert getattr(refused, "status", None) == "failed"


def test_a_page_the_politeness_queue_cannot_start_in_time_is_retried_after_its_wait(
    tmp_path: Path,
) -> None:
    # The robots.txt request takes the host's turn; the host's spacing (30 s) then puts the
    # page past its 2 s deadline. Nothing was sent for the page, so it is a retry after the
    # wait the queue named, never a failure.
    data = tmp_path / "data"
    data.mkdir()
    run_cli(["db", "upgrade"], {"NEWSWATCH_DATA_DIR": str(data)})
    engine = make_engine(f"sqlite:///{data / 'newswatch.db'}")
    with LocalServer() as site:
        site.static("/robots.txt", b"User-agent: *\nAllow: /\n")
        url = site.static("/a.html", b"<html><body><p>text</p></body></html>")
        art_id = new_article(engine, url)
        client = HttpClient(
            user_agent="newswatch-test/1.0",
            allowed_networks=["127.0.0.1/32"],
            deadline=2.0,
            limiter=LocalHostLimiter(concurrency=1, spacing=30),
        )
        with pytest.raises(TransientError, match="^deferred: politeness") as caught:
            fetch_and_clean(engine, art_id, client=client, outlets={})
        client.close()
        assert len(site.hits("/robots.txt")) == 1 and site.hits("/a.html") == []
    assert caught.value.retry_after is not None and 20 <= caught.value.retry_after <= 31
    with Session(engine) as s:
        waiting = s.get(Article, art_id)
        # still pending, and the attempt that never reached the page is not counted
        assert waiting is not None and waiting.status == "pending" and waiting.attempts == 0
    assert isinstance(caught.value, Deferred)
