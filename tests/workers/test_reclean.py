"""`reclean` after a rule change: the same page cleaned again, so no new page version, the fetch
time kept, and mentions brought in line with the new text, dated when the article was stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from sqlmodel import Session, select

from alerts.watches import parse_watches
from sources.http import HttpClient
from sources.urls import canonical_url, url_hash
from storage import feed_repo
from storage.db import create_all, make_engine, session_scope
from storage.models import Article, ArticleVersion, Mention
from tests.fixtures.feeds.localserver import LocalServer
from workers.pipeline import process_article, reclean_article

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
PARAGRAPHS = "".join(
    f"<p>Paragraph {i}: the council of Kaliningrad debated the budget for schools and roads "
    "on Monday evening, and the vote was postponed.</p>"
    for i in range(5)
)
PAGE = (
    "<html><head><title>Budget debate</title></head><body><article><h1>Budget debate</h1>"
    f"{PARAGRAPHS}<p>PROMO: read our Sarmat missile special edition today</p>"
    "</article></body></html>"
).encode()


def test_a_reclean_is_not_a_new_version_and_brings_mentions_in_line(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    create_all(engine)
    with LocalServer() as site:
        site.static("/robots.txt", b"User-agent: *\nAllow: /\n")
        url = site.static("/budget", PAGE, headers={"Content-Type": "text/html"})
        with session_scope(engine) as s:
            aid, _ = feed_repo.create_article(
                s,
                values={
                    "outlet_id": "o",
                    "url": url,
                    "canonical_url": canonical_url(url),
                    "url_hash": url_hash(canonical_url(url)),
                    "first_seen_at": T0,
                },
            )
        client = HttpClient(
            user_agent="newswatch-test/1.0", allowed_networks=["127.0.0.1/32"], deadline=5
        )
        sarmat = parse_watches('[[watch]]\nid = "sarmat"\nterms = ["Sarmat"]\n')
        process_article(engine, aid, client=client, outlets={}, watches=sarmat, now=T0)
        client.close()
    with Session(engine) as s:
        before = s.get(Article, aid)
        assert before is not None and "Sarmat" in (before.body or "")
        fetched_at = before.fetched_at
        assert [m.watch_id for m in s.exec(select(Mention)).all()] == ["sarmat"]

    # The outlet now removes its promo line; a new watch is added at the same time.
    outlet = SimpleNamespace(
        name="O", language="en", cleaning=SimpleNamespace(boilerplate_patterns=["^PROMO:"])
    )
    both = parse_watches(
        '[[watch]]\nid = "sarmat"\nterms = ["Sarmat"]\n\n'
        '[[watch]]\nid = "kaliningrad"\nterms = ["Kaliningrad"]\n'
    )
    later = T0 + timedelta(days=3)
    with session_scope(engine) as s:
        article = s.get(Article, aid)
        assert article is not None
        reclean_article(s, article, outlets={"o": outlet}, now=later, watches=both)
    with Session(engine) as s:
        after = s.get(Article, aid)
        assert after is not None and "Sarmat" not in (after.body or "")
        assert after.version == 1 and s.exec(select(ArticleVersion)).all() == []
        assert after.fetched_at == fetched_at
        mentions = {m.watch_id: m.seen_at for m in s.exec(select(Mention)).all()}
    # the promo's mention is gone; the new watch's is dated when the article was stored
    assert list(mentions) == ["kaliningrad"]
    assert mentions["kaliningrad"].replace(tzinfo=UTC) == T0
    engine.dispose()
