"""New outlets from a homepage: find its feeds, check them, and write an outlet TOML file for review."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html

from cleaning.language import normalize_language
from sources.feeds import FeedParseError, parse_feed
from sources.http import FetchError, HttpClient
from sources.registry import ISO_639_1, ISO_3166_1, dump_outlet_toml, outlet_from_dict

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)
# Where CMSs usually put feeds (WordPress, Blogger, Ghost, Hugo, Drupal, custom sites).
USUAL_PATHS = (
    "/feed",
    "/rss",
    "/feed.xml",
    "/rss.xml",
    "/atom.xml",
    "/index.xml",
    "/feed/",
    "/rss/",
    "/feeds/posts/default",
    "/?feed=rss2",
    "/rss/index.xml",
)
MAX_CANDIDATES = 12
MAX_FEEDS = 10


class DiscoveryError(Exception):
    """The homepage could not be read, or no working feed was found."""


@dataclass(frozen=True)
class HomepageInfo:
    name: str | None
    language: str | None
    country: str | None
    alternates: list[str]


def read_homepage(html: bytes, base_url: str) -> HomepageInfo:
    """Feed links, site name and language from a homepage's HTML (pure)."""
    try:
        doc = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError) as exc:
        raise DiscoveryError(f"homepage is not HTML: {exc}") from exc
    base = base_url
    for href in doc.xpath("//head/base/@href")[:1]:
        base = urljoin(base_url, str(href).strip())
    alternates: list[str] = []
    for link in doc.xpath("//link[@href]"):
        rel = {r.lower() for r in (link.get("rel") or "").split()}
        ctype = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rel and ctype in FEED_TYPES:
            url = urljoin(base, link.get("href").strip())
            if url not in alternates and urlsplit(url).scheme in ("http", "https"):
                alternates.append(url)
    name = None
    for xp in ('//meta[@property="og:site_name"]/@content', "//title/text()"):
        found = [str(v).strip() for v in doc.xpath(xp) if str(v).strip()]
        if found:
            name = re.split(r"\s+[-|–—:]\s+", found[0])[0].strip() or found[0]
            break
    lang_attr = (doc.get("lang") or "").strip().replace("_", "-")
    # "deu" or "jpn" is a language too; a bare two-letter cut would turn it into "en" later.
    language = normalize_language(lang_attr)
    country = lang_attr.split("-")[1].upper() if "-" in lang_attr else None
    return HomepageInfo(name, language, country, alternates)


def _looks_like_feed(client: HttpClient, url: str) -> str | None:
    """The URL a feed was really served from, if it answers 200 with a parseable feed."""
    try:
        resp = client.get(url, purpose="feed")
    except FetchError:
        return None
    if resp.status != 200:
        return None
    from datetime import datetime

    try:
        parse_feed(resp.content, resp.headers, base_url=resp.final_url, now=datetime.now(UTC))
    except FeedParseError:
        return None
    return resp.final_url


def discover_feeds(client: HttpClient, homepage: str) -> tuple[HomepageInfo, list[str]]:
    """Fetch a homepage and return its working feeds: declared ones first, else the usual paths."""
    try:
        resp = client.get(homepage, purpose="page")
    except FetchError as exc:
        raise DiscoveryError(f"cannot fetch {homepage}: {exc}") from exc
    if resp.status != 200:
        raise DiscoveryError(f"{homepage} answered HTTP {resp.status}")
    info = read_homepage(resp.content, resp.final_url)
    found: list[str] = []
    for url in info.alternates[:MAX_CANDIDATES]:
        real = _looks_like_feed(client, url)
        if real and real not in found:
            found.append(real)
    if not found:
        root = "{0.scheme}://{0.netloc}".format(urlsplit(resp.final_url))
        for path in USUAL_PATHS:
            real = _looks_like_feed(client, root + path)
            if real and real not in found:
                found.append(real)
                break  # one working guess is enough; the usual paths are often aliases
    return info, found[:MAX_FEEDS]


def outlet_id_for(url: str) -> str:
    host = (urlsplit(url).hostname or "outlet").lower()
    host = re.sub(r"^(www|m|amp)\.", "", host)
    slug = re.sub(r"[^a-z0-9]+", "-", host).strip("-")
    return (slug or "outlet")[:64]


def _country_from_host(url: str) -> str | None:
    tld = (urlsplit(url).hostname or "").rsplit(".", 1)[-1].upper()
    if tld == "UK":
        return "GB"
    return tld if tld in ISO_3166_1 else None


def add_outlet_from_homepage(
    url: str,
    *,
    client: HttpClient,
    outlets_dir: Path,
    outlet_id: str | None = None,
    language: str | None = None,
    country: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Discover an outlet's feeds from its homepage and write `<id>.toml` into `outlets_dir`.

    Language and country come from the page (`<html lang>`, the domain) unless given; the file
    starts with a comment asking for review. Raises DiscoveryError when no feed works.
    """
    info, feeds = discover_feeds(client, url)
    if not feeds:
        raise DiscoveryError(f"no working feed found on {url}")
    oid = outlet_id or outlet_id_for(url)
    lang = language or (info.language if info.language in ISO_639_1 else None) or "en"
    ctry = country or (info.country if info.country in ISO_3166_1 else None)
    ctry = ctry or _country_from_host(url) or "US"
    data: dict[str, Any] = {
        "id": oid,
        "name": (info.name or oid)[:200],
        "language": lang,
        "country": ctry,
        "homepage": url,
        "feeds": feeds,
    }
    outlet = outlet_from_dict(data, label=f"{oid}.toml")  # the loader's own validation
    path = Path(outlets_dir) / f"{oid}.toml"
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists (--overwrite replaces it, --id writes another file)"
        )
    guessed = [k for k, v in (("language", language), ("country", country)) if v is None]
    header = "# Written by `newswatch outlets add`; review before use.\n"
    if guessed:
        header += f"# Guessed from the homepage: {', '.join(guessed)}.\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = dump_outlet_toml(outlet)
    if "[cleaning]" not in body:
        # An empty table to fill in during review (the loader accepts it as it is).
        body += "\n[cleaning]\nboilerplate_patterns = []\ncomment_xpaths = []\n"
    path.write_text(header + body, encoding="utf-8")
    return path
