"""Ordinary body sentences that resemble noise stay in the body, in text and in HTML mode.

Each line below once removed itself, and often everything after it, from the article: a
sentence that starts like a byline, a notice, a teaser or a comment header is still news copy.
"""

from __future__ import annotations

import html

import pytest

from cleaning import clean

TITLE = "Water law debated in regional parliament"
P1 = (
    "The regional parliament debated the new water law for most of the afternoon, with members "
    "from every party raising concerns about the cost for farmers and small towns."
)
P2 = (
    "Supporters said the law would protect rivers from pollution and secure drinking water for "
    "the next generation, while critics wanted a longer transition period."
)
P3 = (
    "A final vote is expected next month after the committee has reviewed the amendments that "
    "were proposed during the debate by the opposition parties."
)
P4 = (
    "Environmental groups welcomed the draft but warned that the enforcement budget was far too "
    "small to pay for inspectors in every district of the region."
)


def _page(
    title: str, paragraphs: list[str], lang: str = "en", wrapper: str = "article-body"
) -> str:
    body = "\n".join(
        f"<h2>{html.escape(p[3:])}</h2>" if p.startswith("## ") else f"<p>{html.escape(p)}</p>"
        for p in paragraphs
    )
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} | Example Post</title>"
        '<meta property="og:site_name" content="Example Post"></head><body>'
        '<header><a href="/">Example Post</a><nav><a href="/politics">Politics</a> '
        '<a href="/world">World</a></nav></header>'
        f'<main><article><h1>{html.escape(title)}</h1><div class="{wrapper}">{body}</div>'
        "</article></main><footer><a href='/imprint'>Imprint</a></footer></body></html>"
    )


def _kept(paragraphs: list[str], *, mode: str, title: str = TITLE, lang: str = "en") -> list[str]:
    if mode == "text":
        result = clean("\n\n".join([title, *(p.removeprefix("## ") for p in paragraphs)]))
    else:
        result = clean(_page(title, paragraphs, lang), url="https://example.org/a/1")
    body = result.paragraphs
    return [p.removeprefix("## ") for p in paragraphs if p.removeprefix("## ") not in body]


NOTICE_LIKE = [
    "The study, first published in The Lancet last year, found the same effect in rivers.",
    "The official figures do not reflect the views of most farmers, the union said.",
    "Copyright holders argued that the new rules would hurt small publishers.",
    "Join the conversation, the minister urged the farmers gathered outside the building.",
    "Leave a comment in the consultation portal, the agency told residents, before May 1.",
    "Ces chiffres ne reflètent pas la réalité du terrain, selon le syndicat des agriculteurs.",
    "Las encuestas no reflejan el apoyo real que tiene la ley entre los agricultores.",
]


@pytest.mark.parametrize("mode", ["text", "html"])
@pytest.mark.parametrize("line", NOTICE_LIKE)
def test_a_sentence_that_reads_like_a_notice_does_not_end_the_article(line: str, mode: str) -> None:
    assert _kept([P1, P2, line, P3, P4], mode=mode) == []


@pytest.mark.parametrize("mode", ["text", "html"])
@pytest.mark.parametrize(
    "line",
    [
        "By contrast, the Senate version keeps the tax on farmers.",
        "Par ailleurs, le gouvernement a confirmé la réforme des retraites.",
        "Por su parte, el ministro dijo que no habrá cambios.",
        "Von Anfang an war klar, dass die Bauern die Kosten tragen.",
    ],
)
def test_a_sentence_starting_with_by_is_not_a_byline(line: str, mode: str) -> None:
    result_text = "\n\n".join([TITLE, P1, line, P2, P3])
    result = (
        clean(result_text)
        if mode == "text"
        else clean(_page(TITLE, [P1, line, P2, P3]), url="https://example.org/a/1")
    )
    assert result.authors == []
    assert [p for p in (P1, line, P2, P3) if p not in result.paragraphs] == []


def test_a_real_byline_still_gives_the_author() -> None:
    result = clean("\n\n".join([TITLE, "By Jane Doe and Ludwig van Beethoven", P1, P2, P3]))
    assert result.authors == ["Jane Doe", "Ludwig van Beethoven"]
    assert clean("\n\n".join([TITLE, "Von Hans Müller, Berlin", P1, P2])).authors == ["Hans Müller"]
    assert P1 in clean("\n\n".join([TITLE, "By Jane Doe", P1, P2])).paragraphs


def test_a_standfirst_above_a_plain_byline_is_not_a_reposters_commentary() -> None:
    standfirst = (
        "Farmers and environmental groups clash over who should pay for cleaner rivers in the "
        "region."
    )
    result = clean("\n\n".join([TITLE, standfirst, "By Jane Doe", P1, P2, P3]))
    assert standfirst in result.paragraphs and result.authors == ["Jane Doe"]


@pytest.mark.parametrize("mode", ["text", "html"])
@pytest.mark.parametrize(
    ("heading", "lang"),
    [("Discussion", "en"), ("Diskussion", "de"), ("Обсуждение", "ru"), ("Réactions", "fr")],
)
def test_a_subheading_named_like_a_comment_section_is_a_subheading(
    heading: str, lang: str, mode: str
) -> None:
    assert _kept([P1, P2, f"## {heading}", P3, P4], mode=mode, lang=lang) == []


@pytest.mark.parametrize("mode", ["text", "html"])
@pytest.mark.parametrize(
    "line",
    [
        "Related charges were filed against three other officials on Monday, prosecutors said.",
        "Read more about it in the report, the minister told reporters on Tuesday.",
        "Recommended by the finance committee, the bill now goes to a final vote.",
        "Zum Thema Wasserpreise sagte der Minister, eine Erhöhung sei nicht geplant.",
        "По теме реформы министр высказался осторожно: решений пока нет.",
        "Tagelang wurde im Ausschuss verhandelt, am Ende stand ein Kompromiss: Die Bauern zahlen.",
        "Posted in Kabul for two years, the diplomat said: the talks will fail.",
        "The ministry announced the decision in its weekly newsletter on Friday.",
        "Fewer households subscribe to the municipal water plan than a decade ago.",
        "We use cookies as the test of a new oven: if they spread evenly, the heat is right.",
    ],
)
def test_sentences_starting_like_page_furniture_stay(line: str, mode: str) -> None:
    assert _kept([P1, P2, line, P3, P4], mode=mode) == []


@pytest.mark.parametrize("mode", ["text", "html"])
def test_live_blog_entries_between_times_are_the_article(mode: str) -> None:
    entries = [
        P1,
        "10:15",
        "Russian forces shelled Kharkiv overnight, the regional governor said on Telegram.",
        "10:42",
        "Two people were injured in the attack on a residential building, rescuers reported.",
        "11:03",
        "Air raid alerts were declared in five regions of eastern Ukraine, officials said.",
        "11:30",
        P2,
    ]
    lost = _kept(entries, mode=mode, title="Live: war in Ukraine, day 700")
    assert [p for p in lost if not p[0].isdigit()] == []


def test_an_opinion_column_in_a_kommentar_container_is_the_article() -> None:
    page = _page(TITLE, [P1, P2, P3, P4], lang="de", wrapper="kommentar")
    page = page.replace(
        "</main>",
        '<aside class="meistgelesen"><h3>Meistgelesen</h3><ul><li><a href="/x">Eins</a></li>'
        '<li><a href="/y">Zwei</a></li></ul></aside></main>',
    )
    result = clean(page, url="https://example.org/a/1")
    assert result.paragraphs == [P1, P2, P3, P4] and result.comments == []


@pytest.mark.parametrize("mode", ["text", "html"])
@pytest.mark.parametrize(
    ("first", "lang"),
    [
        ("ВКонтакте заблокировал сообщество оппозиционного политика, сообщили в компании.", "ru"),
        ("CNews a diffusé mardi un entretien exclusif avec le ministre de l'Intérieur.", "fr"),
    ],
)
def test_a_name_in_capitals_at_the_start_is_not_a_glued_drop_cap(
    first: str, lang: str, mode: str
) -> None:
    assert _kept([first, P2, P3], mode=mode, title="Entretien", lang=lang) == []


@pytest.mark.parametrize(
    "paragraphs",
    [
        [P1, "Background", P2, P3, "Outlook", P4],
        [P1, "Emmanuel Macron", P2, "Olaf Scholz", P3, P4],
    ],
)
def test_two_subheadings_that_look_like_names_do_not_open_comments(paragraphs: list[str]) -> None:
    result = clean("\n\n".join([TITLE, *paragraphs]))
    assert result.paragraphs == paragraphs and result.comments == []


@pytest.mark.parametrize(
    "line",
    [
        "Last updated: 12 May 2024",
        "Updated 2 hours ago",
        "Updated at 1:23 p.m.",
        "Mis à jour le 12 mai 2024 à 14h32",
        "Подписывайтесь на наш Telegram-канал",
        "Підписуйтесь на наш Telegram-канал",
        "Advertisement",
        "This website uses cookies to improve your experience.",
        "Sign up for our weekly newsletter and get the best stories in your inbox every Friday.",
    ],
)
def test_page_furniture_still_leaves_the_body(line: str) -> None:
    result = clean("\n\n".join([TITLE, P1, P2, line, P3, P4]))
    assert result.paragraphs == [P1, P2, P3, P4]
    assert line in [r.text for r in result.removed]


@pytest.mark.parametrize("markup", ["fb-comments", "discussion"])
def test_comments_in_a_section_named_otherwise_are_comments(markup: str) -> None:
    comments = "".join(
        f'<article class="comment"><header><span class="comment-author">{who}</span></header>'
        f"<p>{text}</p></article>"
        for who, text in (
            ("Anna K", "This law is long overdue, our river has been dirty for twenty years."),
            ("Bob", "Farmers will pay for this again while the big polluters get exemptions."),
        )
    )
    page = _page(TITLE, [P1, P2, P3]).replace(
        "</div></article>",
        f'</div><div class="{markup}"><h3>Discussion</h3>{comments}</div></article>',
    )
    result = clean(page, url="https://example.org/a/1")
    assert result.paragraphs == [P1, P2, P3]
    assert len(result.comments) == 2 and "overdue" in result.comments[0].text


@pytest.mark.parametrize(
    ("line", "author"),
    [("Autor: Hans Müller", "Hans Müller"), ("Autora: María López", "María López")],
)
def test_autor_bylines_give_the_author(line: str, author: str) -> None:
    result = clean("\n\n".join([TITLE, P1, line, P2, P3]))
    assert result.authors == [author] and line not in result.paragraphs
    sentence = "Autor des Berichts ist der Minister selbst, sagte er am Montag."
    kept = clean("\n\n".join([TITLE, P1, sentence, P2, P3]))
    assert sentence in kept.paragraphs and kept.authors == []


def test_an_interviews_closing_thank_you_is_the_article() -> None:
    interview = [P1, "Minister, thank you for your time.", P2, "Thank you."]
    assert clean("\n\n".join([TITLE, *interview])).paragraphs == interview
    result = clean("\n\n".join([TITLE, P1, P2, P3, "Thank you for reading!"]))
    assert result.paragraphs == [P1, P2, P3]
