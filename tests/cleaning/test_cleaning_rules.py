"""Behaviour of the general rules: comments from markup, languages, drop caps, metadata, overrides."""

from __future__ import annotations

import pytest

from cleaning import OutletRules, clean
from cleaning.text import parse_date, split_authors

BODY = (
    "The regional parliament debated the new water law for most of the afternoon, with members "
    "from every party raising concerns about the cost for farmers and small towns.\n\n"
    "Supporters said the law would protect rivers from pollution and secure drinking water for "
    "the next generation, while critics wanted a longer transition period.\n\n"
    "A final vote is expected next month after the committee has reviewed the amendments that "
    "were proposed during the debate by the opposition parties.\n\n"
)


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("Read also", "teaser_marker"),
        ("Lesen Sie auch", "teaser_marker"),
        ("Читайте также", "teaser_marker"),
        ("Читайте також", "teaser_marker"),
        ("À lire aussi", "teaser_marker"),
        ("Lee también", "teaser_marker"),
        ("Les commentaires sont fermés.", "comments_closed"),
        ("Los comentarios están cerrados.", "comments_closed"),
        ("Комментарии закрыты.", "comments_closed"),
        ("Anmelden", "login"),
        ("Увійти", "login"),
        ("Abonnez-vous à notre lettre d'information", "newsletter"),
        ("Подпишитесь на нашу рассылку", "newsletter"),
        ("Todos los derechos reservados.", "rights_notice"),
        ("Усі права захищені.", "rights_notice"),
        ("Teilen", "share"),
        ("Поделиться", "share"),
        ("Originally published by The Example Times", "syndication_notice"),
        ("(Reporting by Ann Lee; Editing by Bo Chan)", "reporting_credit"),
    ],
)
def test_language_patterns_remove_lines_with_their_rule(line: str, rule: str):
    got = clean(BODY + line + "\n\n" + BODY.replace("regional", "national"))
    assert line not in got.body
    assert {"rule": rule, "text": line} in [{"rule": r.rule, "text": r.text} for r in got.removed]


def test_teaser_marker_takes_its_headline_but_not_the_following_subheading():
    text = (
        "Title of the piece\n\n" + BODY + "Read also\n\nAnother story about rivers and lakes\n\n"
        "What comes next\n\n" + BODY.replace("regional", "federal")
    )
    got = clean(text)
    rules = {r.text: r.rule for r in got.removed}
    assert rules["Another story about rivers and lakes"] == "teaser"
    assert "What comes next" in got.paragraphs


def test_comment_section_with_authors_reply_markers_and_lost_author_lines():
    text = (
        "Water law debated\n\n"
        + BODY
        + "Alice Cooper\n\nI think the law is long overdue.\n\nReply\n\n"
        "Bob Marley\n\nFarmers will pay for this, as always.\n\n\n"
        "A comment whose author line was lost.\n\nIt has two paragraphs.\n\n"
        "Иван Петров\n\nЗакон нужен, но переходный период слишком короткий.\n"
    )
    got = clean(text)
    assert [(c.author, c.text) for c in got.comments] == [
        ("Alice Cooper", "I think the law is long overdue."),
        ("Bob Marley", "Farmers will pay for this, as always."),
        (None, "A comment whose author line was lost.\nIt has two paragraphs."),
        ("Иван Петров", "Закон нужен, но переходный период слишком короткий."),
    ]
    assert "overdue" not in got.body and "Farmers will pay" not in got.body
    assert {"rule": "reply_marker", "text": "Reply"} in [r.__dict__ for r in got.removed]
    assert got.language == "en"


def test_subheadings_in_title_case_do_not_start_a_comment_section():
    text = "Water law debated\n\n" + BODY + "Next Steps\n\n" + BODY.replace("regional", "city")
    got = clean(text)
    assert got.comments == []
    assert "Next Steps" in got.paragraphs


def test_duplicated_drop_cap_is_repaired_and_recorded():
    got = clean("WWarnings are circulating again. " + BODY)
    assert got.body.startswith("Warnings are circulating")
    assert ("drop_cap", "W") in [(r.rule, r.text) for r in got.removed]
    spaced = clean("W Warnings are circulating again. " + BODY)
    assert spaced.body.startswith("Warnings are circulating")


def test_glued_drop_cap_of_another_letter_is_repaired_only_for_an_outlet_that_opts_in():
    text = "IWarnings are circulating again. " + BODY
    fixed = clean(text, outlet=OutletRules(name="Welt", repair_glued_drop_cap=True))
    assert fixed.body.startswith("Warnings are circulating")
    assert ("drop_cap", "I") in [(r.rule, r.text) for r in fixed.removed]
    # the same shape is a name elsewhere ("ВКонтакте", "CNews"): kept by default, as the seed's
    # gold keeps "IWarnings"
    assert clean(text).body.startswith("IWarnings")
    # acronyms and ordinary words are not drop caps
    assert clean("ICBMs were moved again. " + BODY).body.startswith("ICBMs")
    assert clean("NATO officials said again. " + BODY).body.startswith("NATO")


def test_outlet_patterns_add_to_general_rules():
    text = BODY + "Promo: buy the weekend edition\n\nComments are closed.\n"
    general = clean(text)
    assert "Promo: buy the weekend edition" in general.body
    outlet = OutletRules(name="Example", boilerplate_patterns=(r"^promo:",))
    got = clean(text, outlet=outlet)
    rules = [(r.rule, r.text) for r in got.removed]
    assert ("outlet_pattern", "Promo: buy the weekend edition") in rules
    assert ("comments_closed", "Comments are closed.") in rules  # general rule still applies
    assert got.outlet == "Example"


PAGE = """<!DOCTYPE html><html lang="en"><head><title>Water law debated | Example News</title>
<meta property="og:url" content="https://news.example/water-law">
<meta property="article:published_time" content="2024-07-02T10:00:00Z"></head><body>
<article><h1>Water law debated</h1>{paras}</article>
<div class="reader-feedback"><div class="entry"><span class="who">Carla Diaz</span>
<p>Long overdue, well done.</p></div></div>
<div id="disqus_thread"><div class="post"><span class="author">dq_user</span>
<div class="post-message"><p>Disqus style comment text here.</p></div></div></div>
</body></html>"""


def _page() -> str:
    paras = "".join(f"<p>{p}</p>" for p in BODY.split("\n\n") if p)
    return PAGE.format(paras=paras)


def test_html_metadata_canonical_published_language():
    got = clean(_page())
    assert got.title == "Water law debated"
    assert got.canonical_url == "https://news.example/water-law"
    assert got.published == "2024-07-02"
    assert got.language == "en"
    assert "Disqus style comment" not in got.body
    assert any(c.text == "Disqus style comment text here." for c in got.comments)


def test_outlet_comment_xpaths_add_containers():
    plain = clean(_page())
    assert not any("Long overdue" in c.text for c in plain.comments)
    outlet = OutletRules(comment_xpaths=("//div[@class='reader-feedback']",))
    got = clean(_page(), outlet=outlet)
    assert any("Long overdue, well done." in c.text for c in got.comments)
    assert "Long overdue" not in got.body
    # the general Disqus rule still applies next to the outlet's selector
    assert any(c.text == "Disqus style comment text here." for c in got.comments)


def test_gzip_bytes_and_cp1251_text_are_read():
    import gzip

    got = clean(gzip.compress(_page().encode("utf-8")))
    assert got.title == "Water law debated"
    ru = (
        "Заголовок новости\n\n" + "Это длинный абзац русского текста о событиях недели. " * 5
    ).encode("cp1251")
    assert clean(ru).language == "ru"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Published 3 March 2024", "2024-03-03"),
        ("Veröffentlicht am 3. März 2024", "2024-03-03"),
        ("Опубликовано 3 марта 2024", "2024-03-03"),
        ("Опубліковано 3 березня 2024", "2024-03-03"),
        ("Publié le 3 mars 2024", "2024-03-03"),
        ("Publicado el 3 de marzo de 2024", "2024-03-03"),
        ("March 3, 2024", "2024-03-03"),
        ("03.03.2024", "2024-03-03"),
        ("no date here", None),
    ],
)
def test_stated_dates(text: str, iso: str | None):
    assert parse_date(text) == iso


def test_author_lists_are_clean():
    assert split_authors("By Jane Doe and John Roe") == ["Jane Doe", "John Roe"]
    assert split_authors("Von Klara Becker, Korrespondentin") == ["Klara Becker"]
    assert split_authors("Анна Петрова и Иван Сидоров") == ["Анна Петрова", "Иван Сидоров"]


def test_gzip_input_is_unpacked_with_a_bound():
    import gzip

    from cleaning import MAX_GUNZIP_BYTES, gunzip_bounded

    bomb = gzip.compress(b"a" * (MAX_GUNZIP_BYTES * 4))
    assert len(gunzip_bounded(bomb)) == MAX_GUNZIP_BYTES
    small = gzip.compress("Ein Artikel über Sarmat.".encode())
    assert gunzip_bounded(small).decode() == "Ein Artikel über Sarmat."


def test_gzip_input_is_read_whole_or_refused():
    import gzip

    import pytest

    from cleaning import gunzip_bounded

    # Both members of a concatenated file, and NUL padding after the last, as gzip reads them.
    two = gzip.compress(b"first member ") + gzip.compress(b"second member") + b"\0" * 8
    assert gunzip_bounded(two) == b"first member second member"
    # A cut-off file used to come back as the first half of the text, with no error.
    page = gzip.compress(bytes(range(256)) * 400)
    for cut in (len(page) // 2, len(page) - 4):
        with pytest.raises(EOFError):
            gunzip_bounded(page[:cut])


def test_page_without_title_element_is_cleaned():
    got = clean(
        "<html><body><article><p>"
        + "Troops moved to the border overnight. " * 30
        + "</p></article></body></html>"
    )
    assert "Troops moved to the border" in got.body


@pytest.mark.parametrize(
    ("notice", "sources"),
    [
        ("The rights to this material belong to Helsingin Viikko", ["Helsingin Viikko"]),
        ("Права на данный материал принадлежат Рейнскому курьеру", ["Рейнскому курьеру"]),
        ("This article first appeared in The Evening Courier.", ["The Evening Courier"]),
        # the aggregator's own disclaimer marks a copy but does not name its source
        ("Digest Weekly materials contain ratings exclusively from foreign media", []),
        # a rights notice that names the page's own outlet names no other source
        ("The rights to this material belong to Digest Weekly", []),
        # a year or a date is not an outlet
        ("This essay was originally published in 1923.", []),
        ("First published on 12 May 2024.", []),
    ],
)
def test_notices_name_the_original_publisher(notice: str, sources: list[str]) -> None:
    html = (
        "<html><head><title>Water law debated</title>"
        '<meta property="og:site_name" content="Digest Weekly"></head><body><article>'
        + "".join(f"<p>{p}</p>" for p in BODY.split("\n\n") if p)
        + f"</article><div class='rights'><p>{notice}</p></div></body></html>"
    )
    got = clean(html, url="https://digest.example/a", outlet=OutletRules(name="Digest Weekly"))
    assert got.syndicated_from == sources
    assert "Digest Weekly" not in got.syndicated_from


@pytest.mark.parametrize(
    "notice",
    [
        "Originally published by The Example Times",
        "Original publication: The Example Times",
        "First published in The Example Times",
        "Republished with permission from The Example Times",
        "This article first appeared in The Example Times.",
        "InoSMI materials contain ratings exclusively from foreign media",
        "Erstveröffentlichung: Beispielzeitung",
        "Zuerst erschienen bei der Beispielzeitung",
        "Оригинал публикации: Пример",
        "Впервые опубликовано в газете Пример",
        "Источник публикации: Пример",
        "Оригінал публікації: Приклад",
        "Вперше опубліковано у виданні Приклад",
        "Publié initialement par Le Exemple",
        "Publication originale: Le Exemple",
        "Publicado originalmente en El Ejemplo",
        "Publicación original: El Ejemplo",
        "The rights to this article belong to The Example Times",
        "Die Rechte an diesem Artikel liegen bei der Beispielzeitung",
        "Права на этот материал принадлежат Пример",
        "Права на цей матеріал належать Приклад",
    ],
)
def test_the_page_level_hint_sees_every_provenance_notice(notice: str) -> None:
    # The DOM is searched for notices only on pages where the hint matches: a notice pattern
    # the hint missed would never be read from a page that trafilatura dropped it from.
    from cleaning import rules as R

    assert any(rx.search(notice) for rx in R.SYNDICATION_RES + R.RIGHTS_OWNER_RES)
    assert R.PROVENANCE_HINT_RE.search(notice.lower())
