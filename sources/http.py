"""The one HTTP client: deadlines, a decompressed-size cap, an SSRF guard per hop, robots.txt, politeness."""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import brotli
import httpcore
import httpx

from sources.politeness import HostLimiter, SlotUnavailable
from sources.robots import ROBOTS_MAX_BYTES, RobotsCache, RobotsUnanswered

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DECODE_CHUNK = 64 * 1024  # most bytes one decompression step may produce (bounds memory)
MAX_ENCODINGS = 4
# Name lookups running at once per client. A lookup cannot be cancelled, so one the caller
# stopped waiting for runs on in its thread; the cap keeps a hanging resolver from piling up
# threads (once reached, further lookups wait for a free place within their own deadline).
MAX_LOOKUPS = 64
# robots.txt is "unreachable" once its origin has left this share of a whole deadline without
# an answer, summed over recent attempts: the share, not all of it, so that a first attempt
# trimmed a little by a politeness wait or a redirect hop before it still counts as a whole one.
ROBOTS_UNANSWERED_SHARE = 0.9

# Address ranges never fetched unless `allowed_networks` says so. `is_global` below catches most
# of these already; listing them keeps the rule readable and independent of Python's tables.
DENIED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/96",  # unspecified, loopback, IPv4-compatible
        "::ffff:0:0/96",  # IPv4-mapped
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
        "2001:db8::/32",
        "2002::/16",  # 6to4
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # old site-local
        "ff00::/8",  # multicast
    )
)

FETCH_ERROR_KINDS = (
    "blocked",
    "too_large",
    "timeout",
    "too_many_redirects",
    "redirect_loop",
    "bad_scheme",
    "robots",
    "robots_unreachable",
    "connect",
    "protocol",
    "deferred",
)


class FetchError(Exception):
    """A transport or security failure; `kind` is one of FETCH_ERROR_KINDS.

    "deferred": no politeness slot for the host within the request's deadline, so nothing was
    sent; it says nothing about the outlet. `retry_after` (seconds), when known, is how long
    until the host's spacing allows a request.
    """

    def __init__(
        self, kind: str, message: str, *, url: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.kind}: {self.args[0]}"


@dataclass
class FetchResponse:
    """A fully read response: any HTTP status, the decoded body and the redirects followed."""

    url: str
    final_url: str
    status: int
    headers: httpx.Headers
    content: bytes
    redirects: list[tuple[int, str]] = field(default_factory=list)
    elapsed: float = 0.0

    def raw_header(self, name: str) -> str | None:
        """A header exactly as sent (bytes as latin-1), so validators round-trip byte for byte."""
        wanted = name.lower().encode("ascii")
        for key, value in self.headers.raw:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None


@dataclass
class _Budget:
    """What is left of one request's deadline; its hops and its robots.txt fetches draw on it.

    Waits for politeness slots are drawn from it too; `queued` sums them, so that the time a
    host was actually given to answer can be told apart from the time spent in the queue.
    """

    remaining: float
    queued: float = 0.0


class _Blocked(Exception):
    """Raised inside the transport when no permitted address is left for a host."""


class _KeepNoCookies(DefaultCookiePolicy):
    """For the client's shared jar: nothing is ever stored in it.

    One client serves every fetch of a worker; a shared jar would carry one article's cookies
    to the next, and paywall meters would count all of them ("subscribe to keep reading" after
    the free quota). Each get() keeps its own cookies for its redirect chain instead.
    """

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


# --- the address guard ------------------------------------------------------------------------


class AddressGuard:
    """Decides whether an address may be connected to."""

    def __init__(self, allowed_networks: Sequence[str] = ()) -> None:
        self.allowed = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)

    def permits(self, address: str) -> bool:
        try:
            ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if any(ip.version == net.version and ip in net for net in self.allowed):
            return True
        return not is_denied_address(ip)


def is_denied_address(ip: IPAddress) -> bool:
    """True for every address outside the public internet (see DENIED_NETWORKS)."""
    if any(ip.version == net.version and ip in net for net in DENIED_NETWORKS):
        return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve a host with the system resolver; numeric forms like `2130706433` resolve too."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _BoundedLookups:
    """Runs a blocking resolver so that the caller waits for it no longer than it may.

    getaddrinfo has no timeout of its own (the system's can be tens of seconds, a broken
    resolver's forever), so each lookup runs in a daemon thread, never one that could hold up
    the process's exit, and the caller stops waiting at its deadline.
    """

    def __init__(self, resolver: Resolver, limit: int = MAX_LOOKUPS) -> None:
        self._resolver = resolver
        self._places = threading.BoundedSemaphore(limit)

    def resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        if timeout is None:
            return self._resolver(host, port)
        give_up = time.monotonic() + timeout
        if not self._places.acquire(timeout=timeout):
            raise httpcore.ConnectTimeout(f"no free name lookup for {host!r} within {timeout:.1f}s")
        outcome: list[list[str] | BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                outcome.append(self._resolver(host, port))
            except BaseException as exc:
                outcome.append(exc)
            finally:
                self._places.release()
                done.set()

        threading.Thread(target=run, name="newswatch-resolve", daemon=True).start()
        if not done.wait(max(0.0, give_up - time.monotonic())):
            raise httpcore.ConnectTimeout(f"resolving {host!r} took more than {timeout:.1f}s")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result


# --- deadline-aware network backend -------------------------------------------------------------

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "newswatch_http_deadline", default=None
)


def _clamp(timeout: float | None, exc: type[Exception]) -> float | None:
    """Shorten a socket timeout to what is left of the request's wall-clock deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise exc("wall-clock deadline exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write waits at most until the deadline, so a trickling server is cut off."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves names itself and connects only to permitted addresses (host name kept for SNI)."""

    def __init__(self, guard: AddressGuard, resolver: Resolver) -> None:
        self._guard = guard
        self._lookups = _BoundedLookups(resolver)
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            # Resolving is part of connecting: it gets the connect timeout, and never more than
            # what is left of the request's deadline (a timeout here is the fetch's "timeout").
            addresses = self._lookups.resolve(host, port, _clamp(timeout, httpcore.ConnectTimeout))
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        permitted = [a for a in addresses if self._guard.permits(a)]
        if not permitted:
            raise _Blocked(f"{host!r} resolves to no permitted address ({', '.join(addresses)})")
        last: Exception | None = None
        for address in permitted:
            ip = str(ipaddress.ip_address(address.split("%", 1)[0]))
            try:
                stream = self._inner.connect_tcp(
                    ip,
                    port,
                    _clamp(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            peer = stream.get_extra_info("server_addr")
            if not peer or not self._guard.permits(str(peer[0])):
                stream.close()
                raise _Blocked(f"connected peer {peer!r} is not permitted")
            return _DeadlineStream(stream)
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise _Blocked("unix sockets are never used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool swapped for one on the guarded backend."""

    def __init__(self, backend: _GuardedBackend, *, max_connections: int) -> None:
        super().__init__(trust_env=False)
        # httpx has no public hook for a network backend; replacing the pool keeps its request
        # mapping and exception translation while every connection goes through the guard.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=min(20, max_connections),
            keepalive_expiry=5.0,
            network_backend=backend,
        )


# --- bounded content decoding -------------------------------------------------------------------


class _ZlibStage:
    """gzip or deflate, decompressed at most DECODE_CHUNK bytes at a time."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._wbits = 31 if kind == "gzip" else 15
        self._d = zlib.decompressobj(self._wbits)
        self._started = False
        self._fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        if not self._started and data and self._kind == "deflate":
            self._started = True
            # "deflate" is zlib-wrapped by the spec but raw in the wild; probe which one it is.
            try:
                zlib.decompressobj(15).decompress(data[:64], 1)
            except zlib.error:
                self._d = zlib.decompressobj(-15)
        buf = data
        while True:
            if self._d.eof:
                rest = self._d.unused_data + buf
                if not rest.strip(b"\0"):
                    return
                self._d = zlib.decompressobj(self._wbits)  # a further gzip member
                buf = rest
            out = self._d.decompress(buf, DECODE_CHUNK)
            if out:
                yield out
            if self._d.eof:
                # At a member's end zlib puts the rest of the input in unused_data but leaves a
                # stale copy in unconsumed_tail: taking both fed the next member in twice, over
                # and over. Round again: another member follows, or only padding (return).
                buf = b""
                continue
            buf = self._d.unconsumed_tail
            if not buf and len(out) < DECODE_CHUNK:
                return

    def flush(self) -> Iterator[bytes]:
        yield from self.feed(b"")
        # A body cut off in transit (a close-delimited response, say) decodes to a plausible
        # prefix of the page; without the end of the stream and its checksum it is not the page.
        if self._fed and not self._d.eof:
            raise FetchError("protocol", f"{self._kind} stream ends before its end (truncated)")


class _BrotliStage:
    """brotli, with the decompressor's output buffer limited to DECODE_CHUNK."""

    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        out = self._d.process(data, output_buffer_limit=DECODE_CHUNK)
        # The limit only stops the output buffer from growing: keep draining with empty input
        # until a call yields nothing (then the decoder wants more input or is done).
        while out:
            yield out
            if self._d.is_finished():
                return
            out = self._d.process(b"", output_buffer_limit=DECODE_CHUNK)

    def flush(self) -> Iterator[bytes]:
        # As for gzip: a brotli stream that stops before its last block was cut off.
        if self._fed and not self._d.is_finished():
            raise FetchError("protocol", "br stream ends before its end (truncated)")
        return iter(())


_Stage = _ZlibStage | _BrotliStage


def _stages(content_encoding: str) -> list[_Stage]:
    """Decoders in the order to apply them (the reverse of the order the server encoded)."""
    names = [t.strip().lower() for t in content_encoding.split(",") if t.strip()]
    stages: list[_Stage] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            stages.append(_ZlibStage("gzip"))
        elif name == "deflate":
            stages.append(_ZlibStage("deflate"))
        elif name == "br":
            stages.append(_BrotliStage())
        # Anything else ("identity", or nonsense like "utf-8" that some servers send) is
        # passed through untouched, as httpx and browsers do.
    if len(stages) > MAX_ENCODINGS:
        raise FetchError("protocol", f"too many Content-Encodings ({len(stages)})")
    return stages


def _pipe(stages: Sequence[_Stage], data: bytes) -> Iterator[bytes]:
    if not stages:
        if data:
            yield data
        return
    for out in stages[0].feed(data):
        yield from _pipe(stages[1:], out)


def _finish(stages: Sequence[_Stage]) -> Iterator[bytes]:
    for i, stage in enumerate(stages):
        for out in stage.flush():
            yield from _pipe(stages[i + 1 :], out)


# --- the client -------------------------------------------------------------------------------


def check_url(url: str) -> httpx.URL:
    """Parse a URL and refuse anything but http(s) with a host, before any I/O."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("bad_scheme", f"not a valid URL: {exc}", url=url) from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise FetchError("bad_scheme", f"only http and https are fetched, not {url!r}", url=url)
    if not parsed.host:
        raise FetchError("bad_scheme", f"URL has no host: {url!r}", url=url)
    return parsed


class HttpClient:
    """Every request newswatch makes goes through here (see the module docstring)."""

    def __init__(
        self,
        *,
        user_agent: str,
        allowed_networks: Sequence[str] = (),
        max_bytes: int = 15 * 2**20,
        connect_timeout: float = 10,
        read_timeout: float = 20,
        deadline: float = 45,
        max_redirects: int = 5,
        respect_robots: bool = True,
        limiter: HostLimiter | None = None,
        resolver: Resolver | None = None,
        max_connections: int = 100,
    ) -> None:
        self.user_agent = user_agent
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.max_redirects = max_redirects
        self.respect_robots = respect_robots
        self.limiter = limiter
        self.guard = AddressGuard(allowed_networks)
        backend = _GuardedBackend(self.guard, resolver or system_resolver)
        self._client = httpx.Client(
            transport=_GuardedTransport(backend, max_connections=max_connections),
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=deadline
            ),
            follow_redirects=False,
            trust_env=False,
            cookies=CookieJar(policy=_KeepNoCookies()),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate, br"},
        )
        agent = user_agent.split("/", 1)[0].strip() or user_agent
        self._robots = RobotsCache(
            lambda robots_url: self._fetch_robots(robots_url, _Budget(self.deadline)),
            agent=agent,
            unreachable_after=ROBOTS_UNANSWERED_SHARE * deadline,
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, purpose: str = "page"
    ) -> FetchResponse:
        """GET a URL, following redirects by hand so every hop is checked; any status returns."""
        return self._get(url, headers=headers, purpose=purpose, max_bytes=self.max_bytes)

    def _get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None,
        purpose: str,
        max_bytes: int,
        budget: _Budget | None = None,
    ) -> FetchResponse:
        """Follow `url`'s redirects, drawing on `budget` (a fresh deadline when None)."""
        started = time.monotonic()
        current = check_url(url)
        # latin-1 bytes: validators such as ETag go back exactly as the server sent them.
        extra = {k: v.encode("latin-1", "replace") for k, v in (headers or {}).items()}
        redirects: list[tuple[int, str]] = []
        # This fetch's own cookies, for its hops only (never shared between fetches or threads).
        cookies = httpx.Cookies()
        # Each URL on the way, with how many hops had set a cookie before it was requested.
        seen = {str(current): 0}
        revisited: set[str] = set()
        cookie_sets = 0
        left = budget if budget is not None else _Budget(self.deadline)

        def fetch_robots(robots_url: str) -> tuple[int | None, bytes]:
            return self._fetch_robots(robots_url, left)

        while True:
            if purpose == "page" and self.respect_robots:
                origin = f"{current.scheme}://{current.netloc.decode('ascii')}"
                # robots.txt of every origin on the way is read on the page's own budget, or a
                # chain of slow origins would stretch one page fetch to many deadlines.
                if not self._robots.allows(origin, str(current), fetch=fetch_robots):
                    if self._robots.unreachable(origin):
                        raise FetchError(
                            "robots_unreachable",
                            f"robots.txt of {origin} unreachable; not fetching {current} yet",
                            url=url,
                        )
                    raise FetchError("robots", f"robots.txt disallows {current}", url=url)
            status, resp_headers, content = self._hop(current, extra, left, max_bytes, cookies)
            cookie_sets += "set-cookie" in resp_headers
            location = resp_headers.get("location")
            if status not in REDIRECT_STATUSES or not location:
                return FetchResponse(
                    url=url,
                    final_url=str(current),
                    status=status,
                    headers=resp_headers,
                    content=content,
                    redirects=redirects,
                    elapsed=time.monotonic() - started,
                )
            try:
                target = current.join(location.strip())
            except (httpx.InvalidURL, ValueError) as exc:
                raise FetchError(
                    "protocol", f"bad redirect Location {location!r}", url=url
                ) from exc
            target = check_url(str(target))
            redirects.append((status, str(target)))
            key = str(target)
            if key in seen:
                # A cookie check (consent, bot checks): the site sets a cookie and sends the
                # client back to the same URL, which answers once the cookie comes with it. One
                # return per URL, and only if a cookie was set since it was last requested.
                if seen[key] == cookie_sets or key in revisited:
                    raise FetchError("redirect_loop", f"redirect loop back to {target}", url=url)
                revisited.add(key)
            if len(redirects) > self.max_redirects:
                raise FetchError(
                    "too_many_redirects", f"more than {self.max_redirects} redirects", url=url
                )
            seen[key] = cookie_sets
            current = target

    def _slot(self, host: str, deadline: float) -> AbstractContextManager[None]:
        if self.limiter is None:
            return nullcontext()
        return self.limiter.slot(host, timeout=max(0.0, deadline - time.monotonic()))

    def _hop(
        self,
        url: httpx.URL,
        extra: Mapping[str, bytes],
        budget: _Budget,
        max_bytes: int,
        cookies: httpx.Cookies,
    ) -> tuple[int, httpx.Headers, bytes]:
        """One request under the host's politeness slot; the wait for the slot is on the clock."""
        hop_started = time.monotonic()
        deadline = hop_started + budget.remaining
        try:
            if budget.remaining <= 0:
                raise FetchError("timeout", "wall-clock deadline exceeded", url=str(url))
            with self._slot(url.host, deadline):
                budget.queued += time.monotonic() - hop_started
                return self._request(url, extra, deadline, max_bytes, cookies)
        except SlotUnavailable as exc:
            # Only entering the slot raises this. Our own queue for the host ran out of time,
            # not the host: the caller should try again later and hold nothing against it.
            raise FetchError(
                "deferred",
                f"politeness: {exc}; not sent",
                url=str(url),
                retry_after=exc.retry_after,
            ) from None
        finally:
            budget.remaining -= time.monotonic() - hop_started

    def _request(
        self,
        url: httpx.URL,
        extra: Mapping[str, bytes],
        deadline: float,
        max_bytes: int,
        cookies: httpx.Cookies,
    ) -> tuple[int, httpx.Headers, bytes]:
        """The request itself; every socket wait, and the name lookup, ends by `deadline`."""
        token = _deadline.set(deadline)
        try:
            # The wait for a free pooled connection ends by the deadline too: the client's
            # default pool timeout is a whole deadline, whatever this fetch has already spent.
            base = self._client.timeout
            timeout = httpx.Timeout(
                connect=base.connect,
                read=base.read,
                write=base.write,
                pool=max(0.0, deadline - time.monotonic()),
            )
            request = self._client.build_request("GET", url, headers=extra, timeout=timeout)
            # The cookie jar's work (urllib wrappers, header parsing) only when there is any:
            # nearly every fetch sets and sends none, and a feed poll is a few hundred µs.
            if len(cookies.jar):
                cookies.set_cookie_header(request)
            response = self._client.send(request, stream=True)
            try:
                if "set-cookie" in response.headers:
                    cookies.extract_cookies(response)
                if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                    content = b""
                else:
                    content = self._read_capped(response, max_bytes)
            finally:
                response.close()
            return response.status_code, response.headers, content
        except FetchError:
            raise
        except _Blocked as exc:
            raise FetchError("blocked", str(exc), url=str(url)) from None
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", str(exc) or "timed out", url=str(url)) from None
        except httpx.ConnectError as exc:
            raise FetchError("connect", str(exc) or "connection failed", url=str(url)) from None
        except (httpx.HTTPError, httpx.InvalidURL, zlib.error, brotli.error) as exc:
            raise FetchError("protocol", f"{type(exc).__name__}: {exc}", url=str(url)) from None
        finally:
            _deadline.reset(token)

    def _read_capped(self, response: httpx.Response, max_bytes: int) -> bytes:
        """Stream the body, decoding with bounded steps, and stop as soon as it passes the cap."""
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError("too_large", f"Content-Length {declared} exceeds {max_bytes} bytes")
        stages = _stages(response.headers.get("content-encoding", ""))
        parts: list[bytes] = []
        raw_total = total = 0
        for chunk in response.iter_raw():
            raw_total += len(chunk)
            if raw_total > max_bytes:
                raise FetchError("too_large", f"body exceeds {max_bytes} bytes")
            for out in _pipe(stages, chunk):
                total += len(out)
                if total > max_bytes:
                    raise FetchError("too_large", f"decoded body exceeds {max_bytes} bytes")
                parts.append(out)
        for out in _finish(stages):
            total += len(out)
            if total > max_bytes:
                raise FetchError("too_large", f"decoded body exceeds {max_bytes} bytes")
            parts.append(out)
        return b"".join(parts)

    def _fetch_robots(self, robots_url: str, budget: _Budget) -> tuple[int | None, bytes]:
        """Read robots.txt for a page on what is left of the page's deadline (`budget`)."""
        started, queued = time.monotonic(), budget.queued
        try:
            resp = self._get(
                robots_url,
                headers=None,
                purpose="robots",
                max_bytes=ROBOTS_MAX_BYTES,
                budget=budget,
            )
        except FetchError as exc:
            # "deferred": never sent, so it says nothing about the origin; cache nothing.
            if exc.kind in ("blocked", "bad_scheme", "deferred"):
                raise
            if exc.kind == "timeout":
                # RFC 9309 lets an unreachable robots.txt be taken as a disallow, briefly. A
                # timeout proves that only for the time the origin was given, which may have been
                # short: a page with little of its deadline left. The cache adds that time up
                # per origin (time in the politeness queue left out) and decides.
                given = time.monotonic() - started - (budget.queued - queued)
                raise RobotsUnanswered(
                    given,
                    FetchError(
                        "timeout",
                        f"wall-clock deadline exceeded while reading {robots_url} "
                        f"(no answer in {given:.1f}s)",
                        url=robots_url,
                    ),
                ) from None
            if exc.kind == "too_large":
                return 200, b""  # an absurd robots.txt says nothing we can use
            return None, b""
        return resp.status, resp.content
