"""Feed-side defects from the feed audit: the entry cut of long oldest-first feeds, cache and
Retry-After hints read against the server's own clock, and cookies kept per fetch."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from sources.feeds import parse_feed
from sources.http import FetchError, HttpClient
from sources.schedule import cache_hints, parse_retry_after
from storage.models import Article, Feed
from tests.fixtures.feeds.localserver import Handler, LocalServer, Route, rss
from workers.polling import PollConfig, poll_feed, sync_outlets

NOW = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
CONFIG = PollConfig(
    floor=300, ceiling=86400, disable_after_days=7, max_entries=500, rand=lambda: 0.5
)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def items(lo: int, hi: int, *, start: datetime) -> list[dict[str, str]]:
    """Stories lo..hi-1, one an hour from `start`, oldest first (as some outlets list them)."""
    return [
        {
            "title": f"S{i}",
            "link": f"https://news.example/s{i}",
            "guid": f"s{i}",
            "pubDate": http_date(start + timedelta(hours=i)),
        }
        for i in range(lo, hi)
    ]


@dataclass
class Outlet:
    id: str
    feeds: tuple[str, ...]


def add_feed(engine: Engine, url: str, *, now: datetime) -> int:
    sync_outlets(engine, [Outlet("example", (url,))], now=now)
    with Session(engine) as s:
        return int(s.execute(select(Feed.id).where(Feed.url == url)).scalar_one())


def exact_headers(status: int, body: bytes, headers: Mapping[str, str]) -> Route:
    """A reply with exactly these headers: Handler.reply adds a Date of its own (the real
    clock) before ours, and a response with two Dates says nothing about the server's clock."""

    def route(h: Handler) -> None:
        h.send_response_only(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return route


# --- 1. the entry cut keeps the newest entries ----------------------------------------------------


def test_a_long_oldest_first_feed_keeps_its_newest_entries_in_file_order() -> None:
    body = rss(items(0, 600, start=NOW - timedelta(days=30)))
    feed = parse_feed(body, None, base_url=None, now=NOW, max_entries=500)
    assert feed.total_entries == 600
    assert [e.title for e in feed.entries] == [f"S{i}" for i in range(100, 600)]


def test_a_long_newest_first_feed_still_keeps_its_first_entries() -> None:
    newest_first = list(reversed(items(0, 600, start=NOW - timedelta(days=30))))
    feed = parse_feed(rss(newest_first), None, base_url=None, now=NOW, max_entries=500)
    assert [e.title for e in feed.entries] == [f"S{i}" for i in range(599, 99, -1)]


def test_undated_entries_are_cut_by_their_place_in_the_file() -> None:
    from sources.feeds import newest_indices

    day = [NOW - timedelta(days=10) + timedelta(hours=i) for i in range(6)]
    # Oldest first; the newest entry, at the end, has no date: it goes with its neighbours.
    assert newest_indices([day[0], day[1], None, day[3], day[4], None], 3) == [3, 4, 5]
    # Newest first with an undated entry on top: it is kept, the oldest ones go.
    assert newest_indices([None, day[5], day[4], None, day[2], day[1]], 3) == [0, 1, 2]
    # No dates at all: the file order decides.
    assert newest_indices([None] * 5, 2) == [0, 1]
    # Equal dates in an oldest-first feed: the entries nearer its end are the newer ones.
    assert newest_indices([day[0], day[1], day[1], day[1], day[2]], 2) == [3, 4]
    assert newest_indices([day[0], day[1]], 5) == [0, 1]


def test_new_entries_appended_to_a_long_oldest_first_feed_become_articles(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    start = NOW - timedelta(days=30)
    state = {"items": items(0, 600, start=start)}
    url = server.route(
        "/asc.xml",
        lambda h: h.reply(200, rss(state["items"]), {"Content-Type": "application/rss+xml"}),
    )
    fid = add_feed(engine, url, now=NOW)
    first = poll_feed(engine, fid, client=client, config=CONFIG, now=NOW)
    assert first.new_entries == 500
    state["items"] = items(0, 605, start=start)
    second = poll_feed(engine, fid, client=client, config=CONFIG, now=NOW + timedelta(hours=1))
    assert second.new_entries == 5
    with Session(engine) as s:
        stored = set(s.execute(select(Article.url)).scalars())
    assert {f"https://news.example/s{i}" for i in range(595, 605)} <= stored
    assert "https://news.example/s0" not in stored


# --- 4. Expires and Retry-After against the server's Date -------------------------------------------


def test_expires_is_measured_from_the_servers_date() -> None:
    ahead = NOW + timedelta(hours=20)
    headers = {"date": http_date(ahead), "expires": http_date(ahead + timedelta(minutes=5))}
    assert cache_hints(headers, now=NOW) == (None, NOW + timedelta(minutes=5))
    behind = NOW - timedelta(hours=20)
    headers = {"date": http_date(behind), "expires": http_date(behind + timedelta(hours=2))}
    assert cache_hints(headers, now=NOW) == (None, NOW + timedelta(hours=2))
    # Expires not after Date: stale when sent, whatever our clock says.
    headers = {"date": http_date(ahead), "expires": http_date(ahead - timedelta(minutes=1))}
    assert cache_hints(headers, now=NOW) == (None, None)
    # No (usable) Date: our clock, as before.
    headers = {"date": "yesterday", "expires": http_date(NOW + timedelta(hours=1))}
    assert cache_hints(headers, now=NOW) == (None, NOW + timedelta(hours=1))


def test_max_age_takes_precedence_over_expires() -> None:
    headers = {
        "cache-control": "public, max-age=600",
        "date": http_date(NOW),
        "expires": http_date(NOW + timedelta(hours=3)),
    }
    assert cache_hints(headers, now=NOW) == (600, None)
    assert cache_hints({**headers, "cache-control": "max-age=0"}, now=NOW) == (0, None)


def test_retry_after_date_is_measured_from_the_servers_date() -> None:
    ahead = NOW + timedelta(hours=20)
    value = http_date(ahead + timedelta(minutes=5))
    assert parse_retry_after(value, now=NOW, date=http_date(ahead)) == NOW + timedelta(minutes=5)
    behind = NOW - timedelta(hours=3)
    value = http_date(behind + timedelta(hours=1))
    assert parse_retry_after(value, now=NOW, date=http_date(behind)) == NOW + timedelta(hours=1)
    # Seconds need no clock; without a Date the time named is ours.
    assert parse_retry_after("90", now=NOW, date=http_date(ahead)) == NOW + timedelta(seconds=90)
    value = http_date(NOW + timedelta(hours=2))
    assert parse_retry_after(value, now=NOW, date=None) == NOW + timedelta(hours=2)


def test_a_server_20_hours_ahead_does_not_push_the_next_poll_20_hours_away(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ahead = now + timedelta(hours=20)
    body = rss([{"title": "A", "link": "https://news.example/a", "guid": "a"}])
    expires = server.route(
        "/expires.xml",
        exact_headers(
            200,
            body,
            {
                "Content-Type": "application/rss+xml",
                "Date": http_date(ahead),
                "Expires": http_date(ahead + timedelta(hours=5)),
            },
        ),
    )
    retry = server.route(
        "/retry.xml",
        exact_headers(
            503,
            b"maintenance",
            {"Date": http_date(ahead), "Retry-After": http_date(ahead + timedelta(hours=2))},
        ),
    )
    fid = add_feed(engine, expires, now=now)
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=now)
    assert out.outcome == "new" and out.next_check_at == now + timedelta(hours=5)
    fid = add_feed(engine, retry, now=now)
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=now)
    assert out.outcome == "error" and out.next_check_at == now + timedelta(hours=2)


def test_a_short_max_age_is_not_stretched_by_a_long_expires(
    engine: Engine, server: LocalServer, client: HttpClient
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    body = rss([{"title": "A", "link": "https://news.example/a", "guid": "a"}])
    url = server.route(
        "/feed.xml",
        exact_headers(
            200,
            body,
            {
                "Content-Type": "application/rss+xml",
                "Date": http_date(now),
                "Cache-Control": "max-age=600",
                "Expires": http_date(now + timedelta(hours=5)),
            },
        ),
    )
    fid = add_feed(engine, url, now=now)
    out = poll_feed(engine, fid, client=client, config=CONFIG, now=now)
    # One entry, no cadence yet: the default hour, which max-age (10 min) does not raise.
    assert out.outcome == "new" and out.next_check_at == now + timedelta(hours=1)


# --- 5. cookies live for one fetch ---------------------------------------------------------------


def metered(h: Handler) -> None:
    """A paywall meter: two free articles per browser, counted in a cookie."""
    found = re.search(r"meter=(\d+)", h.headers.get("Cookie") or "")
    n = int(found.group(1)) + 1 if found else 1
    body = b"<html>full article</html>" if n <= 2 else b"<html>Subscribe to keep reading</html>"
    h.reply(
        200,
        body,
        {"Content-Type": "text/html", "Set-Cookie": f"meter={n}; Path=/; Max-Age=2592000"},
    )


def test_cookies_are_not_carried_from_one_fetch_to_the_next(
    server: LocalServer, client: HttpClient
) -> None:
    for i in range(4):
        server.route(f"/story{i}", metered)
    bodies = [client.get(server.url(f"/story{i}")).content for i in range(4)]
    assert bodies == [b"<html>full article</html>"] * 4
    assert all("cookie" not in seen.headers for seen in server.hits())


def test_a_cookie_check_redirect_back_to_the_same_url_is_followed(
    server: LocalServer, client: HttpClient
) -> None:
    def check(h: Handler) -> None:
        if "seen=1" in (h.headers.get("Cookie") or ""):
            h.reply(200, b"<html>article</html>", {"Content-Type": "text/html"})
        else:
            h.reply(302, b"", {"Location": "/cc", "Set-Cookie": "seen=1; Path=/"})

    url = server.route("/cc", check)
    resp = client.get(url)
    assert resp.status == 200 and resp.content == b"<html>article</html>"
    assert resp.final_url == url and resp.redirects == [(302, url)]
    # The cookie was this fetch's only: the next fetch goes through the check again.
    again = client.get(url)
    assert again.status == 200 and again.redirects == [(302, url)]
    assert len(server.hits("/cc")) == 4


def test_loops_are_still_loops_with_or_without_cookies(
    server: LocalServer, client: HttpClient
) -> None:
    server.static("/a", b"", 302, {"Location": "/b"})
    server.static("/b", b"", 302, {"Location": "/a"})
    # A site that sets a cookie on every hop and never lets the client in.
    server.static("/c", b"", 302, {"Location": "/c", "Set-Cookie": "x=1; Path=/"})
    for path in ("/a", "/c"):
        with pytest.raises(FetchError) as err:
            client.get(server.url(path))
        assert err.value.kind == "redirect_loop"
    assert len(server.hits("/c")) == 2  # the one return a cookie check gets, then no more


def test_fetches_on_other_threads_never_see_each_others_cookies(
    server: LocalServer, client: HttpClient
) -> None:
    def login(h: Handler) -> None:
        cookie = h.headers.get("Cookie") or ""
        if "session=" in cookie:
            h.reply(200, cookie.encode(), {"Content-Type": "text/plain"})
        else:
            who = h.path.rsplit("=", 1)[1]
            h.reply(302, b"", {"Location": h.path, "Set-Cookie": f"session={who}; Path=/"})

    server.route("/login", login)
    results: dict[int, bytes] = {}

    def fetch(n: int) -> None:
        results[n] = client.get(server.url(f"/login?who={n}")).content

    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: f"session={n}".encode() for n in range(8)}
