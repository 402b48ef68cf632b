"""Page-level rules on HTML: repost bylines, counters that are not comments, the headline over
the site's name, and donation appeals."""

from __future__ import annotations

import pytest

from cleaning import clean
from cleaning.text import is_comment_text

PARAS = (
    "<p>The regional parliament debated the new water law for most of the afternoon, with members "
    "from every party raising concerns about the cost for farmers and small towns.</p>"
    "<p>Supporters said the law would protect rivers from pollution and secure drinking water for "
    "the next generation, while critics wanted a longer transition period.</p>"
    "<p>A final vote is expected next month after the committee has reviewed the amendments that "
    "were proposed during the debate by the opposition parties.</p>"
)
COMMENTARY = (
    "Worth a read, although I think the cost argument is overstated by both sides of the debate."
)


def _page(content: str, *, site: str = "Riverside Blog", title: str = "Water law debated") -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{title} | {site}</title>"
        f"<meta property='og:site_name' content='{site}'></head><body>"
        f"<div class='site-header'><h1><a href='/'>{site}</a></h1></div>"
        f"<div class='post'><h2>{title}</h2><div class='post-body'>{content}</div></div>"
        "</body></html>"
    )


def test_commentary_above_a_byline_naming_another_outlet_is_the_reposters():
    got = clean(
        _page(
            f"<p>{COMMENTARY}</p><p>Short and to the point.</p>"
            f"<p><b>By Ann Lee, The Valley Herald</b></p>{PARAS}"
        )
    )
    reposts = [c for c in got.comments if c.kind == "repost_commentary"]
    assert [c.text for c in reposts] == [COMMENTARY + "\nShort and to the point."]
    assert COMMENTARY not in got.body and "Short and to the point" not in got.body
    assert got.authors == ["Ann Lee"]
    assert got.outlet == "The Valley Herald"
    assert len(got.paragraphs) == 3


@pytest.mark.parametrize(
    "before",
    [
        # the byline names the site itself: the text above is its own lead
        f"<p>{COMMENTARY}</p><p>By Ann Lee, Riverside Blog</p>",
        # a role, not an outlet
        f"<p>{COMMENTARY}</p><p>By Ann Lee, Political Correspondent</p>",
        # a paragraph marked as the article's standfirst
        f"<p class='article-standfirst'>{COMMENTARY}</p><p>By Ann Lee, The Valley Herald</p>",
        # not only paragraphs above the byline
        f"<ul><li>{COMMENTARY}</li></ul><p>By Ann Lee, The Valley Herald</p>",
    ],
)
def test_a_lead_above_an_ordinary_byline_stays_in_the_body(before: str):
    got = clean(_page(before + PARAS))
    assert not [c for c in got.comments if c.kind == "repost_commentary"]
    assert COMMENTARY in got.body
    assert got.authors == ["Ann Lee"]


@pytest.mark.parametrize("text", ["0", "12", "1.2k", "3 комментария", "18.03 06:46", "+1", "Reply"])
def test_counters_dates_and_buttons_are_not_comment_text(text: str):
    assert not is_comment_text(text)


@pytest.mark.parametrize("text", ["Agreed.", "Nope", "Да", "Sehr guter Artikel, danke!"])
def test_short_real_comments_are_comment_text(text: str):
    assert is_comment_text(text)


def test_comment_counter_markup_gives_no_comment():
    got = clean(
        _page(
            "<div class='meta'><span class='comments' title='Comments'>0</span> "
            "<span class='kommentare'>7</span></div>" + PARAS
        )
    )
    assert got.comments == []
    assert len(got.paragraphs) == 3


@pytest.mark.parametrize(
    ("site", "title", "og"),
    [
        ("Riverside Blog", "Water law debated", None),
        ("Riverside Blog", "Water law debated", "Water law debated – Riverside Blog"),
        ("Блог Речника", "Закон о воде обсуждён", None),
    ],
)
def test_headline_wins_over_the_site_name_in_an_h1(site: str, title: str, og: str | None):
    html = _page(PARAS, site=site, title=title)
    if og:
        html = html.replace("</head>", f"<meta property='og:title' content='{og}'></head>")
    assert clean(html).title == title


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        # a stub or the site's bare name as <title>: the article's h1 is the headline
        ("<title>T</title>", "Headline here"),
        (
            "<title>Riverside Blog</title><meta property='og:site_name' content='Riverside Blog'>",
            "Headline here",
        ),
        ("", "Headline here"),
        # a real headline in <title> stays the title, whatever the h1 says
        (
            "<title>Water law debated for hours in parliament</title>",
            "Water law debated for hours in parliament",
        ),
        (
            "<meta property='og:title' content='Water law debated'><title>T</title>",
            "Water law debated",
        ),
    ],
)
def test_an_h1_beside_a_title_that_is_no_headline_is_the_title(head: str, expected: str):
    html = (
        f"<!DOCTYPE html><html lang='en'><head>{head}</head><body><article>"
        f"<h1>Headline here</h1>{PARAS}</article></body></html>"
    )
    got = clean(html)
    assert got.title == expected
    # the h1 never stays in the body; when it is not the title it is kept among the removed
    assert "Headline here" not in got.body
    assert ("repeated_title", "Headline here") in [(r.rule, r.text) for r in got.removed]


@pytest.mark.parametrize(
    "line",
    [
        "If you like our work, please support us. Every contribution helps keep the site independent.",
        "Unterstützen Sie unsere Arbeit – jetzt spenden!",
        "Unterstützen Sie unsere Arbeit.",
        "Підтримайте редакцію: кожна гривня важлива.",
        "Поддержите наш проект: любая сумма важна.",
        "Soutenez notre travail : faites un don.",
        "Apóyanos: haz una donación hoy.",
    ],
)
def test_donation_appeals_are_removed(line: str):
    got = clean(_page(PARAS + f"<div class='box'><p>{line}</p></div>"))
    assert line not in got.body
    assert ("donation_appeal", line) in [(r.rule, r.text) for r in got.removed]


@pytest.mark.parametrize(
    "line",
    [
        "“Please support us,” the mayor told the crowd outside the town hall on Friday.",
        "Sweden will become a member of the alliance once the last parliament has voted.",
        "„Unterstützen Sie uns“, sagte die Ministerin vor den Landwirten.",
    ],
)
def test_body_sentences_about_support_stay(line: str):
    got = clean(_page(PARAS + f"<p>{line}</p>"))
    assert line in got.body
