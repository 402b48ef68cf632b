"""Two deliveries of one article's task that overlap (a redelivery while the first still runs)
leave the comments of one fetch, never a mix of both."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from sources.http import HttpClient
from storage.db import create_all, make_engine, session_scope
from storage.models import Comment
from tests.fixtures.feeds.localserver import Handler, LocalServer
from tests.workers.test_robots_unreachable import new_article
from workers.pipeline import fetch_and_clean, store_clean_article

BODY = "".join(
    f"<p>Paragraph {i} of the report on the regional budget, long enough to be its body.</p>"
    for i in range(5)
)


def _page(comments: list[str]) -> bytes:
    items = "".join(
        f'<li class="comment"><span class="author">Reader {n}</span><p>{text}</p></li>'
        for n, text in enumerate(comments)
    )
    return (
        f"<html><body><article><h1>Budget</h1>{BODY}</article>"
        f'<section id="comments"><ol class="commentlist">{items}</ol></section></body></html>'
    ).encode()


def test_overlapping_deliveries_do_not_mix_comments(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    create_all(engine)
    first = ["First comment of three, about the schools.", "Second of three.", "Third of three."]
    second = ["A newer comment about the roads.", "And one more about the schools budget."]
    pages = iter([_page(first), _page(second)])
    with LocalServer() as site:
        site.static("/robots.txt", b"User-agent: *\nAllow: /\n")

        def page(h: Handler) -> None:
            h.reply(200, next(pages), {"Content-Type": "text/html"})

        art_id = new_article(engine, site.route("/a.html", page))
        client = HttpClient(
            user_agent="newswatch-test/1.0", allowed_networks=["127.0.0.1/32"], deadline=5
        )
        # Both deliveries fetch before either stores: each holds the article as it was then.
        a = fetch_and_clean(engine, art_id, client=client, outlets={})
        b = fetch_and_clean(engine, art_id, client=client, outlets={})
        client.close()
    assert isinstance(a, tuple) and isinstance(b, tuple)
    assert len(a[2].comments) == 3 and len(b[2].comments) == 2
    for article, response, cleaned in (a, b):
        with session_scope(engine) as s:
            store_clean_article(
                s,
                article=article,
                cleaned=cleaned,
                raw=response.content,
                content_type="text/html",
                now=datetime.now(UTC),
            )
    with Session(engine) as s:
        stored = [c.text for c in s.exec(select(Comment).order_by(Comment.position)).all()]
    assert stored == second  # the later store's comments, exactly
    engine.dispose()
