"""Article language as a lowercase ISO 639-1 code: detection, and normalizing declared tags."""

from __future__ import annotations

import re

import py3langid
from babel.core import get_global

from sources.iso_codes import ISO_639_1

SAMPLE_CHARS = 2000
# Below about this many letters py3langid confuses neighbours (es/gl, pt/an, ru/sr) too often;
# 20 letters is roughly the five words the detector used to require of spaced scripts.
MIN_LETTERS = 20
# A Han, kana or Hangul character carries about a syllable or a morpheme, so it counts as this
# many letters: seven Chinese or Japanese characters are enough, as measured on headlines.
DENSE_WEIGHT = 3

_DENSE_RE = re.compile("[\u3041-\u3096\u30a1-\u30fa\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]")
# Hiragana and katakana proper: the middle dot and the long-vowel mark also occur in Chinese.
_KANA_RE = re.compile("[\u3041-\u3096\u30a1-\u30fa]")
_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
# Chinese uses kana only in quoted Japanese names (and the odd trendy の); Japanese prose is
# rarely under a fifth kana. A kanji-heavy Japanese headline (岸田首相、来月訪米へ) is above this
# share, a Chinese article quoting one Japanese title is below it.
MIN_KANA_SHARE = 0.05

# Codes with no ISO 639-1 code of their own that belong to one that has one: the varieties
# py3langid reports (it calls traditional Chinese "yue" and short simplified Chinese "wuu",
# short Arabic text "ary"/"arz") and tags sites use. Members of a macrolanguage take its code;
# CLDR (through babel) leaves these out or, for Tagalog, maps to Filipino, which has none.
_MEMBER_OF = {
    "yue": "zh",  # Cantonese
    "wuu": "zh",  # Wu
    "cmn": "zh",  # Mandarin
    "arz": "ar",  # Egyptian Arabic
    "ary": "ar",  # Moroccan Arabic
    "arb": "ar",  # Standard Arabic
    "uzs": "uz",  # Southern Uzbek
    "sdh": "ku",  # Southern Kurdish
    "ltg": "lv",  # Latgalian
    "gug": "gn",  # Paraguayan Guaraní
    "fuv": "ff",  # Nigerian Fulfulde
    "kik": "ki",  # Kikuyu
    "tgl": "tl",  # Tagalog
    "fil": "tl",  # Filipino, standardised Tagalog
}

# Valid ISO 639-1 codes that are no language news comes in: py3langid answers "vo" (Volapük)
# for mixed junk (name lists, umlaut-heavy fragments), so such an answer means "unknown".
_NOT_NEWS = frozenset({"vo"})


def _alias_table() -> dict[str, str]:
    """Other codes for the ISO 639-1 languages: ISO 639-2/T and /B ("deu", "ger"), ISO 639-3
    members ("zsm"), deprecated two-letter codes ("iw", "in"), from CLDR through babel."""
    table: dict[str, str] = {}
    for alias, target in get_global("language_aliases").items():
        primary = target.split("_")[0]
        # a valid 639-1 code is kept as written: CLDR turns "tl" into "fil" and "tw" into "ak"
        if alias not in ISO_639_1 and primary in ISO_639_1:
            table[alias] = primary
    table.update(_MEMBER_OF)
    return table


_ALIASES = _alias_table()
_PRIMARY_RE = re.compile(r"[a-z]{2,3}")


def normalize_language(tag: str | None) -> str | None:
    """The ISO 639-1 code of a language tag ("en-US", "pt_BR", "zh-Hant", "EN", "eng"), or None.

    Takes the first tag of a list ("de, en" as in Content-Language) and its primary subtag;
    anything that names no ISO 639-1 language ("x-default", "und", "jp") is None.
    """
    if not tag:
        return None
    primary = re.split(r"[-_.;\s]", tag.split(",")[0].strip(), maxsplit=1)[0].lower()
    if not _PRIMARY_RE.fullmatch(primary):
        return None
    if primary in ISO_639_1:
        return primary
    return _ALIASES.get(primary)


def _enough_text(sample: str) -> bool:
    letters = sum(map(str.isalpha, sample))
    if letters >= MIN_LETTERS:
        return True
    # dense characters are letters already, so each adds the rest of its weight
    return letters + (DENSE_WEIGHT - 1) * len(_DENSE_RE.findall(sample)) >= MIN_LETTERS


def _looks_japanese(sample: str) -> bool:
    kana = len(_KANA_RE.findall(sample))
    return kana > 0 and kana >= MIN_KANA_SHARE * (kana + len(_HAN_RE.findall(sample)))


def detect_language(text: str, fallback: str | None = None) -> str | None:
    """ISO 639-1 code of the text, or of the fallback tag when the text is too short to tell
    or py3langid's answer names no ISO 639-1 language; None when neither gives one."""
    sample = text[:SAMPLE_CHARS]
    if not _enough_text(sample):
        return normalize_language(fallback)
    label, _ = py3langid.classify(sample)
    lang = normalize_language(str(label)) if label not in _NOT_NEWS else None
    if lang == "zh" and _looks_japanese(sample):
        # py3langid calls kanji-heavy Japanese Chinese ("wuu"); kana settles it
        lang = "ja"
    return lang or normalize_language(fallback)
