"""HTML side of cleaning: parse once, take reader comments out of the DOM as data, read page
metadata, and run trafilatura for the main text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import trafilatura
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement

from cleaning import rules as R
from cleaning import text as T
from cleaning.rules import OutletRules
from cleaning.types import CleanComment, RemovedText

MAX_HTML_BYTES = 20_000_000

_SNIFF_RE = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|meta|title|div|p|article|script|link)[\s>/]",
    re.IGNORECASE,
)

# a class token or id that names a comment section, in several languages
_CUE = (
    r"comments?|commentlist|kommentare?|kommentarer|commentaires?|comentarios?|comentários?|commenti|"
    r"reacties|komentarze|komentáře|комментари[иейя]|коментар[іів]*|disqus_thread|disqus|talk-stream|"
    r"coral_thread|vuukle-comments"
)
_SUFFIX = r"area|list|section|wrap|wrapper|container|block|thread|box|holder|widget|module|root|app|stream|content|wrp"
_CONTAINER_TOKEN_RE = re.compile(
    rf"^(?:(?:post|article|page|entry|user|reader|site|wp|main|all|fb|vk|c)[-_])?(?:{_CUE})(?:[-_](?:{_SUFFIX}))*$",
    re.IGNORECASE,
)
_UNIT_TOKEN_RE = re.compile(
    r"^(?:comment|comment-body|comment-item|comment-entry|commentlist-item|single-comment|"
    r"kommentar|commentaire|comentario|комментарий|коментар|c-comment|comment-container)$",
    re.IGNORECASE,
)
_AUTHOR_TOKEN_RE = re.compile(
    r"^(?:fn|comment-author|comment-author-name|author|author-name|username|user-name|nickname|"
    r"commenter|comment-name|name)$",
    re.IGNORECASE,
)
_META_TOKEN_RE = re.compile(
    r"^(?:comment-meta|commentmetadata|comment-metadata|reply|comment-reply-link|comment-actions|"
    r"comment-footer|says|comment-date|comment-time|date|avatar|vcard-avatar)$",
    re.IGNORECASE,
)
_BYLINE_TOKEN_RE = re.compile(
    r"^(?:byline|by-line|author|article-author|post-author|autor|avtor)$", re.I
)
_TEXT_TOKEN_RE = re.compile(
    r"^(?:comment-content|comment-text|comment_text|text|comment-body-text|post-message|message|"
    r"comment-message|c-comment-text)$",
    re.I,
)
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "li",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "article",
        "section",
        "header",
        "footer",
        "ul",
        "ol",
        "tr",
        "pre",
        "figure",
    ]
)
_SKIP_TAGS = frozenset(
    ("script", "style", "noscript", "form", "button", "svg", "textarea", "select", "iframe")
)
_SAYS_RE = re.compile(r"\s*(?:says|sagt|пишет|пише|dit|dice|said)\s*:?\s*$", re.IGNORECASE)
_TITLE_SPLIT_RE = re.compile(r"\s+[|–—:·•-]\s+|\s+::\s+")


def looks_like_html(data: bytes | str) -> bool:
    head = data[:4096] if isinstance(data, bytes) else data[:4096].encode("utf-8", "ignore")
    return bool(_SNIFF_RE.search(head))


def _classes(el: HtmlElement) -> list[str]:
    return (el.get("class") or "").split() + ([el.get("id")] if el.get("id") else [])


def _has(el: HtmlElement, rx: re.Pattern[str]) -> bool:
    return any(rx.match(tok) for tok in _classes(el))


@dataclass
class HtmlPage:
    tree: HtmlElement
    title: str | None = None
    title_variants: tuple[str, ...] = ()
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    canonical_url: str | None = None
    outlet: str | None = None
    html_lang: str | None = None
    site_names: frozenset[str] = frozenset()  # normalized names the page gives itself
    repost_byline: str | None = None  # "By X, Outlet" between a reposter's words and the text
    comments: list[CleanComment] = field(default_factory=list)
    removed: list[RemovedText] = field(default_factory=list)


def parse(content: bytes | str) -> HtmlElement | None:
    if isinstance(content, bytes) and len(content) > MAX_HTML_BYTES:
        content = content[:MAX_HTML_BYTES]
    return trafilatura.load_html(content)


def _text(el: HtmlElement | None) -> str:
    if el is None:
        return ""
    return re.sub(r"\s+", " ", el.text_content()).strip()


def _meta(tree: HtmlElement, *names: str) -> str | None:
    for n in names:
        for v in tree.xpath(f'//meta[@property="{n}" or @name="{n}" or @itemprop="{n}"]/@content'):
            v = re.sub(r"\s+", " ", str(v)).strip()
            if v:
                return v
    return None


def _strip_site(title: str, site: str) -> str:
    """'Headline | Site' or 'Site – Headline' → 'Headline' (site given normalized)."""
    parts = _TITLE_SPLIT_RE.split(title)
    seps = _TITLE_SPLIT_RE.findall(title)
    if len(parts) < 2:
        return title.strip()
    lo, hi = 0, len(parts)
    while hi - lo > 1 and T.normalize(parts[hi - 1]) == site:
        hi -= 1
    while hi - lo > 1 and T.normalize(parts[lo]) == site:
        lo += 1
    out = parts[lo]
    for sep, part in zip(seps[lo : hi - 1], parts[lo + 1 : hi], strict=True):
        out += sep + part
    return out.strip()


def _headline_h1(tree: HtmlElement, site: str, site_norms: set[str]) -> str:
    """The article's own h1, never one that is the site's name (blog themes put the site name
    in an h1 and the headline in an h2). An h1 inside article/main is trusted unless it is
    og:site_name; another must not match anything the <title> gives beside the headline."""
    h1s = [el for _, el in zip(range(10), tree.iter("h1"), strict=False)]
    for el in h1s:
        if not any(a.tag in ("article", "main") for a in el.iterancestors()):
            continue
        t = _text(el)
        if t and T.normalize(t) != site:
            return t
    for el in h1s:
        t = _text(el)
        if t and T.normalize(t) not in site_norms:
            return t
    return ""


def _not_a_headline(title: str, h1: str, site: str) -> bool:
    """Whether a page's <title> is only its site's name, or a stub of under three words and
    fewer words than its h1."""
    if not title or (site and T.normalize(title) == site):
        return True
    words = len(title.split())
    return words < 3 and words < len(h1.split())


def read_metadata(page: HtmlPage, url: str | None, outlet: OutletRules | None) -> None:
    tree = page.tree
    site = T.normalize(_meta(tree, "og:site_name", "application-name") or "")
    tt = _text(tree.find(".//title"))
    tt_parts = [x for x in _TITLE_SPLIT_RE.split(tt) if x.strip()] if tt else []
    tt_main = max(tt_parts, key=len) if tt_parts else ""
    if site and len(tt_parts) > 1 and site in {T.normalize(tt_parts[0]), T.normalize(tt_parts[-1])}:
        # the page names itself: the headline is the <title> without that name at either end
        tt_main = _strip_site(tt, site) or tt_main
    # what may be the site's name: og:site_name, or what the <title> has beside the headline
    ends = (tt_parts[0], tt_parts[-1]) if tt_parts else ()  # a page may have no <title> at all
    site_norms = {T.normalize(x) for x in ends if x is not tt_main}
    site_norms.discard(T.normalize(tt_main))
    site_norms.add(site)
    site_norms.discard("")
    page.site_names = frozenset(site_norms)
    og = _meta(tree, "og:title", "twitter:title") or ""
    og = _strip_site(og, site) if site else og
    h1 = _headline_h1(tree, site, site_norms)
    nh = T.normalize(h1)
    if h1 and len(h1) < 300 and (nh in T.normalize(tt) or nh in T.normalize(og)):
        page.title = h1
    elif h1 and len(h1) < 300 and not og and _not_a_headline(tt_main, h1, site):
        # `<title>Site</title>` or a stub beside a real h1: the h1 is the headline (it would
        # otherwise be dropped from the body as a repeated title and appear nowhere)
        page.title = h1
    else:
        page.title = og or tt_main or h1 or None
    page.title_variants = tuple(v for v in (page.title, h1, og, tt, tt_main) if v)

    authors: list[str] = []
    raw = [
        _meta(
            tree,
            "author",
            "article:author",
            "parsely-author",
            "sailthru.author",
            "dc.creator",
            "byl",
        ),
        *[_text(e) for e in tree.xpath('//*[@itemprop="author"]//*[@itemprop="name"]')[:3]],
        *[
            _text(e)
            for e in tree.xpath('//*[@itemprop="author" and not(.//*[@itemprop="name"])]')[:3]
        ],
        *[_text(e) for e in tree.xpath('//a[@rel="author"]')[:3]],
    ]
    if not any(raw):
        # a visible byline ("By X", "Автор: X") in an element named like one
        for e in tree.xpath("//body//*[@class]")[:3000]:
            if _has(e, _BYLINE_TOKEN_RE):
                t = _text(e)
                m = R.BYLINE_RE.match(t)
                if m and len(t) <= 120:
                    raw.append(m.group("names"))
                    break
    for r in raw:
        if not r or r.startswith("http") or len(r) > 200:
            continue
        for a in T.split_authors(r):
            if a not in authors:
                authors.append(a)
    page.authors = authors[:10]

    try:
        page.published = find_date(tree, extensive_search=False, original_date=True) or find_date(
            tree, extensive_search=True, original_date=True
        )
    except Exception:  # htmldate on broken markup must not fail the cleaning
        page.published = None

    canon = tree.xpath('//link[@rel="canonical"]/@href')
    page.canonical_url = (str(canon[0]).strip() if canon else None) or _meta(tree, "og:url") or url
    page.outlet = (
        (outlet.name if outlet and outlet.name else None)
        or _meta(tree, "og:site_name", "application-name")
        or (urlsplit(url).hostname if url else None)
    )
    lang = tree.get("lang") or _meta(tree, "og:locale", "language", "content-language")
    # Kept as declared: detect_language normalizes it ("swe" is Swedish, not "sw" Swahili).
    page.html_lang = (lang.strip() or None) if lang else None


_PARA_TAGS = frozenset(("p", "blockquote"))
_BYLINE_START_RE = re.compile(rf"{R.BYLINE_WORDS}\b", re.IGNORECASE)
# a paragraph named like the article's own lead (standfirst) is not a reposter's commentary
_LEAD_TOKEN_RE = re.compile(
    r"(?:^|[-_])(?:standfirst|chapo|chapeau|lead|lede|intro|teaser|summary|dek|excerpt|"
    r"subtitle|subhead|kicker|vorspann|anriss|entradilla|sumario|subtitulo|lid|анонс|лид)"
    r"(?:$|[-_])",
    re.IGNORECASE,
)


def find_named_sources(tree: HtmlElement) -> list[str]:
    """Outlets named as the original publisher by short notices anywhere on the page.

    trafilatura often drops a one-line notice under the text ("This article first appeared in
    X.") or leaves out the rights box, so the DOM is read for them as well.
    """
    found: list[str] = []
    body = tree.find("body")
    root = body if body is not None else tree
    if not R.PROVENANCE_HINT_RE.search(root.text_content().lower()):
        return found
    for el in root.iter("p", "div", "span", "small", "em"):
        if len(el) > 3:
            continue
        t = _text(el)
        if not t or len(t) > 200:
            continue
        src = T.named_source(t, R.SYNDICATION_RES) or T.named_source(t, R.RIGHTS_OWNER_RES)
        if src:
            found.append(src)
    return found


def may_have_repost_byline(text: str) -> bool:
    """Cheap gate on the extracted text: a short 'By X, Y' line among its first lines."""
    lines = [ln.strip() for ln in text.split("\n", 40)[:40] if ln.strip()][:12]
    return any(len(ln) <= 160 and R.BYLINE_RE.match(ln) for ln in lines[1:])


def find_repost_byline(tree: HtmlElement, site_names: frozenset[str]) -> str | None:
    """The 'By NAME, OUTLET' paragraph of a repost: a byline naming another outlet that stands
    among the text's own paragraphs, after a few of them (the reposter's commentary).

    The DOM tells such a byline from a standfirst or a byline of the site's own.
    """
    body = tree.find("body")
    for el in (body if body is not None else tree).iter("p", "div"):
        if len(el) > 3:
            continue
        # cheap look at the leading text first: most paragraphs are not bylines
        head = (el.text or "").strip() or (el[0].text or "" if len(el) else "")
        if not _BYLINE_START_RE.match(head.lstrip()):
            continue
        t = _text(el)
        if not t or len(t) > 160:
            continue
        m = R.BYLINE_RE.match(t)
        rest = (m.group("rest") or "").strip(" .") if m else ""
        if (
            m is None
            or not rest
            or len(rest.split()) > 6
            or R.ROLE_WORDS.search(rest)
            or T.parse_date(rest)
            or T.normalize(rest) in site_names
            or not T.split_authors(m.group("names"))
        ):
            continue
        before = [x for x in el.itersiblings(preceding=True) if isinstance(x.tag, str)]
        after = [x for x in el.itersiblings() if isinstance(x.tag, str)]
        # only paragraphs above it, and the reposted text below it
        if not before or len(before) > 6 or any(x.tag not in _PARA_TAGS for x in before):
            continue
        if any(_LEAD_TOKEN_RE.search(tok) for x in before for tok in _classes(x)):
            continue
        if not any(x.tag in _PARA_TAGS and len(_text(x).split()) >= 8 for x in after):
            continue
        if sum(len(_text(x).split()) for x in before) < 4:
            continue
        return t
    return None


def _walk_text(el: HtmlElement, skip: set[HtmlElement], out: list[str]) -> None:
    """Text of el without the skipped subtrees; block elements become line breaks."""
    if isinstance(el.tag, str) and el.tag not in _SKIP_TAGS and el not in skip:
        if el.tag in _BLOCK_TAGS:
            out.append("\n")
        if el.text:
            out.append(el.text)
        for ch in el:
            _walk_text(ch, skip, out)
            if ch.tail:
                out.append(ch.tail)
        if el.tag in _BLOCK_TAGS:
            out.append("\n")


def _lines(el: HtmlElement, skip: set[HtmlElement]) -> list[str]:
    buf: list[str] = []
    _walk_text(el, skip, buf)
    return [re.sub(r"\s+", " ", ln).strip() for ln in "".join(buf).split("\n") if ln.strip()]


def _find_containers(tree: HtmlElement, outlet: OutletRules | None) -> list[HtmlElement]:
    found: list[HtmlElement] = []
    body = tree.find("body")
    root = body if body is not None else tree
    skipped = ("body", "html", "article", "main", "head")
    counts: dict[HtmlElement, int] = {}  # parent -> comment units among its children
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag not in skipped and (
            _has(el, _CONTAINER_TOKEN_RE) or (el.get("itemprop") == "comment" and el.tag != "meta")
        ):
            found.append(el)
        # A section named otherwise ("discussion", "responses") that holds two comment units is
        # a comment section too. Substring tests on the raw class first: every unit token has
        # one of these stems, and few elements do.
        cls = el.get("class")
        if not cls or not ("omment" in cls or "oment" in cls or "омент" in cls or "оммент" in cls):
            continue
        parent = el.getparent()
        if parent is None or parent.tag in skipped or not _has(el, _UNIT_TOKEN_RE):
            continue
        counts[parent] = counts.get(parent, 0) + 1
        if counts[parent] == 2 and parent not in found:
            # in document order: before the found elements inside it (visited after it)
            at = len(found)
            while at and any(a is parent for a in found[at - 1].iterancestors()):
                at -= 1
            found.insert(at, parent)
    for xp in outlet.comment_xpaths if outlet else ():
        try:
            found.extend(e for e in tree.xpath(xp) if isinstance(e, HtmlElement))
        except etree.XPathError:
            continue
    # outermost only, and never something holding the headline or most of the page
    chosen: list[HtmlElement] = []
    ids = {id(e) for e in found}
    page_len = len(root.text_content()) or 1
    for el in found:
        if any(id(a) in ids for a in el.iterancestors()):
            continue
        if el.xpath(".//h1") or len(el.text_content()) > 0.6 * page_len:
            continue
        # a comment counter ("<span class=comments>12</span>") is not a comment section
        if not T.WORDY_RE.search(el.text_content()):
            continue
        if el not in chosen:
            chosen.append(el)
    return chosen


def _units(container: HtmlElement) -> list[HtmlElement]:
    out = []
    texts = []
    for el in container.iter():
        if not isinstance(el.tag, str):
            continue
        if (
            _has(el, _UNIT_TOKEN_RE)
            or el.get("itemprop") == "comment"
            or "Comment" in (el.get("itemtype") or "")
        ):
            out.append(el)
        elif _has(el, _TEXT_TOKEN_RE) or el.get("itemprop") == "text":
            texts.append(el)
    covered = set(out)
    for t in texts:
        # unnamed markup (Disqus and others): the nearest ancestor holding a text and an author
        if any(a in covered for a in t.iterancestors()):
            continue
        for anc in t.iterancestors():
            if anc is container:
                break
            if any(
                isinstance(x.tag, str) and _has(x, _AUTHOR_TOKEN_RE) for x in anc.iterdescendants()
            ):
                if anc not in covered:
                    out.append(anc)
                    covered.add(anc)
                break
    order = {el: i for i, el in enumerate(container.iter())}
    return sorted(out, key=lambda el: order[el])


def _comment_from(unit: HtmlElement, nested: set[HtmlElement]) -> CleanComment | None:
    author_el = None
    meta_els: set[HtmlElement] = set()
    time_val: str | None = None
    text_el = None
    for el in unit.iter():
        if el is unit or not isinstance(el.tag, str):
            continue
        if any(a in nested for a in el.iterancestors() if a is not unit) or el in nested:
            continue
        if author_el is None and (
            _has(el, _AUTHOR_TOKEN_RE) or el.get("itemprop") == "author" or el.tag == "cite"
        ):
            author_el = el
        if _has(el, _META_TOKEN_RE) or el.tag == "time":
            meta_els.add(el)
        if time_val is None and (
            el.tag == "time" or el.get("itemprop") in ("dateCreated", "datePublished")
        ):
            time_val = el.get("datetime") or el.get("content") or _text(el)
        if text_el is None and (_has(el, _TEXT_TOKEN_RE) or el.get("itemprop") == "text"):
            text_el = el
    author = _SAYS_RE.sub("", _text(author_el)) if author_el is not None else None
    skip = set(nested) | meta_els
    if author_el is not None:
        skip.add(author_el)
    lines = _lines(text_el if text_el is not None else unit, skip)
    lines = [ln for ln in lines if not R.REPLY_RE.match(ln)]
    if not lines:
        return None
    published = T.parse_date(time_val) if time_val else None
    if time_val and re.match(r"^\d{4}-\d\d-\d\dT", time_val):
        published = time_val
    return CleanComment(author or None, "\n".join(lines), published)


def take_comments(page: HtmlPage, outlet: OutletRules | None) -> None:
    """Remove comment sections from the tree, keeping each comment as data."""
    for container in _find_containers(page.tree, outlet):
        units = _units(container)
        unit_set = set(units)
        got = 0
        for u in units:
            nested = {x for x in u.iterdescendants() if x in unit_set}
            c = _comment_from(u, nested)
            if c is not None and _keep_comment(c, page):
                page.comments.append(c)
                got += 1
        rest = _lines(container, unit_set)
        if not got and rest:
            # unstructured comment markup: segment its text like a plain-text comment section
            _comments_from_lines(rest, page)
        elif rest:
            page.removed.append(RemovedText("comment_section", "\n".join(rest)[:2000]))
        parent = container.getparent()
        if parent is not None:
            if container.tail and container.tail.strip():
                prev = container.getprevious()
                if prev is not None:
                    prev.tail = (prev.tail or "") + container.tail
                else:
                    parent.text = (parent.text or "") + container.tail
            parent.remove(container)


def _comments_from_lines(lines: list[str], page: HtmlPage) -> int:
    author: str | None = None
    buf: list[str] = []
    n = 0
    for i, ln in enumerate(lines):
        if R.COMMENT_HEADER_RE.match(ln) or R.REPLY_RE.match(ln) or R.COMMENT_PROMPT_RE.match(ln):
            page.removed.append(RemovedText("comment_section", ln))
            continue
        name = T.name_of(ln)
        if name and i + 1 < len(lines) and not T.name_of(lines[i + 1]):
            if buf and _keep_comment(CleanComment(author, "\n".join(buf)), page):
                page.comments.append(CleanComment(author, "\n".join(buf)))
                n += 1
            author, buf = name, []
            continue
        buf.append(ln)
    if buf and _keep_comment(CleanComment(author, "\n".join(buf)), page):
        page.comments.append(CleanComment(author, "\n".join(buf)))
        n += 1
    return n


def _keep_comment(c: CleanComment, page: HtmlPage) -> bool:
    if T.is_comment_text(c.text):
        return True
    page.removed.append(RemovedText("not_a_comment", c.text[:2000]))
    return False


def extract_main_text(tree: HtmlElement, url: str | None) -> str:
    """Main text with trafilatura: precise pass first, recall pass when it keeps too little."""
    precise = trafilatura.extract(
        tree, url=url, include_comments=False, fast=True, favor_precision=True, with_metadata=False
    )
    if precise and len(precise) >= 800:
        return precise
    recall = trafilatura.extract(
        tree, url=url, include_comments=False, fast=True, favor_recall=True, with_metadata=False
    )
    if not precise or (recall and len(precise) < 0.5 * len(recall)):
        return recall or precise or ""
    return precise
