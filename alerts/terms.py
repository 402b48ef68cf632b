"""Watch-term matching: case- and diacritic-insensitive phrases on Unicode word boundaries."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from anyascii import anyascii

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


# Cross-script matching: a term also finds its spelling in the other script ("Sarmat*" →
# "Сармата", "Сармат*" → "Sarmat"), by comparing both sides in a Latin transliteration of
# Cyrillic and Greek. Only terms of at least MIN_CROSS_SCRIPT_LETTERS letters read across:
# short words collide with unrelated ones once transliterated ("Mali" would find the
# Ukrainian verb "мали", "Tak" the everyday "так"); a short term matches in its own script.
MIN_CROSS_SCRIPT_LETTERS = 5
_TRANSLITERATED = ((0x0370, 0x03FF), (0x0400, 0x052F), (0x1F00, 0x1FFF))
_TRANSLITERATED_RE = re.compile("|".join(f"[{chr(lo)}-{chr(hi)}]" for lo, hi in _TRANSLITERATED))
# Soft and hard signs carry no sound of their own; transliterated as apostrophes they split a
# word in two ("Зеленський" → "Zelens'kiy" would never meet "Zelensk*").
_SILENT = frozenset("ьъ")


def _transliterated(ch: str) -> bool:
    o = ord(ch)
    return any(lo <= o <= hi for lo, hi in _TRANSLITERATED)


def _unspaced(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(_UNSPACED)


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if ch in _APOSTROPHES:
        return "'"
    decomposed = unicodedata.normalize("NFKD", ch)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


@lru_cache(maxsize=8192)
def _latin_char(ch: str) -> str:
    folded = _fold_char(ch)
    return "".join(
        "" if c in _SILENT else anyascii(c).lower() if _transliterated(c) else c for c in folded
    )


def normalize(text: str) -> str:
    """NFKD, strip combining marks, casefold: "Ärger" → "arger", "Сарма́та" → "сармата"."""
    return fold(text)[0]


def latinize(text: str) -> str:
    """`normalize`, with Cyrillic and Greek transliterated: "Сарма́та" → "sarmata"."""
    return fold(text, latin=True)[0]


def fold(text: str, latin: bool = False) -> tuple[str, list[int]]:
    """The normalized text and, for each of its characters, the index of the source character.

    `latin` also transliterates Cyrillic and Greek (the space cross-script terms match in).
    """
    text = text[:MAX_TEXT_CHARS]
    if text.isascii():
        return text.lower(), list(range(len(text)))
    fold_char = _latin_char if latin else _fold_char
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        f = fold_char(ch) if not ch.isascii() else ch.lower()
        out.append(f)
        index.extend([i] * len(f))
    return "".join(out), index


@dataclass
class Prepared:
    """One text folded once for every watch: its normal form, and its Latin one on demand."""

    text: str
    norm: str = field(init=False)

    def __post_init__(self) -> None:
        self.norm = normalize(self.text)

    @cached_property
    def latin(self) -> str:
        # Without a Cyrillic or Greek letter the Latin form is the normal form: skip the pass.
        if _TRANSLITERATED_RE.search(self.norm) is None:
            return self.norm
        return latinize(self.text)


def prepare(text: str | None) -> Prepared:
    return Prepared(text or "")


def _term_pattern(term: str, latin: bool = False) -> str:
    raw = term.strip()
    if not raw:
        raise ValueError("empty term")
    if len(raw) > MAX_TERM_CHARS:
        raise ValueError(f"term longer than {MAX_TERM_CHARS} characters")
    wildcard = raw.endswith("*")
    core = fold(raw.rstrip("*").strip(), latin=latin)[0]
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


def _crosses_scripts(term: str) -> bool:
    core = fold(term.strip().rstrip("*"), latin=True)[0]
    return sum(1 for c in core if c.isalpha()) >= MIN_CROSS_SCRIPT_LETTERS


def _alternation(parts: list[str]) -> re.Pattern[str] | None:
    if not parts:
        return None
    # Longest alternatives first so a phrase wins over its first word.
    parts = sorted(parts, key=len, reverse=True)
    return re.compile("|".join(f"(?:{p})" for p in parts))


@dataclass(frozen=True)
class Matcher:
    """A compiled set of terms; any term matching counts.

    `pattern` holds the terms matched in their own script (on the normal form), `latin` the
    terms long enough to match across scripts (on the Latin form).
    """

    terms: tuple[str, ...]
    pattern: re.Pattern[str] | None
    latin: re.Pattern[str] | None = None

    def count_prepared(self, p: Prepared) -> int:
        n = 0 if self.pattern is None else sum(1 for _ in self.pattern.finditer(p.norm))
        return n + (0 if self.latin is None else sum(1 for _ in self.latin.finditer(p.latin)))

    def matches_prepared(self, p: Prepared) -> bool:
        if self.pattern is not None and self.pattern.search(p.norm) is not None:
            return True
        return self.latin is not None and self.latin.search(p.latin) is not None

    def matches(self, text: str | None) -> bool:
        return bool(text) and self.matches_prepared(prepare(text))

    def count(self, text: str | None) -> int:
        return self.count_prepared(prepare(text)) if text else 0

    def spans(self, text: str | None) -> list[tuple[int, int]]:
        """Match positions in the original text (for highlighting), in order, not overlapping."""
        if not text:
            return []
        found: list[tuple[int, int]] = []
        for pattern, latin in ((self.pattern, False), (self.latin, True)):
            if pattern is None:
                continue
            norm, index = fold(text, latin=latin)
            for m in pattern.finditer(norm):
                if m.end() <= m.start():
                    continue
                # A match ending inside a decomposed or transliterated character still covers
                # all of it.
                found.append((index[m.start()], index[m.end() - 1] + 1))
        out: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if out and start < out[-1][1]:
                out[-1] = (out[-1][0], max(end, out[-1][1]))
            else:
                out.append((start, end))
        return out


def compile_terms(terms: list[str] | tuple[str, ...]) -> Matcher:
    """Compile watch terms into one matcher; raises ValueError naming a bad term."""
    if len(terms) > MAX_TERMS:
        raise ValueError(f"at most {MAX_TERMS} terms per watch")
    native: list[str] = []
    latin: list[str] = []
    for term in terms:
        try:
            if _crosses_scripts(term):
                latin.append(_term_pattern(term, latin=True))
            else:
                native.append(_term_pattern(term))
        except ValueError as exc:
            raise ValueError(f"term {term!r}: {exc}") from None
    return Matcher(tuple(terms), _alternation(native), _alternation(latin))
