"""Watch-term matching: case- and diacritic-insensitive phrases on Unicode word boundaries."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

MAX_TERMS = 200
MAX_TERM_CHARS = 200
MAX_TEXT_CHARS = 2_000_000  # bounded work per article, whatever a page holds

# Characters allowed between the words of a phrase: spaces and dashes ("Nord-Stream").
_GAP = r"[\s\-\u2010-\u2015\u00ad]+"


# Typographic apostrophes and their look-alikes fold to "'": CMSs print "O’Brien", people
# type "O'Brien".
_APOSTROPHES = frozenset("\u2019\u2018\u02bc\u0060\u00b4\u2032\uff07")

# Scripts written without spaces between words: a term in them has no word boundary to wait
# for ("北京" inside "今天北京下雨"). Hangul attaches particles to nouns ("서울에서").
_UNSPACED = (
    "CJK UNIFIED",
    "CJK COMPATIBILITY IDEOGRAPH",
    "HIRAGANA",
    "KATAKANA",
    "THAI ",
    "LAO ",
    "KHMER ",
    "MYANMAR ",
    "HANGUL",
)


def _unspaced(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(_UNSPACED)


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if ch in _APOSTROPHES:
        return "'"
    decomposed = unicodedata.normalize("NFKD", ch)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


def normalize(text: str) -> str:
    """NFKD, strip combining marks, casefold: "Ärger" → "arger", "Сарма́та" → "сармата"."""
    return fold(text)[0]


def fold(text: str) -> tuple[str, list[int]]:
    """The normalized text and, for each of its characters, the index of the source character."""
    text = text[:MAX_TEXT_CHARS]
    if text.isascii():
        return text.lower(), list(range(len(text)))
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        f = _fold_char(ch) if not ch.isascii() else ch.lower()
        out.append(f)
        index.extend([i] * len(f))
    return "".join(out), index


def _term_pattern(term: str) -> str:
    raw = term.strip()
    if not raw:
        raise ValueError("empty term")
    if len(raw) > MAX_TERM_CHARS:
        raise ValueError(f"term longer than {MAX_TERM_CHARS} characters")
    wildcard = raw.endswith("*")
    core = normalize(raw.rstrip("*").strip())
    words = [w for w in re.split(r"[\s\-\u2010-\u2015]+", core) if w]
    if not words or "*" in core:
        raise ValueError("only a trailing * is allowed")
    body = _GAP.join(re.escape(w) for w in words)
    # \w is Unicode-aware on str patterns, so Cyrillic and Greek words get real boundaries;
    # with a wildcard the last word may continue (inflections: "Сармат*" → "Сармата").
    tail = r"\w*" if wildcard else ""
    before = "" if _unspaced(words[0][0]) else r"(?<!\w)"
    after = "" if _unspaced(words[-1][-1]) and not wildcard else r"(?!\w)"
    return rf"{before}{body}{tail}{after}"


@dataclass(frozen=True)
class Matcher:
    """A compiled set of terms; any term matching counts."""

    terms: tuple[str, ...]
    pattern: re.Pattern[str] | None

    def count_normalized(self, norm: str) -> int:
        return 0 if self.pattern is None else sum(1 for _ in self.pattern.finditer(norm))

    def matches_normalized(self, norm: str) -> bool:
        return self.pattern is not None and self.pattern.search(norm) is not None

    def matches(self, text: str | None) -> bool:
        return bool(text) and self.matches_normalized(normalize(text or ""))

    def count(self, text: str | None) -> int:
        return self.count_normalized(normalize(text)) if text else 0

    def spans(self, text: str | None) -> list[tuple[int, int]]:
        """Match positions in the original text (for highlighting)."""
        if not text or self.pattern is None:
            return []
        norm, index = fold(text)
        out = []
        for m in self.pattern.finditer(norm):
            if m.end() <= m.start():
                continue
            start = index[m.start()]
            end = index[m.end() - 1] + 1
            # A match ending inside a decomposed character still covers all of it.
            out.append((start, end))
        return out


def compile_terms(terms: list[str] | tuple[str, ...]) -> Matcher:
    """Compile watch terms into one matcher; raises ValueError naming a bad term."""
    if len(terms) > MAX_TERMS:
        raise ValueError(f"at most {MAX_TERMS} terms per watch")
    parts = []
    for term in terms:
        try:
            parts.append(_term_pattern(term))
        except ValueError as exc:
            raise ValueError(f"term {term!r}: {exc}") from None
    if not parts:
        return Matcher((), None)
    # Longest alternatives first so a phrase wins over its first word.
    parts.sort(key=len, reverse=True)
    return Matcher(tuple(terms), re.compile("|".join(f"(?:{p})" for p in parts)))
