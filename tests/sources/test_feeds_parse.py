"""parse_feed on fixture files: expected results, charsets, bozo feeds, keys, dates and XML attacks."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sources.feeds import FeedParseError, parse_feed, strip_doctype
from tests.fixtures.feeds.localserver import LocalServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
NOW = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("name", ["rss_basic", "atom_basic", "bozo_with_entries"])
def test_fixture_feeds_give_their_expected_results(name: str) -> None:
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text("utf-8"))
    feed = parse_feed(
        load(f"{name}.xml"),
        {"Content-Type": "application/xml"},
        base_url="https://news.example.com/feed.xml",
        now=NOW,
    )
    for key in ("title", "ttl_seconds", "sy_period_seconds", "bozo"):
        if key in expected:
            assert getattr(feed, key) == expected[key], key
    assert len(feed.entries) == len(expected["entries"])
    for got, want in zip(feed.entries, expected["entries"], strict=True):
        for key, value in want.items():
            actual = getattr(got, key)
            if isinstance(actual, datetime):
                actual = actual.isoformat()
            assert actual == value, key
    assert len({e.key for e in feed.entries}) == len(feed.entries)


def test_bozo_without_entries_html_and_empty_bodies_are_parse_errors() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(load("bozo_without_entries.xml"), None, base_url=None, now=NOW)
    with pytest.raises(FeedParseError, match="HTML"):
        parse_feed(load("html_page.html"), {"content-type": "text/html"}, base_url=None, now=NOW)
    # An HTML page served with a feed content type is still an HTML page.
    with pytest.raises(FeedParseError):
        parse_feed(
            load("html_page.html"), {"content-type": "application/rss+xml"}, base_url=None, now=NOW
        )
    for empty in (b"", b"   \n\t "):
        with pytest.raises(FeedParseError, match="empty"):
            parse_feed(empty, None, base_url=None, now=NOW)
    with pytest.raises(FeedParseError):
        parse_feed(
            b'{"json": "not a feed"}', {"content-type": "application/json"}, base_url=None, now=NOW
        )


def test_a_valid_feed_without_entries_is_not_an_error() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    feed = parse_feed(body, None, base_url=None, now=NOW)
    assert feed.title == "Quiet" and feed.entries == [] and not feed.bozo


CHARSETS = json.loads((FIXTURES / "charsets.expected.json").read_text("utf-8"))


@pytest.mark.parametrize("name", sorted(CHARSETS))
def test_charsets_come_out_as_correct_text(name: str) -> None:
    want = CHARSETS[name]
    feed = parse_feed(load(name), {"Content-Type": want["content_type"]}, base_url=None, now=NOW)
    assert feed.title == want["title"]
    assert feed.entries[0].title == want["entry_title"]


def test_content_encoding_header_is_not_passed_to_feedparser() -> None:
    """The client already decoded the body; a stale gzip header must not confuse parsing."""
    feed = parse_feed(
        load("rss_basic.xml"),
        {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
        base_url=None,
        now=NOW,
    )
    assert len(feed.entries) == 2


def test_ten_thousand_entries_are_cut_to_the_limit_quickly() -> None:
    items = "".join(
        f"<item><title>Entry {i}</title><link>https://big.example/{i}</link><guid>g{i}</guid></item>"
        for i in range(10_000)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
    started = time.monotonic()
    feed = parse_feed(body.encode(), None, base_url=None, now=NOW, max_entries=500)
    assert time.monotonic() - started < 30
    assert len(feed.entries) == 500
    assert feed.total_entries == 10_000
    assert feed.entries[0].title == "Entry 0" and feed.entries[-1].title == "Entry 499"


def test_shared_guids_do_not_collapse_entries() -> None:
    feed = parse_feed(load("guid_shared.xml"), None, base_url=None, now=NOW)
    assert [e.title for e in feed.entries] == ["First", "Second", "Third"]
    assert len({e.key for e in feed.entries}) == 3
    again = parse_feed(load("guid_shared.xml"), None, base_url=None, now=NOW + timedelta(hours=1))
    assert [e.key for e in again.entries] == [e.key for e in feed.entries]


def test_missing_guids_fall_back_to_link_then_content() -> None:
    feed = parse_feed(load("guid_missing.xml"), None, base_url=None, now=NOW)
    assert len(feed.entries) == 6
    assert len({e.key for e in feed.entries}) == 6
    keys = {e.title: e.key for e in feed.entries}
    assert keys["Alpha"].startswith("l:") and keys["Gamma, no link"].startswith("h:")
    assert keys["Same link one"].startswith("h:")  # a link shared by two entries names neither
    again = parse_feed(load("guid_missing.xml"), None, base_url=None, now=NOW + timedelta(days=1))
    assert [e.key for e in again.entries] == [e.key for e in feed.entries]


def test_tracking_parameters_do_not_change_link_keys() -> None:
    def one(link: str) -> str:
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"<item><title>x</title><link>{link}</link></item></channel></rss>"
        )
        return parse_feed(body.encode(), None, base_url=None, now=NOW).entries[0].key

    assert one("https://t.example/a?utm_source=rss&amp;utm_medium=x") == one("https://t.example/a")


def test_missing_garbage_future_and_ancient_dates_are_clamped_with_raw_kept() -> None:
    feed = parse_feed(load("bad_dates.xml"), None, base_url=None, now=NOW)
    by_title = {e.title: e for e in feed.entries}
    assert by_title["Good"].published == datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
    for title in ("Missing", "Garbage", "Future", "Ancient"):
        assert by_title[title].published == NOW, title
        assert by_title[title].published.tzinfo is not None
    assert by_title["Missing"].published_raw is None
    assert by_title["Garbage"].published_raw == "sometime last week-ish"
    assert by_title["Future"].published_raw == "Fri, 01 Jan 2100 00:00:00 GMT"


# --- XML attacks ----------------------------------------------------------------------------


def test_billion_laughs_finishes_fast_without_expansion() -> None:
    started = time.monotonic()
    try:
        feed = parse_feed(load("billion_laughs.xml"), None, base_url=None, now=NOW)
    except FeedParseError:
        feed = None
    assert time.monotonic() - started < 1.0
    if feed is not None:
        assert "lollol" not in (feed.title or "")
        assert all("lollol" not in (e.title or "") for e in feed.entries)


def test_xxe_does_not_read_local_files() -> None:
    started = time.monotonic()
    try:
        feed = parse_feed(load("xxe_file.xml"), None, base_url=None, now=NOW)
    except FeedParseError:
        feed = None
    assert time.monotonic() - started < 1.0
    if feed is not None:
        text = json.dumps([feed.title, [(e.title, e.summary) for e in feed.entries]])
        assert "root:" not in text


def test_external_dtd_and_entities_are_never_fetched() -> None:
    with LocalServer() as canary:
        canary.static("/evil.dtd", b'<!ENTITY leak "LEAKED">')
        canary.static("/entity.txt", b"LEAKED")
        docs = [
            f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{canary.url("/evil.dtd")}">\n'
            '<rss version="2.0"><channel><title>t &leak;</title>'
            "<item><title>a</title><link>https://x.example/a</link></item></channel></rss>",
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e SYSTEM "{canary.url("/entity.txt")}">'
            f'<!ENTITY % p SYSTEM "{canary.url("/evil.dtd")}"> %p;]>'
            '<rss version="2.0"><channel><title>t &e;</title>'
            "<item><title>&e;</title><link>https://x.example/a</link></item></channel></rss>",
            f'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//x//y" "{canary.url("/evil.dtd")}" [\n'
            '  <!ENTITY ok "fine">\n]>\n<rss version="2.0"><channel><title>&ok;</title>'
            "<item><title>a</title><link>https://x.example/a</link></item></channel></rss>",
        ]
        for doc in docs:
            started = time.monotonic()
            try:
                feed = parse_feed(doc.encode(), None, base_url=None, now=NOW)
            except FeedParseError:
                feed = None
            assert time.monotonic() - started < 1.0
            if feed is not None:
                assert "LEAKED" not in json.dumps([feed.title, [e.title for e in feed.entries]])
        assert canary.connections == 0


def test_strip_doctype_handles_brackets_and_quotes() -> None:
    doc = b'<?xml version="1.0"?>\n<!DOCTYPE x [ <!ENTITY a "]>"> ]>\n<rss a="<!DOCTYPE">x</rss>'
    assert strip_doctype(doc) == b'<?xml version="1.0"?>\n\n<rss a="<!DOCTYPE">x</rss>'
    with pytest.raises(FeedParseError):
        strip_doctype(b'<!DOCTYPE x [ <!ENTITY a "never closed')


LAUGHS = '<!ENTITY l0 "lol">' + "".join(
    f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 6)
)


def _laughing_feed(before_doctype: str, subset_first: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>\n{before_doctype}\n'
        f'<!DOCTYPE rss [ {subset_first} <!ENTITY ok "EXPANDED"> {LAUGHS} ]>\n'
        '<rss version="2.0"><channel><title>&ok;</title>'
        "<item><title>a</title><link>https://x.example/a</link>"
        "<description>&l5;</description></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("before", "subset_first"),
    [
        ("<!-- <x> -->", ""),  # markup inside a comment used to end the prolog scan
        ('<?xml-stylesheet href="<x>.xsl"?>', ""),  # ... and inside a processing instruction
        ("<!-- a --><?pi <y>?>\n<!-- <z> -->", ""),
        ("", '<!-- ]> " -->'),  # a comment in the subset must not end the DOCTYPE early
        ("", "<?pi ]> ' ?>"),
    ],
    ids=["comment-first", "pi-first", "several-first", "comment-in-subset", "pi-in-subset"],
)
def test_doctype_after_comments_or_pis_is_still_stripped(before: str, subset_first: str) -> None:
    doc = _laughing_feed(before, subset_first)
    stripped = strip_doctype(doc)
    assert b"<!DOCTYPE" not in stripped and b"<!ENTITY" not in stripped
    # What came before the DOCTYPE is kept as it was, and so is the document after it.
    assert stripped.startswith(doc[: doc.index(b"<!DOCTYPE")])
    assert stripped.endswith(doc[doc.index(b"]>\n<rss") + 2 :])
    started = time.monotonic()
    feed = parse_feed(doc, None, base_url=None, now=NOW)
    assert time.monotonic() - started < 5
    assert "EXPANDED" not in (feed.title or "")
    assert [e.link for e in feed.entries] == ["https://x.example/a"]
    assert "lollol" not in (feed.entries[0].summary or "")


def test_entity_declaration_outside_a_doctype_is_refused() -> None:
    doc = (
        b'<?xml version="1.0"?><!-- c --><!ENTITY a "EXPANDED">'
        b'<rss version="2.0"><channel><title>&a;</title></channel></rss>'
    )
    with pytest.raises(FeedParseError, match="entity declaration"):
        parse_feed(doc, None, base_url=None, now=NOW)


def test_prolog_with_bom_stylesheet_comments_and_doctype_still_parses() -> None:
    doc = (
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\n'
        b'<?xml-stylesheet type="text/xsl" href="/rss.xsl"?>\n<!-- generated <by> cms -->\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"\n'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
        b'<rss version="0.91"><channel><title>Old &amp; fine</title>'
        b"<item><title>One</title><link>https://x.example/1</link></item></channel></rss>"
    )
    stripped = strip_doctype(doc)
    assert b"DOCTYPE" not in stripped
    assert stripped.startswith(doc[: doc.index(b"<!DOCTYPE")])
    feed = parse_feed(doc, None, base_url=None, now=NOW)
    assert feed.title == "Old & fine"
    assert [e.title for e in feed.entries] == ["One"]


@pytest.mark.parametrize("codec", ["cp037", "cp500", "cp1140"])
def test_an_ebcdic_feed_is_refused_before_expat_expands_its_entities(codec: str) -> None:
    # The DOCTYPE scan reads ASCII bytes; in EBCDIC it sees none, and expat would expand the
    # internal entities (5 levels: a million characters from 450 bytes).
    text = _laughing_feed("").decode().replace('version="1.0"', f'version="1.0" encoding="{codec}"')
    with pytest.raises(FeedParseError, match="EBCDIC"):
        parse_feed(text.encode(codec), None, base_url=None, now=NOW)


def test_a_json_feed_is_read_like_any_other_feed() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Harbour Times & Co",
        "home_page_url": "https://harbour.example/",
        "items": [
            {
                "id": "a1",
                "url": "https://harbour.example/news/1",
                "title": "Port strike <ends> & ships sail",
                "date_published": "2024-03-06T09:30:00+01:00",
                "content_html": "<p>The strike is over.</p>",
            },
            {
                "id": 2,  # ids may be numbers
                "external_url": "https://wire.example/2",
                "title": "Ferry\u0001 timetable",  # a control character XML forbids
                "content_text": "New times.",
            },
            "not an item",
        ],
    }
    parsed = parse_feed(
        json.dumps(doc).encode(),
        {"content-type": "application/feed+json"},
        base_url="https://harbour.example/feed.json",
        now=NOW,
    )
    assert parsed.title == "Harbour Times & Co"
    first, second = parsed.entries
    assert (first.link, first.title) == ("https://harbour.example/news/1", doc["items"][0]["title"])
    assert first.published == datetime(2024, 3, 6, 8, 30, tzinfo=UTC)
    assert (second.link, second.title, second.published) == (
        "https://wire.example/2",
        "Ferry timetable",
        NOW,  # undated: when it was seen
    )
    assert first.key != second.key


@pytest.mark.parametrize("body", [b'{"items": []}', b"{not json", b'{"version": "1", "x": 1}'])
def test_json_that_is_not_a_json_feed_is_a_clear_error(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="JSON"):
        parse_feed(body, {"content-type": "application/json"}, base_url=None, now=NOW)


CYRILLIC = "Путин и Си обсудили торговлю"


def _rss(declared: str) -> str:
    return (
        f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel><title>T</title>'
        f"<item><title>{CYRILLIC}</title><link>https://x.example/1</link></item></channel></rss>"
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        # UTF-8 bytes under a windows-1251 declaration (a CMS template that was never updated)
        (_rss("windows-1251").encode("utf-8"), "application/rss+xml"),
        # windows-1251 bytes, declared so, behind a server default of ISO-8859-1
        (_rss("windows-1251").encode("cp1251"), "text/xml; charset=ISO-8859-1"),
        # windows-1251 bytes that claim to be UTF-8
        (_rss("utf-8").encode("cp1251"), "application/rss+xml"),
        # and the honest ones stay as they are
        (_rss("windows-1251").encode("cp1251"), "application/rss+xml"),
        (_rss("utf-8").encode("utf-8"), "application/rss+xml; charset=utf-8"),
    ],
)
def test_a_feed_whose_declared_encoding_is_wrong_is_read_as_its_bytes_say(
    body: bytes, content_type: str
) -> None:
    parsed = parse_feed(body, {"content-type": content_type}, base_url=None, now=NOW)
    assert parsed.entries[0].title == CYRILLIC  # feedparser alone gave mojibake, bozo unset


def test_a_latin_1_feed_declared_so_is_left_alone() -> None:
    body = (
        '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><item>'
        "<title>Café à Paris élu</title><link>https://x.example/2</link></item></channel></rss>"
    ).encode("latin-1")
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, base_url=None, now=NOW)
    assert parsed.entries[0].title == "Café à Paris élu"
