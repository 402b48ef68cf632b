"""The SSRF guard: canary servers on other loopback addresses must never see a single connection."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from sources.http import FetchError, HttpClient, is_denied_address
from tests.fixtures.feeds.localserver import LocalServer

UA = "newswatch-test/1.0 (+https://example.invalid/contact)"


@pytest.fixture()
def allowed() -> Iterator[LocalServer]:
    with LocalServer("127.0.0.1") as srv:
        yield srv


@pytest.fixture()
def canary4() -> Iterator[LocalServer]:
    with LocalServer("127.0.0.2") as srv:
        srv.static("/", b"canary")
        yield srv
        assert srv.connections == 0 and srv.requests == []


@pytest.fixture()
def canary6() -> Iterator[LocalServer]:
    with LocalServer("::1") as srv:
        srv.static("/", b"canary")
        yield srv
        assert srv.connections == 0 and srv.requests == []


def client(**kw: object) -> HttpClient:
    args: dict[str, object] = {
        "user_agent": UA,
        "allowed_networks": ["127.0.0.1/32"],
        "deadline": 3.0,
        "respect_robots": False,
    }
    args.update(kw)
    return HttpClient(**args)  # type: ignore[arg-type]


def test_canaries_are_reachable_without_the_guard(canary4: LocalServer) -> None:
    """Sanity: the canary really listens, so zero hits below means the guard stopped us."""
    with client(allowed_networks=["127.0.0.2/32"]) as c:
        assert c.get(canary4.url("/"), purpose="feed").content == b"canary"
    canary4.requests.clear()
    canary4.connections = 0


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.2",
        "2130706434",  # 127.0.0.2 as one decimal number
        "0x7f.0.0.2",  # hex first octet
        "0x7f000002",
        "127.2",  # short form: 127.0.0.2
        "0177.0.0.2",  # octal (httpx refuses to parse this one: also fine)
        "127.000.000.002",
    ],
)
@pytest.mark.parametrize("purpose", ["feed", "page"])
def test_numeric_host_tricks_for_the_ipv4_canary(
    canary4: LocalServer, host: str, purpose: str
) -> None:
    with client() as c, pytest.raises(FetchError) as err:
        c.get(f"http://{host}:{canary4.port}/", purpose=purpose)
    assert err.value.kind in ("blocked", "bad_scheme")


@pytest.mark.parametrize(
    "host", ["[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.2]", "localhost6", "ip6-localhost"]
)
def test_ipv6_loopback_forms_are_blocked(canary6: LocalServer, host: str) -> None:
    with client() as c, pytest.raises(FetchError) as err:
        c.get(f"http://{host}:{canary6.port}/", purpose="feed")
    assert err.value.kind in ("blocked", "connect")


def test_without_allowed_networks_even_127_0_0_1_is_blocked(allowed: LocalServer) -> None:
    allowed.static("/", b"x")
    with client(allowed_networks=[]) as c:
        for host in ("127.0.0.1", "localhost", "2130706433", "127.1", "0x7f.1"):
            with pytest.raises(FetchError) as err:
                c.get(f"http://{host}:{allowed.port}/", purpose="feed")
            assert err.value.kind == "blocked"
    assert allowed.connections == 0


def test_redirect_from_allowed_host_to_canaries_is_blocked(
    allowed: LocalServer, canary4: LocalServer, canary6: LocalServer
) -> None:
    allowed.static("/to4", b"", 302, {"Location": canary4.url("/")})
    allowed.static("/to6", b"", 301, {"Location": canary6.url("/")})
    allowed.static("/to4num", b"", 307, {"Location": f"http://2130706434:{canary4.port}/"})
    with client() as c:
        for path in ("/to4", "/to6", "/to4num"):
            with pytest.raises(FetchError) as err:
                c.get(allowed.url(path), purpose="feed")
            assert err.value.kind == "blocked"
    assert len(allowed.hits()) == 3


def test_rebinding_resolver_is_checked_on_every_connection(
    allowed: LocalServer, canary4: LocalServer
) -> None:
    """First answer is allowed, later ones point at the canary: only the first gets through."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"], ["127.0.0.2"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    # Connection: close forces a fresh connection (and resolution) for the next request.
    allowed.static("/", b"ok", 200, {"Connection": "close"})
    url = f"http://news.example.test:{allowed.port}/"
    with client(resolver=rebinding) as c:
        assert c.get(url, purpose="feed").content == b"ok"
        with pytest.raises(FetchError) as err:
            c.get(url, purpose="feed")
    assert err.value.kind == "blocked"
    assert calls == ["news.example.test", "news.example.test"]
    # The Host header still names the site, not the address we connected to.
    assert allowed.hits()[0].headers["host"] == f"news.example.test:{allowed.port}"


def test_mixed_answers_only_connect_to_permitted_addresses(
    allowed: LocalServer, canary4: LocalServer
) -> None:
    allowed.static("/", b"ok")
    with client(resolver=lambda h, p: ["127.0.0.2", "::1", "127.0.0.1"]) as c:
        assert c.get(f"http://mixed.example.test:{allowed.port}/", purpose="feed").content == b"ok"


def test_robots_fetch_is_guarded_too(canary4: LocalServer) -> None:
    with client(respect_robots=True) as c, pytest.raises(FetchError) as err:
        c.get(canary4.url("/page"), purpose="page")
    assert err.value.kind == "blocked"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "169.254.0.1",
        "100.64.0.1",  # CGNAT
        "100.127.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:8.8.8.8",  # IPv4-mapped forms are never dialled directly
        "::127.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",
        "2001:db8::1",
        "2001::1",  # Teredo
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "100::1",
    ],
)
def test_denied_addresses(address: str) -> None:
    assert is_denied_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450::1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_denied_address(ipaddress.ip_address(address))


def test_allowed_networks_open_exactly_what_they_name(allowed: LocalServer) -> None:
    from sources.http import AddressGuard

    guard = AddressGuard(["127.0.0.1/32", "10.0.0.0/8"])
    assert guard.permits("127.0.0.1") and guard.permits("10.9.9.9")
    assert not guard.permits("127.0.0.2")
    assert not guard.permits("::ffff:127.0.0.1")
    assert not guard.permits("::1")
    assert not guard.permits("not-an-ip")
