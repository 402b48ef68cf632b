"""The one HTTP client: deadlines, a decompressed-size cap, an SSRF guard per hop, robots.txt, politeness."""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import brotli
import httpcore
import httpx

from sources.politeness import HostLimiter
from sources.robots import ROBOTS_MAX_BYTES, RobotsCache

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DECODE_CHUNK = 64 * 1024  # most bytes one decompression step may produce (bounds memory)
MAX_ENCODINGS = 4

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
)


class FetchError(Exception):
    """A transport or security failure; `kind` is one of FETCH_ERROR_KINDS."""

    def __init__(self, kind: str, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url

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
    """What is left of one request's deadline; its hops and its robots.txt fetches draw on it."""

    remaining: float


class _Blocked(Exception):
    """Raised inside the transport when no permitted address is left for a host."""


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
        self._resolver = resolver
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
            addresses = self._resolver(host, port)
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

    def feed(self, data: bytes) -> Iterator[bytes]:
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
            buf = self._d.unconsumed_tail
            if out:
                yield out
            if not buf and len(out) < DECODE_CHUNK:
                return

    def flush(self) -> Iterator[bytes]:
        yield from self.feed(b"")


class _BrotliStage:
    """brotli, with the decompressor's output buffer limited to DECODE_CHUNK."""

    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._d.process(data, output_buffer_limit=DECODE_CHUNK)
        # The limit only stops the output buffer from growing: keep draining with empty input
        # until a call yields nothing (then the decoder wants more input or is done).
        while out:
            yield out
            if self._d.is_finished():
                return
            out = self._d.process(b"", output_buffer_limit=DECODE_CHUNK)

    def flush(self) -> Iterator[bytes]:
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
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate, br"},
        )
        agent = user_agent.split("/", 1)[0].strip() or user_agent
        self._robots = RobotsCache(
            lambda robots_url: self._fetch_robots(robots_url, _Budget(self.deadline)), agent=agent
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
        seen = {str(current)}
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
            status, resp_headers, content = self._hop(current, extra, left, max_bytes)
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
            if str(target) in seen:
                raise FetchError("redirect_loop", f"redirect loop back to {target}", url=url)
            if len(redirects) > self.max_redirects:
                raise FetchError(
                    "too_many_redirects", f"more than {self.max_redirects} redirects", url=url
                )
            seen.add(str(target))
            current = target

    def _slot(self, host: str) -> AbstractContextManager[None]:
        return self.limiter.slot(host) if self.limiter is not None else nullcontext()

    def _hop(
        self, url: httpx.URL, extra: Mapping[str, bytes], budget: _Budget, max_bytes: int
    ) -> tuple[int, httpx.Headers, bytes]:
        """One request under the host's politeness slot; the deadline clock runs inside the slot."""
        with self._slot(url.host):
            hop_started = time.monotonic()
            token = _deadline.set(hop_started + budget.remaining)
            try:
                if budget.remaining <= 0:
                    raise FetchError("timeout", "wall-clock deadline exceeded", url=str(url))
                request = self._client.build_request("GET", url, headers=extra)
                response = self._client.send(request, stream=True)
                try:
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
                budget.remaining -= time.monotonic() - hop_started

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
        # With the client's whole deadline available, a timeout says robots.txt is unreachable
        # (RFC 9309: assume a disallow, briefly). With less, it may only say the page had little
        # time left: then the page timed out, and nothing is cached about the origin.
        cut_short = budget.remaining < self.deadline
        try:
            resp = self._get(
                robots_url,
                headers=None,
                purpose="robots",
                max_bytes=ROBOTS_MAX_BYTES,
                budget=budget,
            )
        except FetchError as exc:
            if exc.kind in ("blocked", "bad_scheme"):
                raise
            if exc.kind == "timeout" and cut_short:
                raise FetchError(
                    "timeout",
                    f"wall-clock deadline exceeded while reading {robots_url}",
                    url=robots_url,
                ) from None
            if exc.kind == "too_large":
                return 200, b""  # an absurd robots.txt says nothing we can use
            return None, b""
        return resp.status, resp.content
