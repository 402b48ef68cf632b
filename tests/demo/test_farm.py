"""The local outlet farm: feeds, pages, conditional GET, runtime publishing and synthetic load."""

from __future__ import annotations

import gzip
import html
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import lxml.html
import pytest

from sources.registry import load_outlets
from workers.demo.farm import Farm
from workers.demo.pages import SITES, SITES_DIR, SYNDICATION_PREFIX, build_site_files


@pytest.fixture(scope="module")
def farm() -> Iterator[Farm]:
    with Farm() as f:
        yield f


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def _visible_text(page: str) -> str:
    return " ".join(lxml.html.fromstring(page).text_content().split())


def _entries(client: httpx.Client, url: str) -> list[feedparser.FeedParserDict]:
    r = client.get(url)
    assert r.status_code == 200
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, (url, parsed.get("bozo_exception"))
    return list(parsed.entries)


def test_feeds_parse_with_at_least_40_entries(farm: Farm, client: httpx.Client) -> None:
    total = 0
    kinds = set()
    for url in farm.feed_urls():
        r = client.get(url)
        kinds.add(feedparser.parse(r.content).version)
        entries = _entries(client, url)
        assert entries, url
        for e in entries:
            assert e.title and e.link.startswith(farm.base_url)
            assert e.published_parsed is not None
        total += len(entries)
    assert total >= 40
    assert {"rss20", "atom10"} <= kinds


def test_every_entry_page_loads_and_matches_its_expected_result(
    farm: Farm, client: httpx.Client
) -> None:
    seen = set()
    for url in farm.feed_urls():
        for entry in _entries(client, url):
            path = urlsplit(entry.link).path
            if path in seen:
                continue
            seen.add(path)
            r = client.get(entry.link)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            page = r.text
            assert "{base_url}" not in page
            assert f'<link rel="canonical" href="{farm.base_url}{path}">' in page
            expected = farm.expected_for(entry.link)
            assert expected is not None and expected["path"] == path
            assert expected["title"] == entry.title
            assert len(expected["body"]) >= 4
            text = _visible_text(page)
            for para in expected["body"]:
                assert para in text, (path, para[:40])
            for comment in expected["comments"]:
                for line in comment["text"].split("\n"):
                    assert line in text
                if comment["author"] and comment.get("kind") != "repost_commentary":
                    assert f'<cite class="fn">{html.escape(comment["author"])}</cite>' in page
            for line in expected["boilerplate"]:
                assert " ".join(line.split()) in text, (path, line)
    assert len(seen) >= 40


def test_fixture_set_has_the_noise_the_seeds_show() -> None:
    expected = [json.loads(p.read_text()) for p in SITES_DIR.glob("*/*.expected.json")]
    assert len(expected) >= 40
    assert {e["site"] for e in expected} == set(SITES)
    reposts = [c for e in expected for c in e["comments"] if c.get("kind") == "repost_commentary"]
    assert len(reposts) >= 5
    comments = [c for e in expected if e["site"] == "sentinel-front" for c in e["comments"]]
    assert len(comments) >= 40
    assert any(c["author"] is None for c in comments)
    assert any("ы" in c["text"] for c in comments) and any("ción" in c["text"] for c in comments)
    assert all(
        "Kommentare sind geschlossen." in e["boilerplate"]
        for e in expected
        if e["site"] == "globus-notes"
    )
    assert sum("also read" in e["boilerplate"] for e in expected) >= 9
    sarmat = sum(any("Sarmat" in p for p in e["body"]) for e in expected)
    kaliningrad = sum(any("Kaliningrad" in p for p in e["body"]) for e in expected)
    assert 3 <= sarmat <= 15 and 3 <= kaliningrad <= 15


def test_committed_pages_are_what_the_renderers_produce(tmp_path: Path) -> None:
    copy = tmp_path / "sites"
    shutil.copytree(SITES_DIR, copy, ignore=shutil.ignore_patterns("*.html", "*.json"))
    assert build_site_files(copy) >= 40
    for f in sorted(copy.glob("*/*.*")):
        assert f.read_bytes() == (SITES_DIR / f.parent.name / f.name).read_bytes(), (
            f"{f.parent.name}/{f.name} is stale: run python -m workers.demo.pages"
        )


def test_syndicated_copy_names_its_original(farm: Farm, client: httpx.Client) -> None:
    copy = json.loads(
        (SITES_DIR / "arsenal-digest" / "german-brigade-lithuania.expected.json").read_text()
    )
    original = json.loads(
        (
            SITES_DIR
            / "rhein-kurier"
            / "german-brigade-lithuania-first-battalion-a4102.expected.json"
        ).read_text()
    )
    assert copy["body"] == original["body"] and copy["outlet"] != original["outlet"]
    assert copy["syndicated_from"] == ["Rhein-Kurier International"]
    page = client.get(farm.base_url + copy["path"]).text
    assert f"{SYNDICATION_PREFIX} Rhein-Kurier International." in page
    assert "also read" not in page


def test_same_article_in_two_feeds_once_with_tracking_parameters(
    farm: Farm, client: httpx.Client
) -> None:
    main, category = farm.feed_urls("sentinel-front")
    plain = {e.link for e in _entries(client, main)}
    tracked = [e.link for e in _entries(client, category)]
    assert tracked and all(link.endswith("?utm_source=rss&utm_medium=feed") for link in tracked)
    for link in tracked:
        assert link.split("?", 1)[0] in plain
        r = client.get(link)
        assert r.status_code == 200


def test_conditional_get_and_gzip(farm: Farm, client: httpx.Client) -> None:
    url = farm.feed_urls("rhein-kurier")[0]
    first = client.get(url, headers={"Accept-Encoding": "identity"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.status_code == 200 and etag and modified
    again = client.get(url, headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200
    old = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": old}).status_code == 200
    # Raw stream so we see the compressed bytes on the wire.
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == "gzip"
        gz_etag = r.headers["etag"]
    assert gzip.decompress(raw) == first.content and gz_etag != etag
    assert client.get(url, headers={"If-None-Match": gz_etag}).status_code == 304
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""


def test_robots_404_faults_and_request_log(farm: Farm, client: httpx.Client) -> None:
    robots = client.get(farm.base_url + "/robots.txt")
    assert robots.status_code == 200 and "Disallow: /admin/" in robots.text
    assert client.get(farm.base_url + "/no/such/page.html").status_code == 404
    farm.set_fault("/globus-notes/", 503, retry_after=120)
    try:
        r = client.get(farm.feed_urls("globus-notes")[0])
        assert r.status_code == 503 and r.headers["retry-after"] == "120"
    finally:
        farm.clear_faults()
    assert client.get(farm.feed_urls("globus-notes")[0]).status_code == 200
    assert ("GET", "/robots.txt") in {(m, p) for _, m, p in farm.request_log}


def test_publish_changes_the_feed(client: httpx.Client) -> None:
    with Farm() as farm:
        url = farm.feed_urls("sentinel-front")[0]
        before = client.get(url)
        when = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)
        page_url = farm.publish(
            "sentinel-front",
            title="Sarmat test launch reported near Kaliningrad",
            body_paragraphs=[
                "First paragraph about Sarmat.",
                "Second paragraph about Kaliningrad.",
            ],
            published=when,
            comments=[("Old Sapper", "Believe it when I see it."), (None, "Anonymous remark.")],
        )
        after = client.get(url, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
        entries = feedparser.parse(after.content).entries
        assert entries[0].link == page_url and entries[0].title.startswith("Sarmat test launch")
        page = client.get(page_url)
        assert page.status_code == 200 and "Second paragraph about Kaliningrad." in page.text
        assert '<cite class="fn">Old Sapper</cite>' in page.text
        expected = farm.expected_for(page_url)
        assert expected is not None
        assert expected["body"][1] == "Second paragraph about Kaliningrad."
        assert expected["comments"][1] == {"author": None, "text": "Anonymous remark."}
        second = farm.publish(
            "sentinel-front",
            title="Sarmat test launch reported near Kaliningrad",
            body_paragraphs=["Again."],
        )
        assert second != page_url
        with pytest.raises(KeyError):
            farm.publish("no-such-outlet", title="x", body_paragraphs=["y"])


def test_generated_feeds_serve_25_articles_each(client: httpx.Client, tmp_path: Path) -> None:
    with Farm(generated_feeds=4, seed=7) as farm:
        gen_ids = [i for i in farm.outlet_ids if i.startswith("gen-")]
        assert gen_ids == ["gen-000", "gen-001", "gen-002", "gen-003"]
        links = []
        for oid in gen_ids:
            entries = _entries(client, farm.feed_urls(oid)[0])
            assert len(entries) == 25
            assert len({e.link for e in entries}) == 25
            links.append(entries[0].link)
        titles = set()
        for link in links:
            r = client.get(link)
            assert r.status_code == 200
            expected = farm.expected_for(link)
            assert expected is not None and len(expected["body"]) >= 4
            titles.add(expected["title"])
            text = _visible_text(r.text)
            for para in expected["body"]:
                assert para in text
        assert len(titles) == 4
        outlets = load_outlets(farm.outlets_dir(tmp_path / "outlets"))
        assert len(outlets) == len(SITES) + 4
        assert client.get(farm.base_url + "/gen-000/articles/99-nope.html").status_code == 404
    with Farm(generated_feeds=1, seed=7) as same, Farm(generated_feeds=1, seed=8) as other:
        a = client.get(same.feed_urls("gen-000")[0]).text.replace(same.base_url, "")
        b = client.get(other.feed_urls("gen-000")[0]).text.replace(other.base_url, "")
        again = client.get(same.feed_urls("gen-000")[0]).text.replace(same.base_url, "")
        assert a == again and a != b


def test_demo_outlet_templates_validate_after_substitution(farm: Farm, tmp_path: Path) -> None:
    outlets = load_outlets(farm.outlets_dir(tmp_path))
    assert {o.id for o in outlets} == set(SITES)
    feeds = sorted(f for o in outlets for f in o.feeds)
    assert feeds == sorted(farm.feed_urls())
    for o in outlets:
        assert o.homepage.startswith(farm.base_url)
        assert "{base_url}" not in (tmp_path / f"{o.id}.toml").read_text()
