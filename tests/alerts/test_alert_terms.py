"""Term matching: phrases, case and diacritics, word boundaries, prefix wildcards, Cyrillic."""

from __future__ import annotations

import pytest

from alerts.terms import compile_terms, normalize


def test_normalize_strips_marks_and_case() -> None:
    assert normalize("Ärger Café ß") == "arger cafe ss"
    assert normalize("Сарма́та Ёлка") == "сармата елка"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The SARMAT missile", True),
        ("RS-28 Sármat launched", True),
        ("Sarmatian art", False),  # no wildcard: word boundary holds
        ("the sarmat's range", True),
        ("xsarmat", False),
    ],
)
def test_plain_term_respects_word_boundaries(text: str, expected: bool) -> None:
    assert compile_terms(["Sarmat"]).matches(text) is expected


def test_prefix_wildcard_latin_and_cyrillic_inflections() -> None:
    m = compile_terms(["Sarmat*", "Сармат*"])
    assert m.matches("Sarmatian heritage")
    assert m.matches("испытание «Сармата» прошло")  # genitive
    assert m.matches("о Сармате")  # prepositional
    assert m.matches("САРМАТОМ")  # instrumental, upper case
    assert not m.matches("Несарматский")  # the wildcard extends the end, never the start
    assert m.count("Сармат, Сармата и Sarmat") == 3


def test_cyrillic_term_without_wildcard_is_exact_word() -> None:
    m = compile_terms(["Калининград"])
    assert m.matches("В Калининград прибыли")
    assert not m.matches("в Калининграде")
    assert compile_terms(["Калининград*"]).matches("в Калининграде")


def test_phrase_allows_spaces_and_dashes_only() -> None:
    m = compile_terms(["Nord Stream"])
    assert m.matches("the nord-stream pipeline")
    assert m.matches("NORD   STREAM 2")
    assert not m.matches("NordStream")
    assert not m.matches("nord. stream")


def test_spans_map_back_to_original_text() -> None:
    text = "Über die Sármat-Rakete: Sarmat!"
    m = compile_terms(["sarmat"])
    spans = m.spans(text)
    assert [text[a:b] for a, b in spans] == ["Sármat", "Sarmat"]


def test_bad_terms_are_rejected() -> None:
    with pytest.raises(ValueError, match="trailing"):
        compile_terms(["Sar*mat"])
    with pytest.raises(ValueError, match="empty"):
        compile_terms(["  "])
    assert compile_terms([]).count("anything") == 0


def test_regex_metacharacters_are_literal() -> None:
    assert compile_terms(["(lang)"]).count("x (lang) y, x(lang)y") == 1
    assert compile_terms(["a.b"]).matches("a.b") and not compile_terms(["a.b"]).matches("axb")


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("O'Brien", "Minister O’Brien said on Monday"),  # typed ASCII, printed typographic
        ("O’Brien", "Minister O'Brien said on Monday"),
        ("Côte d'Ivoire", "in Côte d’Ivoire"),
        ("北京", "今天北京下雨"),  # Chinese has no spaces between words
        ("東京", "東京都の発表"),
        ("ソウル", "ソウル市"),
        ("서울", "서울에서 열린 회의"),  # a Korean particle attached to the noun
    ],
)
def test_apostrophes_fold_and_unspaced_scripts_match_inside_text(term: str, text: str) -> None:
    matcher = compile_terms([term])
    assert matcher.count(text) == 1
    ((start, end),) = matcher.spans(text)
    assert normalize(text[start:end]) == normalize(term)


def test_latin_words_keep_their_boundaries() -> None:
    assert compile_terms(["Kaliningrad"]).count("Kaliningrader Zeitung") == 0
    assert compile_terms(["Sarmat"]).count("Sarmatian tribes") == 0


def test_long_latin_term_finds_its_cyrillic_spelling_and_back() -> None:
    # The issue's own example: `Sarmat*` matches the Russian inflected form.
    m = compile_terms(["Sarmat*"])
    text = "Испытание «Сармата» прошло; RS-28 Sarmat"
    assert m.count(text) == 2
    assert [text[a:b] for a, b in m.spans(text)] == ["Сармата", "Sarmat"]
    assert compile_terms(["Калининград"]).matches("flights to Kaliningrad resumed")
    assert compile_terms(["Kaliningrad"]).matches("В Калининград прибыли")
    assert not compile_terms(["Kaliningrad"]).matches("в Калининграде")  # no wildcard
    assert compile_terms(["Athina*"]).matches("στην Αθήνα")  # Greek, accent folded


def test_soft_sign_does_not_split_a_transliterated_word() -> None:
    m = compile_terms(["Zelensk*"])
    assert m.matches("Президент Зеленський сказав")
    assert m.matches("слова Зеленского")
    text = "Президент Зеленський сказав"
    assert [text[a:b] for a, b in m.spans(text)] == ["Зеленський"]


@pytest.mark.parametrize(("term", "text"), [("Mali", "вони мали"), ("NATO", "саммит НАТО")])
def test_short_terms_match_only_in_their_own_script(term: str, text: str) -> None:
    assert not compile_terms([term]).matches(text)
    assert compile_terms([term, "НАТО", "мали"]).matches(text)


def test_cross_script_and_native_matches_share_one_highlight_list() -> None:
    m = compile_terms(["NATO", "Sarmat*"])
    text = "NATO: Сармат и NATO"
    assert m.spans(text) == [(0, 4), (6, 12), (15, 19)]
