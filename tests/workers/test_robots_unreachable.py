"""A page refused only because its site's robots.txt is unreachable is retried, never failed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from sources.http import HttpClient
from storage.db import make_engine, session_scope
from storage.dedup import ensure_article
from storage.models import Article
from tests.conftest import run_cli
from tests.fixtures.feeds.localserver import LocalServer
from workers.pipeline import TransientError, fetch_and_clean


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
        ids = []
        with session_scope(engine) as s:
            for url in (down.url("/a.html"), strict.url("/a.html")):
                art = ensure_article(
                    s,
                    url=url,
                    canonical=url,
                    url_key=hashlib.sha256(url.encode()).hexdigest(),
                    outlet_id="example",
                    now=datetime.now(UTC),
                )
                ids.append(art.id)
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
