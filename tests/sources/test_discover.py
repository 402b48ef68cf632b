"""Discovering a new outlet's feeds from its homepage on a local site, and the TOML it writes."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from sources.discover import DiscoveryError, add_outlet_from_homepage, read_homepage
from sources.http import HttpClient
from sources.registry import load_outlet_file, load_outlets
from tests.fixtures.feeds.localserver import LocalServer, rss

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


@pytest.fixture()
def client() -> Iterator[HttpClient]:
    with HttpClient(
        user_agent="newswatch-test/1.0", allowed_networks=["127.0.0.1/32"], deadline=5
    ) as c:
        yield c


def page(head: str, lang: str = "de-AT") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><title>Wiener Blatt | Startseite</title>{head}'
        "</head><body><p>Hallo</p></body></html>"
    ).encode()


def test_declared_feeds_are_found_checked_and_written(tmp_path: Path, client: HttpClient) -> None:
    with LocalServer() as site:
        site.static("/robots.txt", b"User-agent: *\nAllow: /\n")
        site.static("/news.rss", rss([{"title": "x", "link": "https://w.example/x"}]))
        site.static("/comments.atom", (FIXTURES / "atom_basic.xml").read_bytes())
        site.static("/broken.rss", b"<html>nope</html>", 200, {"Content-Type": "text/html"})
        head = (
            '<link rel="alternate" type="application/rss+xml" href="/news.rss">'
            '<link rel="alternate" type="application/atom+xml" href="comments.atom">'
            '<link rel="alternate" type="application/rss+xml" href="/broken.rss">'
            '<link rel="alternate" type="application/rss+xml" href="/missing.rss">'
            '<link rel="stylesheet" type="text/css" href="/style.css">'
        )
        site.static("/", page(head))
        path = add_outlet_from_homepage(site.url("/"), client=client, outlets_dir=tmp_path)
        assert path == tmp_path / "127-0-0-1.toml"
        data = tomllib.loads(path.read_text("utf-8"))
        assert data["feeds"] == [site.url("/news.rss"), site.url("/comments.atom")]
        assert data["name"] == "Wiener Blatt"
        assert (data["language"], data["country"]) == ("de", "AT")
        assert data["homepage"] == site.url("/")
        assert data["cleaning"] == {"boilerplate_patterns": [], "comment_xpaths": []}
        assert path.read_text("utf-8").startswith("# Written by `newswatch outlets add`")
        # The registry's own loader accepts the file as written.
        outlet = load_outlet_file(path)
        assert outlet.id == "127-0-0-1" and len(outlet.feeds) == 2
        assert [o.id for o in load_outlets(tmp_path)] == ["127-0-0-1"]
        with pytest.raises(FileExistsError, match="--overwrite replaces it, --id writes another"):
            add_outlet_from_homepage(site.url("/"), client=client, outlets_dir=tmp_path)


def test_usual_paths_are_tried_when_nothing_is_declared(tmp_path: Path, client: HttpClient) -> None:
    with LocalServer() as site:
        site.static("/", page("", lang="en"))
        site.static("/rss.xml", rss([{"title": "y", "link": "https://y.example/y"}]))
        path = add_outlet_from_homepage(
            site.url("/"), client=client, outlets_dir=tmp_path, outlet_id="mysite", country="GB"
        )
        data = tomllib.loads(path.read_text("utf-8"))
        assert data["id"] == "mysite" and data["feeds"] == [site.url("/rss.xml")]
        assert data["country"] == "GB" and data["language"] == "en"
        assert len(site.hits("/feed")) == 1 and site.hits("/atom.xml") == []


def test_no_feed_at_all_is_an_error_and_writes_nothing(tmp_path: Path, client: HttpClient) -> None:
    with LocalServer() as site:
        site.static("/", page(""))
        with pytest.raises(DiscoveryError):
            add_outlet_from_homepage(site.url("/"), client=client, outlets_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_homepage_reading_is_pure_and_resolves_base() -> None:
    html = (
        b'<html lang="pt-BR"><head><base href="https://cdn.example.com/site/">'
        b'<meta property="og:site_name" content="Folha Exemplo">'
        b'<link rel="Alternate feed" type="application/rss+xml; charset=utf-8" href="rss/main.xml">'
        b'<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
        b"</head></html>"
    )
    info = read_homepage(html, "https://www.example.com/")
    assert info.alternates == ["https://cdn.example.com/site/rss/main.xml"]
    assert (info.name, info.language, info.country) == ("Folha Exemplo", "pt", "BR")


def test_homepage_language_in_three_letters_is_read_as_iso_639_1() -> None:
    # A bare cut to two letters made "deu" unknown (so "en" in the outlet file) and "swe" "sw".
    for tag, lang in (("deu", "de"), ("swe-SE", "sv"), ("x-default", None)):
        info = read_homepage(f'<html lang="{tag}"><head></head></html>'.encode(), "https://e.test/")
        assert info.language == lang, tag
