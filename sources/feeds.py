"""Feed parsing: feedparser on bytes (never a URL), with stable entry keys, clamped dates and safe XML."""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import feedparser

from sources.urls import canonical_url

# Header names feedparser may use; anything else (Content-Encoding above all: the client has
# already decoded the body) must not reach it.
_PASSED_HEADERS = ("content-type", "content-language", "content-location")

_SY_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 604800,
    "monthly": 2592000,
    "yearly": 31536000,
}

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"
# What XML allows around a DOCTYPE: whitespace, processing instructions (the XML declaration is
# one), comments. Matched in one go so a prolog of millions of tiny tokens is still quick.
_PROLOG_MISC = re.compile(rb"(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.S)
_DOCTYPE_MARK = re.compile(rb"[\"'<\[\]>]")  # the only bytes that matter inside a DOCTYPE
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE\s+html|<html)", re.I | re.S
)


class FeedParseError(Exception):
    """The bytes are not a usable feed (HTML page, empty body, or broken XML without entries)."""


@dataclass
class ParsedEntry:
    """One entry, with the key that identifies it within its feed across polls."""

    key: str
    guid: str | None
    link: str | None
    title: str | None
    summary: str | None
    published: datetime
    published_raw: str | None
    updated: datetime | None
    updated_raw: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    entries: list[ParsedEntry] = field(default_factory=list)
    ttl_seconds: int | None = None
    sy_period_seconds: int | None = None
    bozo: bool = False
    error: str | None = None
    total_entries: int = 0


def strip_doctype(data: bytes) -> bytes:
    """Remove every DOCTYPE (with its internal subset) from the prolog of ASCII-compatible XML.

    Entity declarations are how billion-laughs, XXE and external-DTD attacks get in; feeds have
    no legitimate need for them, and feedparser's loose parser copes with HTML entities anyway.
    The prolog is read token by token as expat reads it (BOM, whitespace, XML declaration and
    other processing instructions, comments, DOCTYPEs) up to the root element, so markup inside
    a comment or PI (`<!-- <x> -->`) cannot end the scan early and let a DOCTYPE through.
    """
    kept: list[bytes] = []
    pos = 3 if data.startswith(_UTF8_BOM) else 0
    start = 0  # beginning of the bytes not yet copied to `kept`
    n = len(data)
    while True:
        misc = _PROLOG_MISC.match(data, pos)
        pos = misc.end() if misc else pos
        if pos >= n or data.startswith((b"<?", b"<!--"), pos):
            # The end, or a PI or comment never closed: expat reads the rest as part of it.
            break
        if _DOCTYPE.match(data, pos):
            end = _doctype_end(data, pos + len(b"<!DOCTYPE"))
            kept.append(data[start:pos])
            pos = start = end
        elif data[pos] == 0x3C:  # "<": the root element, or markup expat refuses before it
            if _ENTITY.match(data, pos):
                # Only a DOCTYPE may declare entities; a stray declaration here means the
                # document was built to confuse this scan, so nothing of it is handed on.
                raise FeedParseError("entity declaration outside a DOCTYPE")
            break
        else:
            # Text before the root (a PHP warning, say) is an error to expat; feedparser's
            # loose parser reads on, so later DOCTYPEs are still stripped for it.
            nxt = data.find(b"<", pos)
            pos = n if nxt < 0 else nxt
    if not kept:
        return data
    kept.append(data[start:])
    return b"".join(kept)


def _doctype_end(data: bytes, pos: int) -> int:
    """Index just past the `>` closing the DOCTYPE whose keyword ends at `pos`.

    Quoted literals, comments and PIs are skipped whole: a `]` or `>` inside one of them does
    not end the internal subset or the declaration.
    """
    depth, n = 0, len(data)
    while (mark := _DOCTYPE_MARK.search(data, pos)) is not None:
        pos = mark.start()
        ch = data[pos]
        if ch in (0x22, 0x27):  # " or '
            end = data.find(bytes([ch]), pos + 1)
            pos = n if end < 0 else end + 1
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            pos = n if end < 0 else end + 3
        elif data.startswith(b"<?", pos):
            end = data.find(b"?>", pos + 2)
            pos = n if end < 0 else end + 2
        elif ch == 0x5B:  # [
            depth += 1
            pos += 1
        elif ch == 0x5D:  # ]
            depth -= 1
            pos += 1
        elif ch == 0x3E and depth <= 0:  # >
            return pos + 1
        else:
            pos += 1
    # Unterminated DOCTYPE swallowing the document: nothing safe to hand on.
    raise FeedParseError("unterminated DOCTYPE")


def _to_ascii_compatible(data: bytes) -> bytes:
    """UTF-16/32 bodies are re-encoded to UTF-8 so the DOCTYPE scan sees them; others pass."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            text = data[len(bom) :].decode(codec, "replace")
            return _fix_declared_encoding(text).encode("utf-8")
    head = data[:4]
    if head in (b"<\x00?\x00", b"\x00<\x00?"):
        codec = "utf-16-le" if head[0] == 0x3C else "utf-16-be"
        return _fix_declared_encoding(data.decode(codec, "replace")).encode("utf-8")
    # EBCDIC ("<?xm" in code page 037 and its kin): the DOCTYPE scan cannot read it, and expat
    # would expand its entities. No news feed is published that way.
    if head == b"\x4c\x6f\xa7\x94":
        raise FeedParseError("EBCDIC-encoded feed: not supported")
    return data


def _fix_declared_encoding(text: str) -> str:
    return re.sub(r"^(<\?xml[^>]*?encoding=)(['\"])[^'\"]*\2", r"\1\2utf-8\2", text, count=1)


_XML_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding=['\"]([^'\"]+)['\"]", re.IGNORECASE)
_CHARSET_PARAM = re.compile(r";\s*charset=[^;]*", re.IGNORECASE)
# What servers send when nobody configured a charset: it says nothing about the file.
_DEFAULT_CHARSETS = frozenset({"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"})
# Greek, Cyrillic, Armenian, Hebrew, Arabic letters: scripts with 8-bit code pages of their own
_NON_LATIN_LETTER = re.compile("[\u0370-\u03ff\u0400-\u052f\u0530-\u058f\u0590-\u06ff]")


def _with_charset(content_type: str, charset: str | None) -> str:
    base = _CHARSET_PARAM.sub("", content_type or "application/xml").strip() or "application/xml"
    return f"{base}; charset={charset}" if charset else base


def _settle_encoding(data: bytes, fp_headers: dict[str, str]) -> bytes:
    """Correct the encoding a feed declares when its bytes say otherwise (feedparser believes the
    declaration and returns mojibake, with no bozo flag):

    - bytes that are valid UTF-8 with non-ASCII characters are UTF-8, whatever is declared (a
      legacy 8-bit text is almost never valid UTF-8 by chance);
    - a server-default header charset (ISO-8859-1) gives way to the XML declaration;
    - a body that is not the UTF-8 it claims is detected (charset_normalizer) and re-encoded.
    """
    if data.isascii():
        return data
    ctype = fp_headers.get("content-type", "")
    declared = _XML_DECL_ENCODING.match(data[:512])
    xml_charset = declared.group(1).decode("ascii", "replace").lower() if declared else None
    header = re.search(r"charset=([^;\s]+)", ctype, re.IGNORECASE)
    header_charset = header.group(1).strip("'\"").lower() if header else None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if {xml_charset, header_charset} - {None, "utf-8", "utf8"}:
            fp_headers["content-type"] = _with_charset(ctype, "utf-8")
            return _fix_declared_encoding_bytes(data)
        return data
    if header_charset in _DEFAULT_CHARSETS and xml_charset and xml_charset != header_charset:
        fp_headers["content-type"] = _with_charset(ctype, None)
        return data
    if (header_charset or xml_charset or "utf-8") in ("utf-8", "utf8"):
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        text = data.decode(best.encoding, "replace") if best is not None else ""
        # Only a non-Latin script: for Western text feedparser's own fallback (windows-1252)
        # is right more often than a guess between the Latin code pages.
        if _NON_LATIN_LETTER.search(text):
            fp_headers["content-type"] = _with_charset(ctype, "utf-8")
            return _fix_declared_encoding(text).encode("utf-8")
    return data


def _fix_declared_encoding_bytes(data: bytes) -> bytes:
    head, rest = data[:512], data[512:]
    return _fix_declared_encoding(head.decode("utf-8", "replace")).encode("utf-8") + rest


def _headers_for_feedparser(headers: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if name.lower() in _PASSED_HEADERS:
            out[name.lower()] = value
    ctype = out.get("content-type", "")
    if ctype.split(";")[0].strip().lower() == "text/xml" and "charset" not in ctype.lower():
        # RFC 3023 made this US-ASCII; RFC 7303 and every real server mean "look at the XML".
        out["content-type"] = "application/xml"
    return out


def _clamp_date(parsed: Any, raw: str | None, now: datetime) -> tuple[datetime | None, bool]:
    """A feedparser time tuple as aware UTC; (None, False) when missing, garbage or future."""
    if not parsed:
        return None, False
    try:
        value = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None, False
    if value > now or value.year < 1990:
        return None, False
    return value, True


# NUL, other C0 controls and lone surrogates (from `&#x0;`, `&#xD800;`) cannot be stored.
# The same class as storage/text.py's: written twice on purpose, because sources/ and storage/
# may import nothing of ours (DESIGN.md) and there is no shared package both may use.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(_UNSTORABLE.sub("", str(value)).split())
    return text or None


def _digest(*parts: str | None) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update((part or "").encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()[:40]


def entry_keys(raw: list[tuple[str | None, str | None, str | None, str | None]]) -> list[str]:
    """Keys for (guid, link, title, content) tuples: GUID, else link, else a content hash.

    A GUID or link shared by several entries of one document identifies none of them, so those
    entries fall through to the next choice; the key stays the same on the next poll because it
    depends only on the entry itself and on which values are shared.
    """
    raw = [(g, canonical_url(lk) if lk else None, t, c) for g, lk, t, c in raw]
    guids = Counter(g for g, _, _, _ in raw if g)
    links = Counter(lk for _, lk, _, _ in raw if lk)
    keys = []
    for guid, link, title, content in raw:
        if guid and guids[guid] == 1:
            keys.append("g:" + _digest(guid))
        elif guid and link and links[link] == 1:
            keys.append("gl:" + _digest(guid, link))
        elif guid:
            keys.append("gh:" + _digest(guid, link, title, content))
        elif link and links[link] == 1:
            keys.append("l:" + _digest(link))
        else:
            keys.append("h:" + _digest(link, title, content))
    return keys


def newest_indices(dates: Sequence[datetime | None], limit: int) -> list[int]:
    """Positions of the `limit` newest entries, in document order.

    Feeds are listed newest-first or oldest-first; cutting by position alone keeps only the
    archive of a long oldest-first feed, and its new entries are never seen. An entry without a
    date is placed by its position: it takes the date of the nearest dated entry before it (or
    after it, at the top), so it stays with its neighbours. Equal dates keep the entries nearer
    the feed's newest end. Without any date the file order decides: the first `limit`.
    """
    if len(dates) <= limit:
        return list(range(len(dates)))
    known = [d for d in dates if d is not None]
    if not known:
        return list(range(limit))
    filled: list[datetime] = []
    last = known[0]
    for d in dates:
        last = d if d is not None else last
        filled.append(last)
    # The document's direction, from its first and last dates, says which end is newest.
    step = 1 if known[-1] > known[0] else -1
    ranked = sorted(range(len(dates)), key=lambda i: (filled[i], step * i), reverse=True)
    return sorted(ranked[:limit])


# Characters XML 1.0 forbids: a JSON string may hold them, an Atom document may not.
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    return escape(_XML_FORBIDDEN.sub("", value)) if isinstance(value, str) else ""


def json_feed_to_atom(doc: Any) -> bytes:
    """A JSON Feed (jsonfeed.org, 1.0 and 1.1) as the Atom document saying the same, so its items
    go through the one parsing path (dates, entry keys, links) every other feed takes."""
    if not (
        isinstance(doc, dict)
        and "jsonfeed.org" in str(doc.get("version", ""))
        and isinstance(doc.get("items"), list)
    ):
        raise FeedParseError("JSON that is not a JSON Feed (no jsonfeed.org version or items)")
    out = ['<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">']
    out.append(f"<title>{_xml_text(doc.get('title'))}</title>")
    if isinstance(doc.get("home_page_url"), str):
        out.append(f'<link rel="alternate" href={quoteattr(_xml_text(doc["home_page_url"]))}/>')
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        out.append("<entry>")
        if item.get("id") is not None:
            out.append(f"<id>{_xml_text(str(item['id']))}</id>")
        link = item.get("url") or item.get("external_url")
        if isinstance(link, str):
            out.append(
                f'<link rel="alternate" type="text/html" href={quoteattr(_xml_text(link))}/>'
            )
        out.append(f"<title>{_xml_text(item.get('title'))}</title>")
        for tag, key in (("published", "date_published"), ("updated", "date_modified")):
            if isinstance(item.get(key), str):
                out.append(f"<{tag}>{_xml_text(item[key])}</{tag}>")
        if isinstance(item.get("summary"), str):
            out.append(f"<summary>{_xml_text(item['summary'])}</summary>")
        if isinstance(item.get("content_html"), str):
            out.append(f'<content type="html">{_xml_text(item["content_html"])}</content>')
        elif isinstance(item.get("content_text"), str):
            out.append(f'<content type="text">{_xml_text(item["content_text"])}</content>')
        out.append("</entry>")
    out.append("</feed>")
    return "".join(out).encode("utf-8")


def parse_feed(
    content: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    base_url: str | None,
    now: datetime,
    max_entries: int = 500,
) -> ParsedFeed:
    """Parse feed bytes; raises FeedParseError for HTML, empty bodies and bozo without entries."""
    if not content or not content.strip():
        raise FeedParseError("empty response body")
    fp_headers = _headers_for_feedparser(headers)
    if content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        # JSON Feed: feedparser reads only XML
        try:
            doc = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise FeedParseError(f"not a feed: JSON that does not parse ({exc})") from None
        content = json_feed_to_atom(doc)
        fp_headers["content-type"] = "application/atom+xml; charset=utf-8"
    data = _settle_encoding(_to_ascii_compatible(content), fp_headers)
    if _HTML_START.match(data[:4096].lstrip(b"\xef\xbb\xbf")):
        raise FeedParseError("got an HTML page, not a feed")
    data = strip_doctype(data)
    if base_url and "content-location" not in fp_headers:
        fp_headers["content-location"] = base_url
    # A file object, never bytes or str: given those, feedparser tries URLs and file paths.
    try:
        result = feedparser.parse(io.BytesIO(data), response_headers=fp_headers)
    except Exception as exc:  # feedparser has raised e.g. UnicodeEncodeError on `&#xD800;`
        raise FeedParseError(f"feed could not be parsed: {type(exc).__name__}: {exc}") from exc
    entries_raw = list(result.get("entries") or [])
    bozo = bool(result.get("bozo"))
    error = str(result.get("bozo_exception")) if bozo else None
    if not entries_raw:
        if bozo:
            raise FeedParseError(f"not a feed: {error}")
        if not result.get("version"):
            raise FeedParseError("not a recognisable feed")
    total = len(entries_raw)
    # dict.get: FeedParserDict.get maps missing keys to others (with a warning).
    raw_get = dict.get
    rows = []
    for e in entries_raw:
        published_raw = raw_get(e, "published") or raw_get(e, "updated") or raw_get(e, "created")
        parsed_time = (
            raw_get(e, "published_parsed")
            or raw_get(e, "updated_parsed")
            or raw_get(e, "created_parsed")
        )
        published, ok = _clamp_date(parsed_time, published_raw, now)
        rows.append((e, published_raw, published if ok else None))
    if total > max_entries:
        rows = [rows[i] for i in newest_indices([d for _, _, d in rows], max_entries)]

    infos = []
    for e, _, _ in rows:
        guid = _text(e.get("id"))
        link = _text(e.get("link"))
        title = _text(e.get("title"))
        summary = e.get("summary")
        content_value = None
        if e.get("content"):
            content_value = e["content"][0].get("value")
        infos.append((guid, link, title, summary, content_value, e))
    keys = entry_keys([(g, lk, t, c or s) for g, lk, t, s, c, _ in infos])

    out: list[ParsedEntry] = []
    for key, (guid, link, title, summary, _, e), (_, published_raw, published) in zip(
        keys, infos, rows, strict=True
    ):
        updated_raw = raw_get(e, "updated")
        updated, _ok = _clamp_date(raw_get(e, "updated_parsed"), updated_raw, now)
        out.append(
            ParsedEntry(
                key=key,
                guid=guid,
                link=link,
                title=title,
                summary=summary,
                published=published or now,
                published_raw=_text(published_raw),
                updated=updated,
                updated_raw=_text(updated_raw),
            )
        )

    feed = result.get("feed") or {}
    return ParsedFeed(
        title=_text(feed.get("title")),
        entries=out,
        ttl_seconds=_ttl(feed.get("ttl")),
        sy_period_seconds=_sy_period(feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")),
        bozo=bozo,
        error=error,
        total_entries=total,
    )


def _ttl(value: Any) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _sy_period(period: Any, frequency: Any) -> int | None:
    if not period:
        return None
    seconds = _SY_PERIODS.get(str(period).strip().lower())
    if seconds is None:
        return None
    try:
        freq = int(str(frequency).strip()) if frequency else 1
    except ValueError:
        freq = 1
    return max(1, seconds // max(1, freq))


def http_date(value: str | None) -> datetime | None:
    """Parse an HTTP date (Expires, Retry-After, Last-Modified) to aware UTC; None if garbage."""
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
