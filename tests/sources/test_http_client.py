"""The HTTP client against real local servers: schemes, redirects, deadlines, size caps, robots."""

from __future__ import annotations

import contextlib
import gzip
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import brotli
import pytest

from sources.http import FetchError, HttpClient
from sources.politeness import LocalHostLimiter
from tests.fixtures.feeds.localserver import Handler, LocalServer, zeros

UA = "newswatch-test/1.0 (+https://example.invalid/contact)"
GIB = 1 << 30


@pytest.fixture()
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def make_client(**kw: object) -> HttpClient:
    args: dict[str, object] = {
        "user_agent": UA,
        "allowed_networks": ["127.0.0.1/32"],
        "deadline": 5.0,
        "read_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    args.update(kw)
    return HttpClient(**args)  # type: ignore[arg-type]


@pytest.fixture()
def client() -> Iterator[HttpClient]:
    c = make_client(respect_robots=False)
    yield c
    c.close()


# --- schemes and bare paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/feed.xml",
        "gopher://127.0.0.1:70/_GET",
        "/etc/passwd",
        "etc/passwd",
        "127.0.0.1/feed",
        "http:///nohost",
        "javascript:alert(1)",
        "data:text/plain,hello",
    ],
)
def test_non_http_urls_are_rejected_before_any_io(url: str) -> None:
    calls: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return ["127.0.0.1"]

    with make_client(resolver=resolver) as c:
        with pytest.raises(FetchError) as err:
            c.get(url, purpose="feed")
        with pytest.raises(FetchError):
            c.get(url, purpose="page")
    assert err.value.kind == "bad_scheme"
    assert calls == []


def test_redirect_to_file_scheme_is_rejected(server: LocalServer, client: HttpClient) -> None:
    url = server.static("/r", b"", 302, {"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError) as err:
        client.get(url, purpose="feed")
    assert err.value.kind == "bad_scheme"


# --- basics ------------------------------------------------------------------------------------


def test_user_agent_and_any_status_returned(server: LocalServer, client: HttpClient) -> None:
    for status in (200, 404, 410, 429, 503):
        url = server.static(f"/s{status}", b"body", status)
        resp = client.get(url, purpose="feed")
        assert resp.status == status
        assert resp.content == b"body"
    assert {r.headers["user-agent"] for r in server.hits()} == {UA}


def test_validators_go_back_byte_for_byte(server: LocalServer, client: HttpClient) -> None:
    etag = 'W/"caf\xe9-\x01x"'.replace("\x01", "1")  # a latin-1 byte outside ASCII
    url = server.route(
        "/v", lambda h: h.reply(200, b"x", {"ETag": etag.encode("latin-1").decode("latin-1")})
    )
    resp = client.get(url, purpose="feed")
    got = resp.raw_header("etag")
    assert got == etag
    client.get(url, headers={"If-None-Match": got}, purpose="feed")
    sent = [v for k, v in server.hits("/v")[-1].raw_headers if k.lower() == "if-none-match"]
    assert sent == [etag]


def test_redirects_are_followed_and_recorded(server: LocalServer, client: HttpClient) -> None:
    server.static("/a", b"", 301, {"Location": "/b"})
    server.static("/b", b"", 302, {"Location": server.url("/c")})
    server.static("/c", b"final")
    resp = client.get(server.url("/a"), purpose="feed")
    assert resp.status == 200 and resp.content == b"final"
    assert resp.redirects == [(301, server.url("/b")), (302, server.url("/c"))]
    assert resp.final_url == server.url("/c")
    assert resp.url == server.url("/a")


def test_redirect_loop_is_a_clear_error(server: LocalServer, client: HttpClient) -> None:
    server.static("/x", b"", 302, {"Location": "/y"})
    server.static("/y", b"", 301, {"Location": "/x"})
    with pytest.raises(FetchError) as err:
        client.get(server.url("/x"), purpose="feed")
    assert err.value.kind == "redirect_loop"
    assert len(server.hits()) == 2


def test_too_many_redirects(server: LocalServer, client: HttpClient) -> None:
    for i in range(10):
        server.static(f"/h{i}", b"", 302, {"Location": f"/h{i + 1}"})
    with pytest.raises(FetchError) as err:
        client.get(server.url("/h0"), purpose="feed")
    assert err.value.kind == "too_many_redirects"
    assert len(server.hits()) == 6  # the first request and five redirects


# --- deadline -------------------------------------------------------------------------------


def _stall(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    h.wfile.flush()
    h.server.owner.stopping.wait(10)


def _trickle(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "10000")
    h.end_headers()
    for _ in range(10000):
        if h.server.owner.stopping.wait(0.05):
            return
        h.wfile.write(b"x")
        h.wfile.flush()


@pytest.mark.parametrize("route", [_stall, _trickle], ids=["stalled", "trickling"])
def test_slow_servers_are_cut_at_the_deadline_and_free_the_slot(
    server: LocalServer, route: object
) -> None:
    server.route("/slow", route)  # type: ignore[arg-type]
    server.static("/fast", b"ok")
    limiter = LocalHostLimiter(concurrency=1, spacing=0)
    # The read timeout alone (5 s) would never fire on a trickle: only the deadline can.
    with make_client(deadline=0.6, read_timeout=5, limiter=limiter, respect_robots=False) as c:
        started = time.monotonic()
        with pytest.raises(FetchError) as err:
            c.get(server.url("/slow"), purpose="feed")
        took = time.monotonic() - started
        assert err.value.kind == "timeout"
        assert 0.5 < took < 2.5
        # The single slot for this host was released: the next request goes straight through.
        t0 = time.monotonic()
        assert c.get(server.url("/fast"), purpose="feed").content == b"ok"
        assert time.monotonic() - t0 < 1.0


def test_deadline_covers_the_whole_redirect_chain(server: LocalServer) -> None:
    def slow_redirect(h: Handler) -> None:
        time.sleep(0.25)
        h.reply(302, b"", {"Location": h.path + "x"})

    for path in ("/d", "/dx", "/dxx", "/dxxx", "/dxxxx"):
        server.route(path, slow_redirect)
    with make_client(deadline=0.6, respect_robots=False) as c, pytest.raises(FetchError) as err:
        c.get(server.url("/d"), purpose="feed")
    assert err.value.kind == "timeout"
    assert len(server.hits()) <= 4


# --- size caps ------------------------------------------------------------------------------

CAP = 2 * 1024 * 1024


def test_1gib_body_with_content_length_is_refused_without_reading(server: LocalServer) -> None:
    def big(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(GIB))
        h.end_headers()
        for chunk in zeros(GIB):
            if h.server.owner.stopping.is_set():
                return
            h.wfile.write(chunk)

    server.route("/big", big)
    with make_client(max_bytes=CAP, respect_robots=False) as c:
        started = time.monotonic()
        with pytest.raises(FetchError) as err:
            c.get(server.url("/big"), purpose="feed")
    assert err.value.kind == "too_large"
    assert time.monotonic() - started < 3


def test_1gib_body_without_content_length_stops_at_the_cap(server: LocalServer) -> None:
    server.route("/big", lambda h: h.stream(200, zeros(GIB)))
    with make_client(max_bytes=CAP, respect_robots=False) as c:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(FetchError) as err:
                c.get(server.url("/big"), purpose="feed")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert err.value.kind == "too_large"
    assert time.monotonic() - started < 5
    assert peak < 3 * CAP


def gzip_of_zeros(total_mib: int) -> bytes:
    """A valid single-member gzip of `total_mib` MiB of zeros, built without compressing it all.

    After a full flush the deflate state is reset, so every further MiB of zeros compresses to
    the same block: one block is made and repeated (a bomb at ~1000:1).
    """
    mib = b"\0" * (1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(mib) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(mib) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(total_mib):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (total_mib << 20) & 0xFFFFFFFF)
    return header + first + block * (total_mib - 1) + comp.flush() + trailer


def test_gzip_bomb_helper_is_what_it_claims() -> None:
    body = gzip_of_zeros(3)
    assert gzip.decompress(body) == b"\0" * (3 << 20)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzip_of_zeros(1024)  # ~1 MB on the wire, 1 GiB decoded


@pytest.fixture(scope="module")
def brotli_bomb() -> bytes:
    comp = brotli.Compressor(quality=1)
    parts = [comp.process(chunk) for chunk in zeros(GIB, 1 << 22)]
    return b"".join(parts) + comp.finish()


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("gzip", "gzip"), ("brotli", "br"), ("double", "gzip, gzip")],
)
def test_compression_bombs_stop_at_the_cap_with_bounded_memory(
    server: LocalServer, request: pytest.FixtureRequest, name: str, encoding: str
) -> None:
    if name == "double":
        body = gzip.compress(request.getfixturevalue("gzip_bomb"), 9)
    else:
        body = request.getfixturevalue(f"{name}_bomb")
    assert len(body) < 8 * 1024 * 1024
    server.static("/bomb", body, 200, {"Content-Encoding": encoding})
    with make_client(max_bytes=CAP, respect_robots=False) as c:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(FetchError) as err:
                c.get(server.url("/bomb"), purpose="feed")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert err.value.kind == "too_large"
    assert time.monotonic() - started < 5
    # The whole compressed body is a Python object in the server here, so count only above it.
    assert peak < len(body) + 3 * CAP


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", lambda b: gzip.compress(b)),
        ("deflate", lambda b: zlib.compress(b)),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("br", lambda b: brotli.compress(b)),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
        ("br, gzip", lambda b: gzip.compress(brotli.compress(b))),
        ("identity", lambda b: b),
    ],
)
def test_encodings_decode_to_the_original_bytes(
    server: LocalServer, client: HttpClient, encoding: str, encode: object
) -> None:
    original = ("Grüße aus Köln. " * 20000).encode("utf-8")
    server.static("/enc", encode(original), 200, {"Content-Encoding": encoding})  # type: ignore[operator]
    assert client.get(server.url("/enc"), purpose="feed").content == original


def test_corrupt_gzip_is_a_protocol_error(server: LocalServer, client: HttpClient) -> None:
    server.static("/bad", b"\x1f\x8b\x08\x00garbage-garbage", 200, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as err:
        client.get(server.url("/bad"), purpose="feed")
    assert err.value.kind == "protocol"


def test_body_exactly_at_the_cap_is_fine(server: LocalServer) -> None:
    body = b"a" * 1000
    server.route("/exact", lambda h: h.stream(200, iter([body])))
    with make_client(max_bytes=1000, respect_robots=False) as c:
        assert c.get(server.url("/exact"), purpose="feed").content == body
        server.route("/over", lambda h: h.stream(200, iter([body + b"b"])))
        with pytest.raises(FetchError) as err:
            c.get(server.url("/over"), purpose="feed")
    assert err.value.kind == "too_large"


# --- robots.txt ------------------------------------------------------------------------------


def test_robots_respected_for_pages_cached_per_host_and_ignored_for_feeds(
    server: LocalServer,
) -> None:
    server.static("/robots.txt", b"User-agent: *\nDisallow: /private/\n")
    server.static("/private/a", b"secret")
    server.static("/public/a", b"hello")
    with make_client() as c:
        with pytest.raises(FetchError) as err:
            c.get(server.url("/private/a"))
        assert err.value.kind == "robots"
        assert c.get(server.url("/public/a")).content == b"hello"
        assert c.get(server.url("/public/a")).content == b"hello"
        # Feeds are fetched regardless of robots.txt.
        assert c.get(server.url("/private/a"), purpose="feed").content == b"secret"
    assert len(server.hits("/robots.txt")) == 1
    assert server.hits("/private/a")[0].headers["user-agent"] == UA
    assert len(server.hits("/private/a")) == 1


def test_robots_rules_for_our_agent_and_missing_or_broken_files() -> None:
    with LocalServer() as ours, LocalServer() as missing, LocalServer() as broken:
        ours.static("/robots.txt", b"User-agent: newswatch-test\nDisallow: /\n\nUser-agent: *\n")
        ours.static("/a", b"a")
        missing.static("/a", b"a")  # /robots.txt is a 404: everything allowed
        broken.static("/robots.txt", b"oops", 503)  # unreachable: assume disallow
        broken.static("/a", b"a")
        with make_client() as c:
            with pytest.raises(FetchError) as err:
                c.get(ours.url("/a"))
            assert err.value.kind == "robots"
            assert c.get(missing.url("/a")).content == b"a"
            with pytest.raises(FetchError) as err:
                c.get(broken.url("/a"))
            # Only until robots.txt can be read again: the pipeline retries this kind.
            assert err.value.kind == "robots_unreachable"
        assert ours.hits("/a") == [] and broken.hits("/a") == []


@pytest.mark.parametrize(
    ("robots", "allowed", "refused"),
    [
        # the longest match wins, whatever the order (the stdlib took the first line)
        (b"User-agent: *\nAllow: /\nDisallow: /private/\n", "/news/a", "/private/a"),
        (b"User-agent: *\nDisallow: /\nAllow: /news/\n", "/news/a", "/other/a"),
        # wildcards and end anchors (the stdlib ignored them)
        (b"User-agent: *\nDisallow: /*?print=\n", "/story", "/story?print=1"),
        (b"User-agent: *\nDisallow: /*.pdf$\n", "/doc.pdf?x=1", "/doc.pdf"),
    ],
)
def test_robots_rules_follow_rfc_9309(
    server: LocalServer, robots: bytes, allowed: str, refused: str
) -> None:
    server.static("/robots.txt", robots)
    for path in (allowed, refused):
        server.static(path.split("?")[0], b"page")
    with make_client() as c:
        assert c.get(server.url(allowed)).content == b"page"
        with pytest.raises(FetchError) as err:
            c.get(server.url(refused))
        assert err.value.kind == "robots"


def test_a_rate_limited_robots_txt_is_unreachable_not_missing(server: LocalServer) -> None:
    server.static("/robots.txt", b"slow down", 429)
    server.static("/a", b"a")
    with make_client() as c, pytest.raises(FetchError) as err:
        c.get(server.url("/a"))
    assert err.value.kind == "robots_unreachable"
    assert server.hits("/a") == []


def _slow_robots(seconds: float) -> Callable[[Handler], None]:
    def route(h: Handler) -> None:
        h.server.owner.stopping.wait(seconds)
        h.reply(200, b"User-agent: *\nAllow: /\n")

    return route


def test_robots_fetches_along_a_redirect_chain_share_the_page_deadline() -> None:
    """Six origins whose robots.txt each answer within one deadline: the page gets one in all."""
    deadline = 1.5
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(LocalServer()) for _ in range(6)]
        for i, srv in enumerate(servers):
            srv.route("/robots.txt", _slow_robots(0.6 * deadline))
            if i + 1 < len(servers):
                srv.static("/p", b"", 302, {"Location": servers[i + 1].url("/p")})
            else:
                srv.static("/p", b"article")
        with make_client(deadline=deadline) as c:
            started = time.monotonic()
            with pytest.raises(FetchError) as err:
                c.get(servers[0].url("/p"))
            took = time.monotonic() - started
        # Each robots.txt used to get a fresh deadline: ~5.4 s, and the page came back.
        assert err.value.kind == "timeout"  # retried by the pipeline, like any page timeout
        assert took < 3.5
        assert len(servers[0].hits("/robots.txt")) == 1
        assert [len(s.hits()) for s in servers[2:]] == [0, 0, 0, 0]


def test_robots_cut_short_by_the_page_deadline_is_not_taken_as_unreachable() -> None:
    with LocalServer() as first, LocalServer() as second, LocalServer() as hanging:
        first.route("/robots.txt", _slow_robots(0.9))
        first.static("/p", b"", 302, {"Location": second.url("/p")})
        second.route("/robots.txt", _slow_robots(0.9))
        second.static("/p", b"article")
        hanging.route("/robots.txt", _slow_robots(10))
        hanging.static("/p", b"article")
        with make_client(deadline=1.5) as c:
            with pytest.raises(FetchError) as err:
                c.get(first.url("/p"))
            assert err.value.kind == "timeout"
            # The second origin's robots.txt was only out of the page's time, not unreachable:
            # read again with a whole deadline, it allows the page.
            assert c.get(second.url("/p")).content == b"article"
            assert len(second.hits("/robots.txt")) == 2
        # One that does not answer within a whole deadline is still "unreachable" (retried).
        with make_client(deadline=0.5) as c, pytest.raises(FetchError) as err:
            c.get(hanging.url("/p"))
        assert err.value.kind == "robots_unreachable"
        assert hanging.hits("/p") == []


def test_client_is_safe_to_share_between_threads(server: LocalServer, client: HttpClient) -> None:
    server.route("/t", lambda h: h.reply(200, h.path.encode()))
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                results.append(client.get(server.url("/t"), purpose="feed").content)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [b"/t"] * 80
