"""The uniform comment-and-metadata cleaner: HTML or extracted text in, a CleanArticle out."""

from __future__ import annotations

import zlib

from cleaning import html as H
from cleaning import text as T
from cleaning.language import detect_language, normalize_language
from cleaning.rules import OutletRules
from cleaning.text import clean_text
from cleaning.types import CleanArticle, CleanComment, RemovedText

__all__ = [
    "CleanArticle",
    "CleanComment",
    "OutletRules",
    "RemovedText",
    "clean",
    "detect_language",
    "gunzip_bounded",
    "normalize_language",
]

MAX_TEXT_CHARS = 2_000_000
MAX_GUNZIP_BYTES = 32 * 1024 * 1024  # a .gz input larger than this once unpacked is cut


def gunzip_bounded(content: bytes, limit: int = MAX_GUNZIP_BYTES) -> bytes:
    """Decompress a gzip file given as content, stopping at `limit` bytes (no gzip bombs).

    Every member is read (a concatenated .gz is one file). A stream that ends before its
    trailer raises EOFError, as gzip.GzipFile does: a cut-off file is not a shorter document.
    """
    out = b""
    rest = content
    while rest and len(out) < limit:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += decompressor.decompress(rest, limit - len(out))
        if len(out) >= limit:
            break
        if not decompressor.eof:
            raise EOFError("gzip stream ends before its end-of-stream marker")
        # NUL padding after the last member is allowed, as gzip.GzipFile allows it.
        rest = decompressor.unused_data.lstrip(b"\0")
    return out[:limit]


def _decode(content: bytes) -> str:
    if content[:2] == b"\x1f\x8b":
        content = gunzip_bounded(content)
    for enc in ("utf-8", "cp1251", "latin-1"):
        try:
            return content.decode(enc)
        except UnicodeDecodeError:
            continue
    return content.decode("utf-8", "replace")


def clean(
    content: str | bytes,
    url: str | None = None,
    outlet: OutletRules | None = None,
    *,
    max_bytes: int = MAX_GUNZIP_BYTES,
) -> CleanArticle:
    """Clean one page or one extracted text; HTML is sniffed.

    Per-outlet rules add to the general rules. Nothing is dropped silently: every paragraph not
    in the body or the comments is in `removed` with the rule that removed it. A gzip file given
    as content is unpacked up to `max_bytes` (the caller's own size cap: a page served as an
    82 KB .gz must not become the 32 MB the default allows).
    """
    if isinstance(content, bytes) and content[:2] == b"\x1f\x8b":
        content = gunzip_bounded(content, max_bytes)
    if H.looks_like_html(content):
        return _clean_html(content, url, outlet)
    text = _decode(content) if isinstance(content, bytes) else content
    article = _clean_plain(text[:MAX_TEXT_CHARS], url, outlet)
    if len(text) > MAX_TEXT_CHARS:
        # The cut is recorded, not the cut text: it can be megabytes, and `removed` is printed.
        dropped = len(text) - MAX_TEXT_CHARS
        article.removed.append(
            RemovedText("truncated", f"{dropped} characters after the first {MAX_TEXT_CHARS}")
        )
    return article


def _clean_plain(text: str, url: str | None, outlet: OutletRules | None) -> CleanArticle:
    res = clean_text(text, html_mode=False, outlet=outlet)
    body = "\n\n".join(res.paragraphs)
    return CleanArticle(
        title=res.title,
        authors=res.authors,
        published=res.published,
        language=detect_language(body, outlet.language if outlet else None),
        outlet=(outlet.name if outlet and outlet.name else None) or res.outlet or _host(url),
        body=body,
        comments=res.comments,
        removed=res.removed,
        syndicated_from=res.syndicated_from,
        image_credits=res.image_credits,
        canonical_url=url,
    )


def _host(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname if url else None


def _clean_html(content: str | bytes, url: str | None, outlet: OutletRules | None) -> CleanArticle:
    tree = H.parse(content)
    if tree is None:
        return CleanArticle(canonical_url=url)
    page = H.HtmlPage(tree)
    # comments first, so that commenters' names and dates never pass for the article's
    H.take_comments(page, outlet)
    H.read_metadata(page, url, outlet)
    extracted = H.extract_main_text(page.tree, url)
    # trafilatura works on a copy, so the tree still has the byline paragraph to look at
    if H.may_have_repost_byline(extracted):
        page.repost_byline = H.find_repost_byline(page.tree, page.site_names)
    res = clean_text(
        extracted,
        html_mode=True,
        title_hint=page.title,
        title_variants=page.title_variants,
        outlet=outlet,
        repost_byline=page.repost_byline,
    )
    body = "\n\n".join(res.paragraphs)
    authors = page.authors or res.authors
    reposted = any(c.kind == "repost_commentary" for c in res.comments)
    syndicated_from = list(res.syndicated_from)
    own = (page.outlet, outlet.name if outlet else None, *page.site_names)
    for src in H.find_named_sources(page.tree):
        T.add_source(syndicated_from, src, own)
    return CleanArticle(
        title=page.title or res.title,
        authors=authors,
        published=page.published or res.published,
        language=detect_language(
            body, normalize_language(page.html_lang) or (outlet.language if outlet else None)
        ),
        # a repost's outlet is the one that first published the text, as on the text path
        outlet=(res.outlet if reposted and not (outlet and outlet.name) else None)
        or page.outlet
        or res.outlet,
        body=body,
        comments=page.comments + res.comments,
        removed=page.removed + res.removed,
        syndicated_from=syndicated_from,
        image_credits=res.image_credits,
        canonical_url=page.canonical_url,
    )
