"""HTML pages and expected clean results for the five demo outlets, one renderer per outlet style."""

from __future__ import annotations

import html
import json
import tomllib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# Static fixture pages hold this placeholder; the farm substitutes its own base URL when serving.
BASE_URL = "{base_url}"

# The syndication notice on copies names the original outlet in this exact form.
SYNDICATION_PREFIX = "This article first appeared in"


@dataclass(frozen=True)
class DemoComment:
    author: str | None
    text: str  # paragraphs separated by "\n"
    date: str | None = None


@dataclass
class DemoArticle:
    slug: str
    title: str
    published: datetime
    paragraphs: list[str]  # a paragraph starting with "## " is a subheading (body, not boilerplate)
    authors: list[str] = field(default_factory=list)
    category: str = "news"
    comments: list[DemoComment] = field(default_factory=list)
    commentary: list[str] = field(default_factory=list)  # a reposter's own words above the byline
    original_outlet: str | None = None  # byline outlet of a repost, or the source of a translation
    teasers: list[dict[str, Any]] = field(
        default_factory=list
    )  # {"after": i, "headline", "caption"}
    image_credit: str | None = None
    author_line: str | None = None  # how a translation site prints the author
    syndicated_from: list[str] = field(default_factory=list)
    views: int = 0
    notes: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DemoArticle:
        data = dict(data)
        data["comments"] = [
            DemoComment(c.get("author") or None, c["text"].strip(), c.get("date"))
            for c in data.get("comments", [])
        ]
        data["paragraphs"] = [p.strip() for p in data["paragraphs"]]
        return cls(**data)

    def body(self) -> list[str]:
        return [p[3:] if p.startswith("## ") else p for p in self.paragraphs]

    def summary(self, limit: int = 240) -> str:
        first = next((p for p in self.body() if not p.startswith("## ")), self.title)
        return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True)
class FeedSpec:
    path: str
    kind: str  # "rss" | "atom"
    title: str
    category: str | None = None  # only articles of this category
    tracking: bool = False  # links carry utm parameters


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    language: str
    country: str
    feeds: tuple[FeedSpec, ...]
    path_for: Callable[[DemoArticle], str]
    render: Callable[[Site, DemoArticle, str], tuple[str, dict[str, Any]]]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def home(self) -> str:
        return f"/{self.id}/"


TRACKING_QUERY = "?utm_source=rss&utm_medium=feed"

e = html.escape


def _num(text: str) -> int:
    """A stable number from text (str hash is salted per process, so it is no use here)."""
    return zlib.crc32(text.encode("utf-8"))


def _paras(paragraphs: list[str], *, dropcap: bool = False) -> str:
    out = []
    first = True
    for p in paragraphs:
        if p.startswith("## "):
            out.append(f"<h2>{e(p[3:])}</h2>")
            continue
        if first and dropcap and len(p) > 1:
            out.append(f'<p class="intro"><span class="dropcap">{e(p[0])}</span>{e(p[1:])}</p>')
        else:
            out.append(f"<p>{e(p)}</p>")
        first = False
    return "\n".join(out)


def _head(site: Site, art: DemoArticle, path: str, base: str) -> str:
    feed = site.feeds[0]
    ftype = "application/atom+xml" if feed.kind == "atom" else "application/rss+xml"
    return f"""<!DOCTYPE html>
<html lang="{site.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(art.title)} | {e(site.name)}</title>
<meta name="description" content="{e(art.summary())}">
<meta name="author" content="{e(", ".join(art.authors))}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="{e(site.name)}">
<meta property="og:title" content="{e(art.title)}">
<meta property="og:url" content="{base}{path}">
<meta property="article:published_time" content="{art.published.isoformat()}">
<link rel="canonical" href="{base}{path}">
<link rel="alternate" type="{ftype}" title="{e(feed.title)}" href="{base}{feed.path}">
</head>"""


def _comment_items(comments: list[DemoComment], *, id_base: int) -> str:
    items = []
    for i, c in enumerate(comments):
        cid = id_base + i
        author = (
            f'<div class="comment-author vcard"><img alt="" class="avatar avatar-48" '
            f'src="/img/avatar.png" height="48" width="48"><cite class="fn">{e(c.author)}</cite> '
            f'<span class="says">says:</span></div>'
            if c.author
            else ""
        )
        date = c.date or "March 3, 2024 at 9:15 am"
        body = "".join(f"<p>{e(line)}</p>" for line in c.text.split("\n") if line.strip())
        parity = "even" if i % 2 == 0 else "odd"
        items.append(
            f'<li class="comment {parity} thread-{parity} depth-1" id="li-comment-{cid}">\n'
            f'<div id="comment-{cid}">{author}\n'
            f'<div class="comment-meta commentmetadata"><a href="#comment-{cid}">{e(date)}</a></div>\n'
            f"{body}\n"
            f'<div class="reply"><a rel="nofollow" class="comment-reply-link" '
            f'href="#comment-{cid}">Reply</a></div>\n</div>\n</li>'
        )
    return "\n".join(items)


def _comments_block(art: DemoArticle, heading: str, id_base: int) -> str:
    if not art.comments:
        return ""
    items = _comment_items(art.comments, id_base=id_base)
    return f'<section class="comments"><h3>{heading}</h3>\n<ol class="commentlist">\n{items}\n</ol></section>'


def _expected(site: Site, art: DemoArticle, path: str, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "site": site.id,
        "path": path,
        "title": art.title,
        "authors": list(art.authors),
        "published": art.published.isoformat(),
        "language": site.language,
        "outlet": site.name,
        "body": art.body(),
        "comments": [{"author": c.author, "text": c.text} for c in art.comments],
        "boilerplate": [],
        "syndicated_from": list(art.syndicated_from),
        "image_credits": [],
        "notes": art.notes,
    }
    data.update(kw)
    return data


# --- (a) a blog reposting newspaper columns with its own commentary above the byline


def render_repost_blog(site: Site, art: DemoArticle, base: str) -> tuple[str, dict[str, Any]]:
    path = site.path_for(art)
    author = art.authors[0] if art.authors else "Staff"
    byline = f"By {author}, {art.original_outlet}" if art.original_outlet else f"By {author}"
    commentary = "\n".join(f"<p>{e(p)}</p>" for p in art.commentary)
    comments = ""
    if art.comments:
        comments = f'<h3 id="comments-title">Responses</h3>\n<ol class="commentlist">\n{_comment_items(art.comments, id_base=700)}\n</ol>'
    page = f"""{_head(site, art, path, base)}
<body class="post-template-default single single-post">
<div id="page" class="hfeed site">
<header id="masthead" class="site-header" role="banner">
<p class="site-title"><a href="/{site.id}/" rel="home">{e(site.name)}</a></p>
<p class="site-description">Reading the Atlantic press so you don't have to</p>
<nav id="site-navigation" class="main-navigation"><ul>
<li><a href="/{site.id}/">Home</a></li><li><a href="/{site.id}/category/europe/">Europe</a></li>
<li><a href="/{site.id}/category/defence/">Defence</a></li><li><a href="/{site.id}/about/">About</a></li>
</ul></nav>
</header>
<div id="content" class="site-content">
<main id="main" class="site-main">
<article id="post-{_num(art.slug) % 9000 + 1000}" class="post type-post status-publish format-standard hentry">
<header class="entry-header">
<h1 class="entry-title">{e(art.title)}</h1>
<div class="entry-meta"><span class="posted-on">Posted on <time class="entry-date published" datetime="{art.published.isoformat()}">{art.published:%B %d, %Y}</time></span> <span class="byline">by <span class="author vcard">marginalia</span></span></div>
</header>
<div class="entry-content">
{commentary}
<p><strong>{e(byline)}</strong></p>
{_paras(art.paragraphs)}
</div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="/{site.id}/category/{art.category}/" rel="category tag">{e(art.category.title())}</a></span>
<div class="sharedaddy"><h3 class="sd-title">Share this:</h3><ul><li><a href="#">Email</a></li><li><a href="#">Print</a></li></ul></div>
</footer>
</article>
<nav class="navigation post-navigation"><div class="nav-links"><a href="/{site.id}/" rel="prev">&larr; Previous post</a></div></nav>
<div id="comments" class="comments-area">
{comments}
<div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3>
<form action="/{site.id}/wp-comments-post.php" method="post" id="commentform"><p class="comment-notes">Your email address will not be published.</p>
<textarea id="comment" name="comment"></textarea><input name="submit" type="submit" value="Post Comment"></form></div>
</div>
</main>
<aside id="secondary" class="widget-area"><section class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2><ul>
<li><a href="/{site.id}/">Why the Baltic matters more than ever</a></li><li><a href="/{site.id}/">Reading list for the long weekend</a></li></ul></section>
<section class="widget widget_archive"><h2 class="widget-title">Archives</h2><ul><li><a href="/{site.id}/">March 2024</a></li><li><a href="/{site.id}/">February 2024</a></li></ul></section></aside>
</div>
<footer id="colophon" class="site-footer"><div class="site-info">Proudly powered by WordPress | Theme: Twenty Fifteen. Quotations are used under fair dealing for the purpose of criticism and review.</div></footer>
</div>
</body>
</html>
"""
    commentary_text = "\n".join(art.commentary)
    comments_out = []
    if art.commentary:
        comments_out.append({"author": None, "kind": "repost_commentary", "text": commentary_text})
    comments_out += [{"author": c.author, "text": c.text} for c in art.comments]
    expected = _expected(
        site,
        art,
        path,
        outlet=art.original_outlet or site.name,
        # a repost names its original in the byline: that is where the text was first published
        syndicated_from=[art.original_outlet] if art.original_outlet else list(art.syndicated_from),
        comments=comments_out,
        boilerplate=[byline, "Leave a Reply", "Share this:"],
        reposted_by=site.name,
    )
    return page, expected


# --- (b) a German outlet's English edition: drop cap, "also read" teasers between paragraphs


def render_german_site(site: Site, art: DemoArticle, base: str) -> tuple[str, dict[str, Any]]:
    path = site.path_for(art)
    teasers = {int(t["after"]): t for t in art.teasers}
    blocks: list[str] = []
    body_seen = 0
    boiler: list[str] = []
    parts = art.paragraphs
    chunks: list[str] = []
    for p in parts:
        chunks.append(p)
        if not p.startswith("## "):
            body_seen += 1
            teaser = teasers.get(body_seen)
            if teaser:
                blocks.append(_paras(chunks, dropcap=not blocks))
                chunks = []
                caption = teaser.get("caption")
                cap_html = (
                    f'<figcaption class="teaser-caption">{e(caption)}</figcaption>'
                    if caption
                    else ""
                )
                blocks.append(
                    f'<aside class="c-teaser c-teaser--also-read" data-component="also-read">\n'
                    f'<span class="c-teaser__kicker">also read</span>\n'
                    f'<a class="c-teaser__link" href="/{site.id}/politics/'
                    f'{_num(teaser["headline"]) % 10**8}.html">'
                    f'<figure><img src="/img/teaser.jpg" alt="">{cap_html}</figure>'
                    f'<h4 class="c-teaser__headline">{e(teaser["headline"])}</h4></a>\n</aside>'
                )
                boiler += ["also read", teaser["headline"]] + ([caption] if caption else [])
    if chunks:
        blocks.append(_paras(chunks, dropcap=not blocks))
    byline = ""
    if art.authors:
        byline = f'<div class="c-author">By <a rel="author" href="/{site.id}/authors/">{e(" and ".join(art.authors))}</a></div>'
        boiler.append("By " + " and ".join(art.authors))
    page = f"""{_head(site, art, path, base)}
<body class="article-page">
<header class="c-page-header">
<a class="c-logo" href="/{site.id}/">{e(site.name)}</a>
<nav class="c-nav"><a href="/{site.id}/politics/">Politics</a> <a href="/{site.id}/business/">Business</a> <a href="/{site.id}/opinion/">Opinion</a> <a href="/{site.id}/culture/">Culture</a> <a href="/{site.id}/epaper/">E-Paper</a></nav>
<a class="c-login" href="/{site.id}/login">Sign in</a>
</header>
<main>
<nav class="c-breadcrumb"><a href="/{site.id}/">Home</a> › <a href="/{site.id}/politics/">Politics</a> › Foreign affairs</nav>
<article class="c-article" itemscope itemtype="https://schema.org/NewsArticle">
<header class="c-article__header">
<div class="c-topic">{e(art.category.title())}</div>
<h1 class="c-headline" itemprop="headline">{e(art.title)}</h1>
<div class="c-meta"><time datetime="{art.published.isoformat()}">Published {art.published:%d.%m.%Y | %H:%M}</time> <span class="c-reading-time">Reading time: 4 minutes</span></div>
{byline}
</header>
<div class="c-article-text" itemprop="articleBody">
{chr(10).join(blocks)}
</div>
<footer class="c-article__footer"><div class="c-share">Share: <a href="#">Facebook</a> <a href="#">X</a> <a href="#">E-mail</a></div>
<p class="c-rights">© {site.name} {art.published:%Y}. All rights reserved. Translated from the German edition.</p></footer>
</article>
{_comments_block(art, "Reader comments", 5100)}
<aside class="c-most-read"><h3>Most read</h3><ol><li><a href="/{site.id}/">Coalition row over the budget deepens</a></li><li><a href="/{site.id}/">Rail strike: what commuters need to know</a></li><li><a href="/{site.id}/">Weather: storm front heads for the North Sea coast</a></li></ol></aside>
</main>
<footer class="c-page-footer"><a href="/{site.id}/imprint">Imprint</a> | <a href="/{site.id}/privacy">Privacy</a> | <a href="/{site.id}/subscribe">Subscribe</a> | <a href="/{site.id}/cookies">Cookie settings</a></footer>
</body>
</html>
"""
    return page, _expected(site, art, path, boilerplate=boiler + ["Most read"])


# --- (c) a partisan WordPress site with a long multilingual comment section (ol.commentlist)


def render_wordpress_comments(
    site: Site, art: DemoArticle, base: str
) -> tuple[str, dict[str, Any]]:
    path = site.path_for(art)
    n = len(art.comments)
    comments = ""
    if art.comments:
        comments = (
            f'<h2 class="comments-title">{n} {"Response" if n == 1 else "Responses"} to &ldquo;{e(art.title)}&rdquo;</h2>\n'
            f'<ol class="commentlist">\n{_comment_items(art.comments, id_base=41200)}\n</ol>'
        )
    page = f"""{_head(site, art, path, base)}
<body class="post-template-default single single-post postid-{_num(art.slug) % 90000}">
<div class="top-bar"><a href="/{site.id}/donate/">Support us</a> <a href="/{site.id}/contacts/">Contacts</a> <a href="/{site.id}/wp-login.php">Log in</a></div>
<header id="header"><div class="logo"><a href="/{site.id}/">{e(site.name)}</a></div>
<nav class="menu"><ul><li><a href="/{site.id}/category/news/">News</a></li><li><a href="/{site.id}/category/analysis/">Analysis</a></li><li><a href="/{site.id}/category/videos/">Videos</a></li><li><a href="/{site.id}/maps/">Maps</a></li></ul></nav></header>
<div id="main">
<div class="post-wrap">
<article class="post hentry category-{art.category}">
<h1 class="entry-title">{e(art.title)}</h1>
<div class="post-meta"><span class="date">{art.published:%d.%m.%Y}</span> <span class="views">{art.views} views</span></div>
<div class="entry-content">
{_paras(art.paragraphs)}
<div class="donate-box"><p>If you like our work, please support us. Every contribution helps keep the site independent.</p></div>
</div>
<div class="tags">Tags: <a href="/{site.id}/tag/nato/">NATO</a>, <a href="/{site.id}/tag/europe/">Europe</a></div>
</article>
<div id="comments">
{comments}
<div id="respond"><h3>Leave a Reply</h3><form id="commentform" method="post" action="/{site.id}/wp-comments-post.php"><textarea name="comment"></textarea><input type="submit" value="Post Comment"></form></div>
</div>
</div>
<aside id="sidebar"><div class="widget"><h3>Popular</h3><ul><li><a href="/{site.id}/">Military situation overview, morning edition</a></li><li><a href="/{site.id}/">Map update: the southern sector</a></li></ul></div></aside>
</div>
<footer id="footer"><p>All content is provided for informational purposes. Reproduction permitted with a link to {e(site.name)}.</p></footer>
</body>
</html>
"""
    boiler = ["Support us", "Log in", "Leave a Reply", "Reply", "says:"]
    boiler.append(
        "If you like our work, please support us. Every contribution helps keep the site independent."
    )
    return page, _expected(site, art, path, boilerplate=boiler)


# --- (d) a translation aggregator: login link, counters, image credit, rights notice, sidebar


def render_aggregator(site: Site, art: DemoArticle, base: str) -> tuple[str, dict[str, Any]]:
    path = site.path_for(art)
    sidebar_items = AGGREGATOR_SIDEBAR
    body = art.body()
    paras = list(art.paragraphs)
    sidebar = "\n".join(
        f'<li class="item"><span class="time">{e(t)}</span> <span class="count">{c}</span> '
        f'<a href="/{site.id}/news/">{e(h)}</a></li>'
        for t, c, h in sidebar_items
    )
    credit = art.image_credit
    figure = (
        f'<figure class="main-image"><img src="/img/{art.slug}.jpg" alt="">'
        f"<figcaption>Image source: {e(credit)}</figcaption></figure>"
        if credit
        else ""
    )
    original = art.original_outlet or "foreign media"
    author_line = art.author_line or (art.authors[0] if art.authors else "")
    syndication = ""
    if art.syndicated_from:
        syndication = (
            f'<p class="syndication">{SYNDICATION_PREFIX} {e(art.syndicated_from[0])}.</p>'
        )
    page = f"""{_head(site, art, path, base)}
<body>
<div class="topline"><a class="logo" href="/{site.id}/">{e(site.name)}</a> <a class="login" href="/{site.id}/login/">Войти</a></div>
<nav class="rubrics"><a href="/{site.id}/news/">Новости</a> <a href="/{site.id}/analytics/">Аналитика</a> <a href="/{site.id}/foreign/">Зарубежная пресса</a></nav>
<div class="layout">
<main class="content">
<article class="material">
<h1>{e(art.title)}</h1>
<div class="counters"><span class="views" title="Просмотры">{art.views}</span> <span class="comments" title="Комментарии">0</span> <span class="likes" title="Рейтинг">0</span></div>
{figure}
<div class="material-text">
{_paras(paras)}
<p class="author">{e(author_line)}</p>
{syndication}
</div>
<div class="rights"><p>The rights to this material belong to <a href="/{site.id}/source/">{e(original)}</a></p>
<p>The material is placed by the copyright holder in the public domain</p>
<p><a href="/{site.id}/source/">Original publication</a></p></div>
<p class="disclaimer">{e(site.name)} materials contain ratings exclusively from foreign media and do not reflect the editorial board's position</p>
<ul class="mentions"><li>The news mentions</li></ul>
<p class="comment-invite">Do you want to leave a comment? <a href="/{site.id}/register/">Register</a> and/or <a href="/{site.id}/login/">Log in</a></p>
</article>
{_comments_block(art, "Comments", 8800)}
<div class="subscribe-box"><h3>ПОДПИСКА НА НОВОСТИ</h3><p>Ежедневная рассылка новостей на электронный почтовый ящик</p><form><input type="email" name="email"><button>OK</button></form></div>
</main>
<aside class="sidebar"><div class="tabs"><span>Discussion</span> <span>Update</span></div>
<ul class="feed-list">
{sidebar}
</ul></aside>
</div>
<footer><p>© {e(site.name)}. Перепечатка материалов только с активной ссылкой на источник.</p></footer>
</body>
</html>
"""
    boiler = ["Войти", str(art.views), "0", "0"]
    if credit:
        boiler.append(f"Image source: {credit}")
    if author_line:
        boiler.append(author_line)
    if syndication:
        boiler.append(f"{SYNDICATION_PREFIX} {art.syndicated_from[0]}.")
    boiler += [
        f"The rights to this material belong to {original}",
        "The material is placed by the copyright holder in the public domain",
        "Original publication",
        f"{site.name} materials contain ratings exclusively from foreign media and do not reflect the editorial board's position",
        "The news mentions",
        "Do you want to leave a comment? Register and/or Log in",
        "ПОДПИСКА НА НОВОСТИ",
        "Ежедневная рассылка новостей на электронный почтовый ящик",
        "Discussion",
        "Update",
    ]
    for t, c, h in sidebar_items:
        boiler += [t, str(c), h]
    syn = list(art.syndicated_from) or [original]
    return page, _expected(
        site,
        art,
        path,
        body=body,
        boilerplate=boiler,
        syndicated_from=syn,
        image_credits=[credit] if credit else [],
    )


# --- (e) a blog that repeats its title inside the post and closes comments


def render_closed_blog(site: Site, art: DemoArticle, base: str) -> tuple[str, dict[str, Any]]:
    path = site.path_for(art)
    comments = ""
    if art.comments:
        comments = f'<ol class="commentlist">\n{_comment_items(art.comments, id_base=9100)}\n</ol>'
    page = f"""{_head(site, art, path, base)}
<body class="single">
<div id="wrapper">
<div id="header"><h1 class="blog-title"><a href="/{site.id}/">{e(site.name)}</a></h1><div class="description">Geopolitik, Sicherheitspolitik, Strategie</div></div>
<div id="menu"><ul><li><a href="/{site.id}/">Startseite</a></li><li><a href="/{site.id}/impressum/">Impressum</a></li><li><a href="/{site.id}/datenschutz/">Datenschutz</a></li></ul></div>
<div id="content">
<div class="post" id="post-{_num(art.slug) % 90000}">
<h2 class="entry-title"><a href="{base}{path}" rel="bookmark">{e(art.title)}</a></h2>
<div class="postmeta">Veröffentlicht am {art.published:%d. %m. %Y} von {e(art.authors[0] if art.authors else "admin")}</div>
<div class="entry">
<h3>{e(art.title)}</h3>
{_paras(art.paragraphs)}
</div>
<p class="postmetadata">Kategorie: <a href="/{site.id}/category/{art.category}/">{e(art.category.title())}</a></p>
</div>
{comments}
<p class="nocomments">Kommentare sind geschlossen.</p>
</div>
<div id="sidebar"><h4>Neueste Beiträge</h4><ul><li><a href="/{site.id}/">Wohin steuert die Bundeswehr?</a></li><li><a href="/{site.id}/">Interview zur Lage im Indopazifik</a></li></ul>
<h4>Archive</h4><ul><li><a href="/{site.id}/">März 2024</a></li></ul></div>
<div id="footer">© {art.published:%Y} {e(site.name)} · WordPress</div>
</div>
</body>
</html>
"""
    return page, _expected(
        site, art, path, boilerplate=[art.title, "Kommentare sind geschlossen.", "Neueste Beiträge"]
    )


# Other headlines with "day.month hour:minute" stamps and comment counts, as aggregators show.
AGGREGATOR_SIDEBAR: list[tuple[str, int, str]] = [
    (
        "18.03 06:46",
        4312,
        "Without a carrot or a stick: how the sanctions era changed Moscow's levers",
    ),
    ("17.03 10:07", 3, "Ответ читателю: почему манёвренность не главное для истребителя"),
    ("16.03 18:28", 2748, "Как насчёт раздела с юмором?"),
    ("16.03 13:41", 1, "Ракетчики оценили новую пусковую установку"),
    ("15.03 17:18", 683, "Israel prepared for the wrong war, a reserve general argues"),
    ("15.03 10:15", 7, "Россия вернётся к созданию сверхзвуковых лайнеров"),
    ("14.03 21:45", 4, "Верфь показала, каким будет новый фрегат"),
    ("14.03 01:22", 1, "Норвегия продлит контракт на патрульные самолёты"),
]


# --- the five demo outlets


def _wp_path(site_id: str) -> Callable[[DemoArticle], str]:
    return lambda a: f"/{site_id}/{a.published:%Y/%m}/{a.slug}/"


SITES: dict[str, Site] = {
    s.id: s
    for s in (
        Site(
            id="transatlantic-notes",
            name="Transatlantic Notes",
            language="en",
            country="US",
            feeds=(FeedSpec("/transatlantic-notes/feed/", "rss", "Transatlantic Notes"),),
            path_for=_wp_path("transatlantic-notes"),
            render=render_repost_blog,
        ),
        Site(
            id="rhein-kurier",
            name="Rhein-Kurier International",
            language="en",
            country="DE",
            feeds=(
                FeedSpec(
                    "/rhein-kurier/feeds/international.atom", "atom", "Rhein-Kurier International"
                ),
            ),
            path_for=lambda a: f"/rhein-kurier/politics/{a.slug}.html",
            render=render_german_site,
        ),
        Site(
            id="sentinel-front",
            name="The Sentinel Front",
            language="en",
            country="US",
            feeds=(
                FeedSpec("/sentinel-front/feed/", "rss", "The Sentinel Front"),
                FeedSpec(
                    "/sentinel-front/category/analysis/feed/",
                    "rss",
                    "The Sentinel Front » Analysis",
                    category="analysis",
                    tracking=True,
                ),
            ),
            path_for=_wp_path("sentinel-front"),
            render=render_wordpress_comments,
        ),
        Site(
            id="arsenal-digest",
            name="Arsenal Digest",
            language="en",
            country="RU",
            feeds=(FeedSpec("/arsenal-digest/rss/", "rss", "Arsenal Digest: foreign press"),),
            path_for=lambda a: f"/arsenal-digest/news/{a.published:%Y-%m-%d}/{a.slug}.html",
            render=render_aggregator,
        ),
        Site(
            id="globus-notes",
            name="Globus Notes",
            language="en",
            country="DE",
            feeds=(FeedSpec("/globus-notes/feed/atom/", "atom", "Globus Notes"),),
            path_for=_wp_path("globus-notes"),
            render=render_closed_blog,
        ),
    )
}


SITES_DIR = Path(__file__).resolve().parent / "sites"


def load_site_articles(site_id: str, sites_dir: Path = SITES_DIR) -> list[DemoArticle]:
    """The authored articles of one demo outlet, newest first, with `copy_of` resolved."""
    raw = tomllib.loads((sites_dir / site_id / "articles.toml").read_text(encoding="utf-8"))
    out: list[DemoArticle] = []
    for item in raw.get("articles", []):
        item = dict(item)
        source = item.pop("copy_of", None)
        if source:
            src_site, src_slug = source.split("/", 1)
            original = next(
                a for a in load_site_articles(src_site, sites_dir) if a.slug == src_slug
            )
            item.setdefault("title", original.title)
            item.setdefault("paragraphs", list(original.paragraphs))
            item.setdefault("authors", list(original.authors))
            item.setdefault("category", original.category)
            item.setdefault("original_outlet", SITES[src_site].name)
            item.setdefault("syndicated_from", [SITES[src_site].name])
        out.append(DemoArticle.from_dict(item))
    return sorted(out, key=lambda a: a.published, reverse=True)


def build_site_files(sites_dir: Path = SITES_DIR) -> int:
    """Render every demo page and its expected result beside it; returns the number of pages."""
    count = 0
    for site in SITES.values():
        folder = sites_dir / site.id
        for old in list(folder.glob("*.html")) + list(folder.glob("*.expected.json")):
            old.unlink()
        for art in load_site_articles(site.id, sites_dir):
            page, expected = site.render(site, art, BASE_URL)
            (folder / f"{art.slug}.html").write_text(page, encoding="utf-8")
            (folder / f"{art.slug}.expected.json").write_text(
                json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            count += 1
    return count


if __name__ == "__main__":
    print(f"wrote {build_site_files()} pages under {SITES_DIR}")
