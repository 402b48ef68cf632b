"""poll_feed end to end: a real local feed server, a real SQLite file, a moving clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from sources.http import HttpClient
from sources.politeness import LocalHostLimiter
from storage.db import create_all, make_engine
from storage.models import Article, Feed, FeedEntry
from tests.fixtures.feeds.localserver import Handler, LocalServer, rss
from workers.polling import (
    PollConfig,
    claim_feeds_due_soon,
    due_feed_ids,
    poll_feed,
    sync_outlets,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
T0 = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
CONFIG = PollConfig(
    floor=300, ceiling=86400, disable_after_days=7, max_entries=500, rand=lambda: 0.5
)


@dataclass
class Outlet:
    id: str
    feeds: tuple[str, ...]


@pytest.fixture()
def client() -> Iterator[HttpClient]:
    with HttpClient(
        user_agent="newswatch-test/1.0", allowed_networks=["127.0.0.1/32"], deadline=5
    ) as c:
        yield c


def add_feed(engine: Engine, url: str, outlet: str = "example") -> int:
    assert sync_outlets(engine, [Outlet(outlet, (url,))], now=T0) == 1
    with Session(engine) as s:
        return int(s.execute(select(Feed.id).where(Feed.url == url)).scalar_one())


def feed_row(engine: Engine, feed_id: int) -> Feed:
    with Session(engine) as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        s.expunge(feed)
        return feed


def count(engine: Engine, model: Any, *where: Any) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def aware(dt: datetime | None) -> datetime:
    assert dt is not None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def items(n: int, prefix: str = "a", base: str = "https://news.example/") -> list[dict[str, str]]:
    return [
        {"title": f"Story {prefix}{i}", "link": f"{base}{prefix}{i}", "guid": f"{prefix}{i}"}
        for i in range(n)
    ]


class Conditional:
    """A feed route honouring If-None-Match / If-Modified-Since like a good server."""

    def __init__(self, body: bytes, etag: str, modified: str) -> None:
        self.body, self.etag, self.modified = body, etag, modified

    def __call__(self, h: Handler) -> None:
        if h.headers.get("If-None-Match") == self.etag or (
            h.headers.get("If-Modified-Since") == self.modified
            and h.headers.get("If-None-Match") is None
        ):
            h.reply(304, b"", {"ETag": self.etag})
            return
        h.reply(
            200,
            self.body,
            {
                "ETag": self.etag,
                "Last-Modified": self.modified,
                "Content-Type": "application/rss+xml",
            },
        )


# --- sync and claims ---------------------------------------------------------------------------


def test_sync_outlets_adds_each_feed_once(engine: Engine) -> None:
    outlets = [
        Outlet("a", ("http://127.0.0.1:1/f1", "http://127.0.0.1:1/f2")),
        Outlet("b", ("http://127.0.0.1:1/f3",)),
    ]
    assert sync_outlets(engine, outlets, now=T0) == 3
    assert sync_outlets(engine, outlets, now=T0) == 0
    assert count(engine, Feed) == 3


def test_due_feeds_are_claimed_once_even_by_concurrent_claimers(engine: Engine) -> None:
    sync_outlets(
        engine, [Outlet("a", tuple(f"http://127.0.0.1:1/f{i}" for i in range(40)))], now=T0
    )
    claims: list[list[int]] = []
    lock = threading.Lock()

    def claim() -> None:
        got = due_feed_ids(engine, now=T0, limit=15)
        with lock:
            claims.append(got)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for c in claims for i in c]
    assert len(flat) == len(set(flat)) == 40
    assert due_feed_ids(engine, now=T0 + timedelta(seconds=599)) == []
    assert len(due_feed_ids(engine, now=T0 + timedelta(seconds=601))) == 40  # lease expired


def test_feeds_due_before_the_next_dispatch_are_claimed_with_their_wait(engine: Engine) -> None:
    """Beat looks one dispatch interval ahead: a feed due 10 s from now goes out with a 10 s
    delay instead of waiting for the next dispatch (up to 30 s late)."""
    urls = [f"http://127.0.0.1:1/f{i}" for i in range(3)]
    sync_outlets(engine, [Outlet("a", tuple(urls))], now=T0)
    with Session(engine) as s:
        for url, offset in zip(urls, (-5, 10, 40), strict=True):
            feed = s.execute(select(Feed).where(Feed.url == url)).scalar_one()
            feed.next_check_at = T0 + timedelta(seconds=offset)
        s.commit()
        ids = {url: s.execute(select(Feed.id).where(Feed.url == url)).scalar_one() for url in urls}
    got = claim_feeds_due_soon(engine, now=T0, horizon_seconds=30)
    assert got == [(ids[urls[0]], 0.0), (ids[urls[1]], 10.0)]
    # claimed ones are leased past their delay; the one due after the horizon is left alone
    assert claim_feeds_due_soon(engine, now=T0 + timedelta(seconds=30), horizon_seconds=30) == [
        (ids[urls[2]], 10.0)
    ]
    assert claim_feeds_due_soon(engine, now=T0 + timedelta(seconds=500), horizon_seconds=30) == []


# --- conditional GET ----------------------------------------------------------------------------


def test_validators_are_echoed_and_304_writes_only_the_schedule(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    etag, modified = '"abc-123"', "Wed, 06 Mar 2024 11:00:00 GMT"
    url = server.route("/feed", Conditional(rss(items(3)), etag, modified))
    fid = add_feed(engine, url)

    first = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert first.outcome == "new" and len(first.new_article_ids) == 3
    assert "if-none-match" not in server.hits("/feed")[0].headers
    row = feed_row(engine, fid)
    assert (row.etag, row.last_modified) == (etag, modified)

    before = count(engine, FeedEntry), count(engine, Article)
    t1 = T0 + timedelta(hours=1)
    second = poll_feed(engine, fid, client=client, config=CONFIG, now=t1)
    sent = server.hits("/feed")[1].headers
    assert sent["if-none-match"] == etag and sent["if-modified-since"] == modified
    assert second.outcome == "not_modified" and second.status == 304
    assert second.new_article_ids == []
    assert (count(engine, FeedEntry), count(engine, Article)) == before
    row = feed_row(engine, fid)
    assert aware(row.last_checked_at) == t1 and aware(row.next_check_at) > t1
    assert row.etag == etag


def test_unconditional_fetch_at_most_every_24_hours(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    url = server.route("/feed", Conditional(rss(items(1)), '"e"', "Wed, 06 Mar 2024 11:00:00 GMT"))
    fid = add_feed(engine, url)
    for hours in (0, 1, 12, 23, 25, 26):
        poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=hours))
    conditional = ["if-none-match" in r.headers for r in server.hits("/feed")]
    assert conditional == [False, True, True, True, False, True]


def test_a_changing_etag_cannot_poll_faster_than_the_floor(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    state = {"n": 0}

    def churn(h: Handler) -> None:
        state["n"] += 1
        n = state["n"]
        body = rss(items(1, prefix=f"p{n}-") + items(5))
        h.reply(200, body, {"ETag": f'"v{n}"', "Cache-Control": "max-age=0"})

    fid = add_feed(engine, server.route("/feed", churn))
    now = T0
    for _ in range(6):
        out = poll_feed(engine, fid, client=client, config=CONFIG, now=now)
        assert out.next_check_at is not None
        assert (out.next_check_at - now).total_seconds() >= CONFIG.floor
        now = out.next_check_at
        assert due_feed_ids(engine, now=now - timedelta(seconds=1)) == []
        assert due_feed_ids(engine, now=now) == [fid]


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["seconds", "date"])
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_both_forms(
    engine: Engine, server: LocalServer, client: HttpClient, form: str, status: int
) -> None:
    wait = timedelta(hours=5)
    value = str(int(wait.total_seconds())) if form == "seconds" else "Wed, 06 Mar 2024 17:00:00 GMT"
    fid = add_feed(engine, server.static("/feed", b"slow down", status, {"Retry-After": value}))
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert out.outcome == "error" and out.status == status
    assert out.next_check_at == T0 + wait
    row = feed_row(engine, fid)
    assert aware(row.next_check_at) == T0 + wait and row.error_count == 1


def test_503_five_times_then_200_backs_off_and_resets(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    calls = {"n": 0}

    def flaky(h: Handler) -> None:
        calls["n"] += 1
        if calls["n"] <= 5:
            h.reply(503, b"down")
        else:
            h.reply(200, rss(items(2)))

    fid = add_feed(engine, server.route("/feed", flaky))
    jitter = iter([0.0, 1.0, 0.3, 0.9, 0.5, 0.5])
    config = PollConfig(floor=300, ceiling=2000, rand=lambda: next(jitter))
    now, delays = T0, []
    for attempt in range(1, 6):
        out = poll_feed(engine, fid, client=client, config=config, now=now)
        assert out.outcome == "error" and out.status == 503
        assert feed_row(engine, fid).error_count == attempt
        assert out.next_check_at is not None
        delays.append((out.next_check_at - now).total_seconds())
        now = out.next_check_at
    # floor*2^(n-1), half of it jittered, capped at the ceiling.
    assert delays[0] == 300  # [150, 300] raised to the floor
    assert delays[1] == 600  # rand=1.0 -> full 600
    assert 600 <= delays[2] <= 1200
    assert 1000 <= delays[3] <= 2000 and delays[4] <= 2000
    assert delays[2] == pytest.approx(600 + 0.3 * 600)
    out = poll_feed(engine, fid, client=client, config=config, now=now)
    assert out.outcome == "new"
    row = feed_row(engine, fid)
    assert row.error_count == 0 and row.first_error_at is None
    assert row.last_error_kind == "http"  # history kept for `feeds status`


def test_410_disables_at_once(engine: Engine, server: LocalServer, client: HttpClient) -> None:
    fid = add_feed(engine, server.static("/feed", b"gone", 410))
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert out.outcome == "disabled" and out.status == 410
    row = feed_row(engine, fid)
    assert row.disabled_at is not None and "410" in (row.disabled_reason or "")
    assert due_feed_ids(engine, now=T0 + timedelta(days=30)) == []
    again = poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(days=1))
    assert again.outcome == "disabled"
    assert len(server.hits("/feed")) == 1


def test_disabled_after_n_days_of_failure_with_reason(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    fid = add_feed(engine, server.static("/feed", b"oops", 500))
    for day in (0, 1, 3, 6):
        out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(days=day))
        assert out.outcome == "error"
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(days=7, hours=1))
    assert out.outcome == "disabled"
    row = feed_row(engine, fid)
    assert row.error_count == 5
    assert "failing since 2024-03-06T12:00:00" in (row.disabled_reason or "")
    assert "HTTP 500" in (row.disabled_reason or "")


def test_transport_errors_are_recorded(engine: Engine, client: HttpClient) -> None:
    with LocalServer() as srv:
        url = srv.url("/feed")
    fid = add_feed(engine, url)  # server closed: connection refused
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert out.outcome == "error" and out.error_kind == "connect"
    assert feed_row(engine, fid).last_error_kind == "connect"


def test_parse_errors_are_recorded_on_the_feed(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    html = (FIXTURES / "html_page.html").read_bytes()
    fid = add_feed(engine, server.static("/feed", html, 200, {"Content-Type": "text/html"}))
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert out.outcome == "error" and out.error_kind == "parse"
    row = feed_row(engine, fid)
    assert row.error_count == 1 and "HTML" in (row.last_error or "")
    fid2 = add_feed(engine, server.static("/empty", b"", 200))
    assert poll_feed(engine, fid2, client=client, config=CONFIG, now=T0).error_kind == "parse"


# --- redirects -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_three_times_moves_the_feed(
    engine: Engine, server: LocalServer, client: HttpClient, status: int
) -> None:
    server.static("/new", rss(items(1)))
    old = server.static("/old", b"", status, {"Location": "/new"})
    fid = add_feed(engine, old)
    for i in range(1, 3):
        poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=i))
        row = feed_row(engine, fid)
        assert row.url == old and row.redirect_streak == i
    poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=3))
    row = feed_row(engine, fid)
    assert row.url == server.url("/new") and row.redirect_streak == 0
    poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=4))
    assert server.hits("/old").__len__() == 3 and len(server.hits("/new")) == 4


def test_a_moved_feed_is_not_added_back_when_the_registry_still_names_its_old_url(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    server.static("/new", rss(items(1)))
    old = server.static("/old", b"", 301, {"Location": "/new"})
    outlet = Outlet("o", (old,))
    fid = add_feed(engine, old, "o")
    for i in range(1, 4):
        poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=i))
    assert feed_row(engine, fid).url == server.url("/new")
    # a worker restart or a registry reload syncs the unchanged outlet file again
    assert sync_outlets(engine, [outlet], now=T0 + timedelta(hours=5)) == 0
    with Session(engine) as s:
        rows = s.execute(select(Feed.url, Feed.moved_from)).all()
    assert [tuple(r) for r in rows] == [(server.url("/new"), old)]


@pytest.mark.parametrize("status", [302, 307])
def test_temporary_redirects_never_move_the_feed(
    engine: Engine, server: LocalServer, client: HttpClient, status: int
) -> None:
    server.static("/new", rss(items(1)))
    old = server.static("/old", b"", status, {"Location": "/new"})
    fid = add_feed(engine, old)
    for i in range(5):
        poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=i))
    row = feed_row(engine, fid)
    assert row.url == old and row.redirect_streak == 0


def test_single_302_among_301s_restarts_the_count(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    server.static("/new", rss(items(1)))
    sequence = iter([301, 301, 302, 301, 301])
    server.route("/old", lambda h: h.reply(next(sequence), b"", {"Location": "/new"}))
    fid = add_feed(engine, server.url("/old"))
    for i in range(5):
        poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=i))
    row = feed_row(engine, fid)
    assert row.url == server.url("/old") and row.redirect_streak == 2


def test_redirect_loop_is_a_clear_error_on_the_feed(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    server.static("/a", b"", 301, {"Location": "/b"})
    server.static("/b", b"", 301, {"Location": "/a"})
    fid = add_feed(engine, server.url("/a"))
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert out.outcome == "error" and out.error_kind == "redirect_loop"
    row = feed_row(engine, fid)
    assert row.last_error_kind == "redirect_loop" and "loop" in (row.last_error or "")


# --- entries and articles ---------------------------------------------------------------------------


def test_new_entries_create_pending_articles_once(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    body = (
        (FIXTURES / "rss_basic.xml")
        .read_bytes()
        .replace(b"/weather/storm", server.url("/weather/storm").encode())
    )
    fid = add_feed(
        engine, server.static("/feed", body, 200, {"Content-Type": "application/rss+xml"})
    )
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert out.outcome == "new" and len(out.new_article_ids) == 2
    with Session(engine) as s:
        arts = s.execute(select(Article).order_by(Article.id)).scalars().all()
        budget = arts[0]
        assert budget.status == "pending" and budget.outlet_id == "example"
        assert budget.feed_id == fid and budget.guid == "ex-1001"
        assert budget.feed_title == "Parliament passes the budget"
        assert budget.canonical_url == "https://news.example.com/politics/budget"
        assert budget.published_raw == "Tue, 05 Mar 2024 09:30:00 +0100"
        assert aware(budget.feed_published) == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
        assert len(budget.url_hash) == 64
        feed = s.get(Feed, fid)
        assert feed is not None and feed.ttl_seconds == 1800 and feed.title == "Example Daily"
    again = poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=1))
    assert again.outcome == "unchanged" and again.new_article_ids == []
    assert count(engine, Article) == 2 and count(engine, FeedEntry) == 2


@pytest.mark.parametrize("fixture", ["guid_shared.xml", "guid_missing.xml"])
def test_shared_and_missing_guids_neither_collapse_nor_duplicate(
    engine: Engine, server: LocalServer, client: HttpClient, fixture: str
) -> None:
    fid = add_feed(engine, server.static("/feed", (FIXTURES / fixture).read_bytes()))
    first = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    entries = count(engine, FeedEntry)
    expected = {"guid_shared.xml": 3, "guid_missing.xml": 6}[fixture]
    assert entries == expected
    articles = count(engine, Article)
    assert len(first.new_article_ids) == articles
    for hours in (1, 2):
        again = poll_feed(
            engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=hours)
        )
        assert again.new_article_ids == [] and again.outcome == "unchanged"
    assert count(engine, FeedEntry) == entries and count(engine, Article) == articles


def test_guid_that_becomes_shared_later_does_not_duplicate(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    one = [{"title": "A", "link": "https://s.example/a", "guid": "same"}]
    two = one + [{"title": "B", "link": "https://s.example/b", "guid": "same"}]
    bodies = iter([rss(one), rss(two), rss(two), rss(one)])
    fid = add_feed(engine, server.route("/feed", lambda h: h.reply(200, next(bodies))))
    news = [
        poll_feed(
            engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=i)
        ).new_entries
        for i in range(4)
    ]
    assert news == [1, 1, 0, 0]
    assert count(engine, FeedEntry) == 2 and count(engine, Article) == 2


def test_changed_title_or_updated_date_sends_the_article_back(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    v1 = [{"title": "Draft headline", "link": "https://n.example/x", "guid": "x"}]
    v2 = [{"title": "Final headline", "link": "https://n.example/x", "guid": "x"}]
    v3 = [
        {
            "title": "Final headline",
            "link": "https://n.example/x",
            "guid": "x",
            "atom:updated": "2024-03-06T15:00:00Z",
        }
    ]
    bodies = iter([rss(v1), rss(v1), rss(v2), rss(v3)])

    def route(h: Handler) -> None:
        body = next(bodies).replace(
            b'<rss version="2.0">', b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
        )
        h.reply(200, body)

    fid = add_feed(engine, server.route("/feed", route))
    first = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    (aid,) = first.new_article_ids
    with Session(engine) as s:
        art = s.get(Article, aid)
        assert art is not None
        art.status = "stored"
        s.add(art)
        s.commit()
    same = poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=1))
    assert same.refresh_article_ids == []
    edited = poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=2))
    assert edited.refresh_article_ids == [aid] and edited.new_article_ids == []
    with Session(engine) as s:
        assert s.execute(select(Article.status).where(Article.id == aid)).scalar_one() == "pending"
    updated = poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=3))
    assert updated.refresh_article_ids == [aid]
    assert count(engine, Article) == 1


def test_same_article_in_two_feeds_is_created_once(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    shared = [{"title": "Shared", "link": "https://n.example/shared?utm_source=a", "guid": "s1"}]
    f1 = add_feed(engine, server.static("/f1", rss(shared)))
    f2 = add_feed(engine, server.static("/f2", rss(shared)), outlet="other")
    a = poll_feed(engine, f1, client=client, config=CONFIG, now=T0)
    b = poll_feed(engine, f2, client=client, config=CONFIG, now=T0)
    assert len(a.new_article_ids) == 1 and b.new_article_ids == [] and b.new_entries == 1
    assert count(engine, Article) == 1 and count(engine, FeedEntry) == 2


def test_at_most_max_entries_per_poll(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    fid = add_feed(engine, server.static("/feed", rss(items(10_000))))
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert out.new_entries == 500 and len(out.new_article_ids) == 500
    assert count(engine, FeedEntry) == 500


def test_bozo_feed_with_entries_is_ingested(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    body = (FIXTURES / "bozo_with_entries.xml").read_bytes()
    fid = add_feed(engine, server.static("/feed", body))
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    assert out.outcome == "new" and len(out.new_article_ids) == 2


def test_dates_are_clamped_to_fetch_time_with_raw_kept(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    fid = add_feed(engine, server.static("/feed", (FIXTURES / "bad_dates.xml").read_bytes()))
    poll_feed(engine, fid, client=client, config=CONFIG, now=T0)
    with Session(engine) as s:
        rows = {a.feed_title: a for a in s.execute(select(Article)).scalars()}
    assert aware(rows["Future"].feed_published) == T0
    assert rows["Future"].published_raw == "Fri, 01 Jan 2100 00:00:00 GMT"
    assert aware(rows["Garbage"].feed_published) == T0
    assert aware(rows["Good"].feed_published) == datetime(2024, 3, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_claim_poll_and_304_on_both_databases(
    database_url: str, server: LocalServer, client: HttpClient
) -> None:
    eng = make_engine(database_url)
    create_all(eng)
    try:
        url = server.route(
            "/feed", Conditional(rss(items(3)), '"x"', "Wed, 06 Mar 2024 11:00:00 GMT")
        )
        fid = add_feed(eng, url)
        assert due_feed_ids(eng, now=T0) == [fid] and due_feed_ids(eng, now=T0) == []
        first = poll_feed(eng, fid, client=client, config=CONFIG, now=T0)
        assert first.outcome == "new" and len(first.new_article_ids) == 3
        later = T0 + timedelta(hours=2)
        second = poll_feed(eng, fid, client=client, config=CONFIG, now=later)
        assert second.outcome == "not_modified"
        row = feed_row(eng, fid)
        assert row.etag == '"x"' and aware(row.last_checked_at) == later
        assert count(eng, Article) == 3 and count(eng, FeedEntry) == 3
    finally:
        eng.dispose()


def test_a_feed_the_politeness_queue_cannot_start_in_time_is_deferred_not_failed(
    engine: Engine, server: LocalServer
) -> None:
    # The host's spacing (30 s) puts a second request past the 2 s deadline: nothing is sent,
    # so the feed gets no error, no back-off and no step toward being disabled.
    url = server.static("/feed", rss(items(2)), 200, {})
    fid = add_feed(engine, url)
    limiter = LocalHostLimiter(concurrency=1, spacing=30)
    with HttpClient(
        user_agent="newswatch-test/1.0",
        allowed_networks=["127.0.0.1/32"],
        deadline=2,
        limiter=limiter,
    ) as c:
        first = poll_feed(engine, fid, client=c, config=CONFIG, now=T0)
        hits = len(server.hits())
        second = poll_feed(engine, fid, client=c, config=CONFIG, now=T0 + timedelta(minutes=5))
    assert first.outcome == "new"
    assert second.outcome == "deferred" and len(server.hits()) == hits
    wait = (aware(second.next_check_at) - (T0 + timedelta(minutes=5))).total_seconds()
    assert 20 <= wait <= 31
    row = feed_row(engine, fid)
    assert row.error_count == 0 and row.last_error is None and row.first_error_at is None
    assert aware(row.next_check_at) == aware(second.next_check_at)


def test_the_outlets_url_filters_decide_which_entries_become_articles(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    from sources.registry import Outlet as RegistryOutlet

    entries = [
        {"title": "world", "link": "https://news.example/international/world/a", "guid": "1"},
        {"title": "sport", "link": "https://news.example/sport/b", "guid": "2"},
        {"title": "video", "link": "https://news.example/international/video/c", "guid": "3"},
        {"title": "elsewhere", "link": "https://other.example/international/d", "guid": "4"},
    ]
    url = server.static("/feed", rss(entries))
    fid = add_feed(engine, url)
    outlet = RegistryOutlet(
        id="example",
        name="Example",
        language="en",
        country="DE",
        homepage="https://news.example/",
        feeds=(url,),
        url_include=(r"^https://news\.example/international/",),
        url_exclude=(r"/video/",),
    )
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0, outlets={"example": outlet})
    assert out.filtered == 3 and len(out.new_article_ids) == 1
    with Session(engine) as s:
        urls = s.execute(select(Article.url)).scalars().all()
    assert urls == ["https://news.example/international/world/a"]
    # refused entries are remembered as seen: the next poll neither refuses nor stores them again
    again = poll_feed(
        engine,
        fid,
        client=client,
        config=CONFIG,
        now=T0 + timedelta(hours=1),
        outlets={"example": outlet},
    )
    assert again.filtered == 0 and again.new_article_ids == []
    assert count(engine, FeedEntry) == 4 and count(engine, Article) == 1


def test_a_live_blog_refreshed_many_times_stays_stored(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    # Each poll sees a new title, so the article goes back through processing. Its attempt
    # counter once carried over, and the 7th refresh was "gave up after 6 attempts".
    from workers.pipeline import process_article

    state = {"n": 0}
    page_url = server.url("/live")

    def feed(h: Handler) -> None:
        state["n"] += 1
        h.reply(
            200, rss([{"title": f"Live: update {state['n']}", "link": page_url, "guid": "live"}])
        )

    def page(h: Handler) -> None:
        paragraphs = "".join(
            f"<p>Paragraph {i} of the live blog, update {state['n']}, with enough words in it to "
            "count as the body of an article.</p>"
            for i in range(6)
        )
        h.reply(200, f"<html><body><article>{paragraphs}</article></body></html>".encode())

    server.static("/robots.txt", b"User-agent: *\nAllow: /\n")
    server.route("/live", page)
    fid = add_feed(engine, server.route("/feed", feed))
    for i in range(10):
        out = poll_feed(engine, fid, client=client, config=CONFIG, now=T0 + timedelta(hours=i))
        for aid in out.new_article_ids + out.refresh_article_ids:
            process_article(engine, aid, client=client, outlets={})
        with Session(engine) as s:
            status, error = s.execute(select(Article.status, Article.error)).one()
        assert (status, error) == ("stored", None), f"after poll {i}"
