"""Canonical URLs: tracking parameters, fragments, AMP and mobile variants collapse to one key."""

from __future__ import annotations

import pytest

from sources.urls import canonical_url, url_hash

BASE = "https://example.com/world/2024/03/04/peru-earthquake"


@pytest.mark.parametrize(
    "variant",
    [
        BASE,
        BASE + "/",
        BASE + "#comments",
        BASE + "?utm_source=rss&utm_medium=feed&utm_campaign=world",
        BASE + "?fbclid=IwAR0abc&gclid=xyz",
        BASE + "?mc_cid=1a2b&mc_eid=3c4d&yclid=99&msclkid=5",
        "http://example.com/world/2024/03/04/peru-earthquake",
        "HTTPS://WWW.EXAMPLE.COM/world/2024/03/04/peru-earthquake",
        "https://www.example.com:443/world/2024/03/04/peru-earthquake",
        "https://m.example.com/world/2024/03/04/peru-earthquake",
        "https://mobile.example.com/world/2024/03/04/peru-earthquake",
        "https://amp.example.com/world/2024/03/04/peru-earthquake",
        "https://example.com/amp/world/2024/03/04/peru-earthquake",
        "https://example.com/world/2024/03/04/peru-earthquake/amp/",
        "https://example.com/world/2024/03/04/peru-earthquake?amp=1",
        "https://example.com/world/2024/03/04/peru-earthquake.amp",
        "https://m.example.com/amp/world/2024/03/04/peru-earthquake?amp&utm_source=x#top",
        # newsroom campaign tags (the Guardian, NYT, BBC, Webtrends, Yahoo's consent hop)
        BASE + "?CMP=share_btn_tw&INTCMP=x",
        BASE + "?partner=rss&emc=rss",
        BASE + "?ns_mchannel=social&ns_source=twitter&ns_campaign=bbc_news",
        BASE + "?WT.mc_id=tw&mbid=social&guccounter=1&taid=abc&fromrss=1",
        BASE + ";jsessionid=0A1B2C3D",
        "https://example-com.cdn.ampproject.org/c/s/example.com/world/2024/03/04/peru-earthquake",
    ],
)
def test_variants_share_one_canonical_url(variant: str) -> None:
    assert canonical_url(variant) == "https://example.com/world/2024/03/04/peru-earthquake"
    assert url_hash(canonical_url(variant)) == url_hash(canonical_url(BASE))


def test_amp_html_suffix_and_sorted_query() -> None:
    assert canonical_url("https://x.org/a/story.amp.html") == "https://x.org/a/story.html"
    assert canonical_url("https://x.org/a?b=2&a=1&utm_term=q") == "https://x.org/a?a=1&b=2"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/news?id=1", "https://example.com/news?id=2"),
        ("https://example.com/a", "https://example.org/a"),
        ("https://example.com/a/b", "https://example.com/a/c"),
        ("https://example.com/ampere-record", "https://example.com/record"),
        ("https://example.com/a:8080", "https://example.com:8080/a"),
    ],
)
def test_different_pages_stay_different(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


def test_hash_is_fixed_length_hex() -> None:
    h = url_hash(canonical_url(BASE))
    assert len(h) == 64 and int(h, 16) >= 0
