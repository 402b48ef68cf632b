"""Text-level cleaning: split extracted text into paragraphs and classify each as body, comment,
boilerplate or metadata, with the rule that decided it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from cleaning import rules as R
from cleaning.rules import OutletRules, compile_outlet_patterns
from cleaning.types import CleanComment, RemovedText

BODY = "body"
TITLE = "title"
BOILER = "boilerplate"
META = "metadata"
COMMENT = "comment"
REPOST = "repost"

# rules after which the article is over (what follows is comments or page furniture)
END_RULES = frozenset(
    {"comments_closed", "comment_prompt", "rights_notice", "syndication_notice", "comment_header"}
)
_WS_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_WORD_RE = re.compile(r"\w+", re.UNICODE)
# at least two letters in a row: what a comment, a name or a heading has and a counter has not
WORDY_RE = re.compile(r"[^\W\d_]{2}")
_CREDIT_LINE_RE = re.compile(
    r"^\(?(?:(?:additional )?reporting|editing|writing|compiled|research) by\b.{2,300}\)?\.?$|"
    r"^[\w .,'’-]{3,200} contributed to this (?:report|story|article)\.?$|"
    r"^(?:mitarbeit|redaktion|bearbeitung):\s.{2,80}$",
    re.IGNORECASE,
)
_CONTACT_RE = re.compile(
    r"^(?:[\w.+-]+@[\w-]+\.[\w.]+|(?:https?://)?(?:www\.)?twitter\.com/\w+|@\w{2,30})$",
    re.IGNORECASE,
)
_TAG_WORDS = (
    r"tags?|schlagwörter|schlagworte|теги|тэги|мітки|теґи|étiquettes|mots-clés|etiquetas|"
    r"filed under|posted in|categories|kategorien|рубрики"
)
# "Tags: a, b", "Tags" alone; not "Tagelang wurde verhandelt: ..." or "Posted in Kabul, he said: ..."
_TAGS_RE = re.compile(rf"^(?:{_TAG_WORDS})(?:\s*:.{{0,200}}|\s*)$", re.IGNORECASE)
# WordPress's "Posted in Politics, World" / "Filed under World News" without a colon
_TAGS_BARE_RE = re.compile(r"^(?:filed under|posted in)\s+\S", re.IGNORECASE)
# name particles and agencies written in lower case inside a byline ("Ludwig van Beethoven",
# "Von dpa"); any other lower-case word makes "By contrast, ..." a sentence, not a byline
_NAME_PARTICLES = frozenset(
    [
        "von",
        "van",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "du",
        "la",
        "le",
        "dos",
        "das",
        "bin",
        "ibn",
        "al",
        "el",
        "y",
        "zu",
        "ter",
        "ten",
        "the",
        "of",
        "dpa",
        "afp",
        "apa",
        "epd",
        "kna",
        "sid",
        "ots",
        "ap",
    ]
)
_LEAD_SOURCE_RE = re.compile(
    rf"^(?P<src>[{R.UPPER}][\w.’'-]+(?:\s[{R.UPPER}][\w.’'-]+){{0,3}}):\s+\S"
)
_DUP_DROP_CAP_RE = re.compile(rf"^(?P<cap>[{R.UPPER}])\s?(?=(?P=cap)[{R.LOWER}])")
_GLUED_DROP_CAP_RE = re.compile(rf"^(?P<cap>[{R.UPPER}])(?=[{R.UPPER}][{R.LOWER}]{{2,}})")


@dataclass
class Block:
    text: str
    gap: int  # blank lines before this paragraph
    pos: int  # character offset, to tell "late in the page" from "early"
    label: str = BODY
    rule: str = ""

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class TextResult:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    outlet: str | None = None
    published: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    comments: list[CleanComment] = field(default_factory=list)
    removed: list[RemovedText] = field(default_factory=list)
    syndicated_from: list[str] = field(default_factory=list)
    image_credits: list[str] = field(default_factory=list)


def normalize(text: str) -> str:
    """Comparable form of a line: casefolded words only."""
    return " ".join(_WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold()))


def split_blocks(text: str) -> list[Block]:
    """One block per non-empty line; remember how many blank lines preceded it."""
    blocks: list[Block] = []
    gap = 0
    pos = 0
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _WS_RE.sub(" ", raw).strip()
        if line:
            blocks.append(Block(line, gap, pos))
            gap = 0
        else:
            gap += 1
        pos += len(raw) + 1
    return blocks


def headline_like(text: str, max_words: int = 20) -> bool:
    words = text.split()
    return 0 < len(words) <= max_words and text[-1] not in R.TERMINAL_PUNCT


def is_timestamp(text: str) -> bool:
    if len(text) > 80 or not any(c.isdigit() for c in text):
        return False
    return not R.TIMESTAMP_WORDS_RE.sub(" ", text).strip()


def name_of(text: str) -> str | None:
    """The commenter/author name if the line is only a name ("Chris Gr", "Иван Петров (Ivan)")."""
    m = R.NAME_SAYS_RE.match(text)
    if m:
        return m.group("name").strip()
    m = R.NAME_LINE_RE.match(text)
    if not m:
        return None
    name = m.group("name")
    tokens = name.split()
    if any(not t.isupper() and t.casefold().strip(".") in R.NAME_STOPWORDS for t in tokens):
        return None
    if len(tokens) == 1 and len(name) < 3:
        return None
    return name


def is_comment_text(text: str) -> bool:
    """False for what only looks like a comment: counters, dates, lone symbols or UI words."""
    t = text.strip()
    if not WORDY_RE.search(t) or R.COUNTER_RE.match(t) or is_timestamp(t):
        return False
    return not (R.REPLY_RE.match(t) or R.UI_CONTROL_RE.match(t) or R.LOGIN_RE.match(t))


def parse_date(text: str) -> str | None:
    """First stated calendar date in a line, as ISO 8601 (YYYY-MM-DD)."""
    for rx in (R.DATE_ISO_RE, R.DATE_DAY_MONTH_RE, R.DATE_MONTH_DAY_RE, R.DATE_DMY_RE):
        m = rx.search(text)
        if not m:
            continue
        gd = m.groupdict()
        month = R.MONTHS.get(gd["mon"].casefold().rstrip(".")) if gd.get("mon") else int(gd["m"])
        year, day = int(gd["y"]), int(gd["d"])
        if month and 1 <= month <= 12 and 1 <= day <= 31:
            return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def clean_author(name: str) -> str | None:
    """Strip 'By', roles, dates and outlet tails; None if nothing name-like remains."""
    name = re.sub(rf"^{R.BYLINE_WORDS}\s*:?\s+", "", name.strip(), flags=re.IGNORECASE)
    name = re.sub(r"\s*\([^)]*\)\s*", " ", name)
    name = re.split(r"\s*[|•·]\s*|\s+[–—-]\s+", name)[0]
    if "," in name:
        head, tail = name.split(",", 1)
        if R.ROLE_WORDS.search(tail) or parse_date(tail) or len(tail.split()) <= 3:
            name = head
    if parse_date(name):
        return None
    name = R.ROLE_WORDS.sub("", name)
    name = re.sub(r"\s+", " ", name).strip(" ,.;:-–—")
    if not name or len(name) > 60 or any(ch.isdigit() for ch in name) or "@" in name:
        return None
    return name


def split_authors(names: str) -> list[str]:
    parts = re.split(
        r"\s*(?:,|;|&|\band\b|\bund\b|\bи\b|\bта\b|\bet\b|\by\b)\s*", names, flags=re.I
    )
    out = []
    for p in parts:
        a = clean_author(p)
        if a and a not in out:
            out.append(a)
    return out


def _rule_for(block: Block, outlet_res: tuple[re.Pattern[str], ...]) -> tuple[str, str] | None:
    """The line-level rule that removes this paragraph, if any: (label, rule).

    The general rules come first: a line they remove leaves the body either way, and as a
    byline, a rights notice or a comment marker it still tells where the reposter's text, the
    body's end or the comments are. An outlet's own pattern only adds lines none of them knows.
    """
    general = _general_rule(block)
    if general is not None:
        return general
    for rx in outlet_res:
        if rx.search(block.text):
            return BOILER, "outlet_pattern"
    return None


def _general_rule(block: Block) -> tuple[str, str] | None:
    t = block.text
    n = block.words
    low = t.lower()  # the patterns searched on it are compiled for lowercase text
    if n <= 14 and R.COMMENTS_CLOSED_RE.search(low):
        return BOILER, "comments_closed"
    if n <= 25 and R.COMMENT_PROMPT_RE.match(t) and _prompt_alone(t):
        return BOILER, "comment_prompt"
    if n <= 40:
        for rx in R.SYNDICATION_LOWER_RES:
            found = rx.search(low)
            # a notice opens its line ("This article first appeared in X"); inside a sentence
            # ("The study, first published in The Lancet, found ...") it is news copy
            if found and "," not in low[: found.start()] and len(low[: found.start()].split()) <= 6:
                return META, "syndication_notice"
        rights = R.RIGHTS_RE.search(low)
        if rights and not _rights_notice(t, low, rights):
            rights = None
        # a bare "© Agency" is a photo credit; "© 2024 X. All rights reserved" is a rights notice
        if rights and (
            rights.group() != "©" or n > 12 or parse_date(t) or re.search(r"\b(?:19|20)\d\d\b", t)
        ):
            return BOILER, "rights_notice"
    if n <= 30 and R.PHOTO_CREDIT_RE.match(t):
        return META, "image_credit"
    # "By John Roe, Reuters" names an agency too, but is a byline, not a photo credit
    if n <= 15 and R.PHOTO_AGENCY_RE.search(t) and t[-1] not in ".!?" and not _is_byline(t, n):
        return META, "image_credit"
    if n <= 8 and R.LOGIN_RE.match(t):
        return BOILER, "login"
    # a newsletter mentioned in a sentence is news ("announced it in its weekly newsletter");
    # longer lines are boilerplate only as a call to sign up
    if n <= 25 and R.NEWSLETTER_RE.search(low) and (n <= 8 or R.NEWSLETTER_CTA_RE.search(low)):
        return BOILER, "newsletter"
    if n <= 30 and R.DONATION_HINT_RE.search(low) and R.DONATION_RE.search(low):
        return BOILER, "donation_appeal"
    if n <= 20 and R.SHARE_RE.match(t):
        return BOILER, "share"
    if R.COUNTER_RE.match(t):
        return BOILER, "counter"
    if n <= 14 and is_timestamp(t):
        return META, "timestamp"
    if n <= 12 and R.READING_TIME_RE.match(t):
        return BOILER, "reading_time"
    if n <= 8 and R.TEASER_MARKER_RE.match(t):
        return BOILER, "teaser_marker"
    # "Related: headline" or "Read more Headline"; "Related charges were filed, ..." is a sentence
    teaser = R.TEASER_INLINE_RE.match(t) if n <= 35 else None
    if teaser and (teaser.group("sep") or headline_like(t, 35)):
        return BOILER, "teaser"
    if n <= 4 and R.UI_CONTROL_RE.match(t):
        return BOILER, "ui_control"
    if n <= 40 and R.CONTACT_LINE_RE.search(t) and ("@" in t or "twitter" in t.lower()):
        return BOILER, "contact"
    if n <= 10 and R.SOURCE_LINE_RE.match(t):
        return META, "source_line"
    if n <= 3 and R.SOURCE_LINK_RE.match(t):
        return BOILER, "source_link"
    if n <= 5 and (R.COMMENT_HEADER_RE.match(t) or R.COMMENT_HEADER_COUNTED_RE.match(t)):
        return BOILER, "comment_header"
    if n <= 5 and R.COMMENT_HEADER_MAYBE_RE.match(t):
        return BODY, "comment_header_maybe"  # decided by what follows (_confirm_headers)
    if n <= 60 and _CREDIT_LINE_RE.match(t):
        return META, "reporting_credit"
    if n <= 3 and _CONTACT_RE.match(t):
        return BOILER, "contact"
    if (n <= 40 and _TAGS_RE.match(t)) or (
        n <= 8 and _TAGS_BARE_RE.match(t) and headline_like(t, 8)
    ):
        return BOILER, "tags"
    if _is_byline(t, n):
        return META, "byline"
    return None


def _is_byline(text: str, words: int) -> bool:
    m = R.BYLINE_RE.match(text) if words <= 14 else None
    return bool(m and byline_authors(m.group("names")))


def byline_authors(names: str) -> list[str]:
    """The authors a byline's name part gives, or [] when a part is not name-shaped: in "By
    contrast, ..." or "Von Anfang an war klar, ..." a lower-case word gives the sentence away."""
    authors = split_authors(names)
    for a in authors:
        for token in a.split():
            first = next((c for c in token if c.isalpha()), "")
            if first.islower() and token.casefold() not in _NAME_PARTICLES:
                return []
    return authors


def _prompt_alone(text: str) -> bool:
    """A comment prompt ends near its own words ("Leave a comment below", "Join the discussion
    on Facebook"), where a sentence goes on ("Join the conversation, the minister urged ...")."""
    head = R.COMMENT_PROMPT_HEAD_RE.match(text)
    if head is None:
        return True
    rest = text[head.end() :]
    return len(rest.split()) <= 8 and not re.match(r"\s*,\s*\w+\s+\w+", rest)


def _rights_notice(text: str, low: str, found: re.Match[str]) -> bool:
    """Whether a rights-pattern hit is a notice and not a sentence that shares its words."""
    words = found.group()
    if R.REFLECT_RE.search(words) and not R.DISCLAIMER_SUBJECT_RE.search(low[: found.start()]):
        return False
    return not (words.startswith("copyright") and not R.COPYRIGHT_LINE_RE.match(text))


def _confirm_headers(blocks: list[Block]) -> None:
    """An ambiguous header ("Discussion") opens comments only when comments follow it: a name
    line, a date, a counter or a reply marker in the next few paragraphs. Otherwise it is a
    subheading of the article."""
    for i, b in enumerate(blocks):
        if b.rule != "comment_header_maybe":
            continue
        following = blocks[i + 1 : i + 5]
        evidence = any(
            x.rule in {"timestamp", "counter", "comment_prompt", "comments_closed"}
            or R.REPLY_RE.match(x.text)
            or (name_of(x.text) and k + 1 < len(following) and not name_of(following[k + 1].text))
            for k, x in enumerate(following)
        )
        if evidence:
            _mark(b, BOILER, "comment_header")
        else:
            b.rule = ""


def _is_list_item(text: str) -> bool:
    return bool(R.BULLET_RE.match(text)) or bool(re.search(r"\[[A-Z ]{3,12}\]\W*$", text))


def _mark(b: Block, label: str, rule: str) -> None:
    b.label, b.rule = label, rule


def clean_text(
    text: str,
    *,
    html_mode: bool = False,
    title_hint: str | None = None,
    title_variants: tuple[str, ...] = (),
    outlet: OutletRules | None = None,
    repost_byline: str | None = None,
) -> TextResult:
    """Classify every paragraph of extracted text and assemble body, comments and metadata.

    In HTML mode `repost_byline` is the repost byline found in the DOM (see
    `html.find_repost_byline`); only that byline makes the text above it the reposter's own.
    """
    res = TextResult()
    blocks = split_blocks(text)
    if not blocks:
        return res
    outlet_res = compile_outlet_patterns(outlet.boilerplate_patterns) if outlet else ()
    total_chars = max(1, blocks[-1].pos + len(blocks[-1].text))

    for b in blocks:
        hit = _rule_for(b, outlet_res)
        if hit:
            _mark(b, *hit)
    _confirm_headers(blocks)

    _find_title(blocks, res, html_mode, title_hint, title_variants)
    _bylines(blocks, res, html_mode, repost_byline)
    _teasers(blocks)
    _sidebars(blocks)

    body_idx = [i for i, b in enumerate(blocks) if b.label == BODY]
    if body_idx:
        _tail(blocks, res, body_idx[0], total_chars, html_mode)

    _signature(blocks, res, html_mode)
    _harvest(blocks, res, outlet)
    return res


def _find_title(
    blocks: list[Block],
    res: TextResult,
    html_mode: bool,
    title_hint: str | None,
    variants: tuple[str, ...],
) -> None:
    if html_mode:
        res.title = title_hint
        norms = {normalize(v) for v in (title_hint, *variants) if v}
        norms.discard("")
        if not norms:
            return
        for b in blocks[:4]:
            nb = normalize(b.text)
            if b.label != BODY or not nb or b.words > 40:
                continue
            # the headline repeated by the extractor, or the <title> with a " | Site" tail
            if any(nb == nt or (nt.startswith(nb) and len(nb) > 0.6 * len(nt)) for nt in norms):
                _mark(b, BOILER, "repeated_title")
        return
    first = next((b for b in blocks if b.label == BODY), None)
    if first is None or first is blocks[-1]:
        return
    # a title is a short unpunctuated first line with the text following it
    if headline_like(first.text, 30) or (first.text.endswith("?") and first.words <= 30):
        rest = blocks[blocks.index(first) + 1 :]
        if any(b.label == BODY and b.words >= 8 for b in rest):
            _mark(first, TITLE, "title")
            res.title = first.text
            nt = normalize(first.text)
            for b in rest[:4]:
                if b.label == BODY and normalize(b.text) == nt:
                    _mark(b, BOILER, "repeated_title")


def _bylines(
    blocks: list[Block], res: TextResult, html_mode: bool, repost_byline: str | None = None
) -> None:
    """'By X, Outlet' gives authors and outlet; text above it in a repost is the reposter's own."""
    for i, b in enumerate(blocks[:8]):
        if b.rule != "byline":
            continue
        m = R.BYLINE_RE.match(b.text)
        assert m is not None
        for a in byline_authors(m.group("names")):
            if a not in res.authors:
                res.authors.append(a)
        rest = (m.group("rest") or "").strip()
        names_outlet = bool(
            rest
            and not R.ROLE_WORDS.search(rest)
            and not parse_date(rest)
            and len(rest.split()) <= 4
        )
        if names_outlet:
            res.outlet = rest.rstrip(".")
        elif rest and parse_date(rest):
            res.published = res.published or parse_date(rest)
        before = [x for x in blocks[:i] if x.label == BODY]
        if html_mode:
            # the DOM vouched for this byline: paragraphs only above it, the text below it
            is_repost = repost_byline is not None and normalize(b.text) == normalize(repost_byline)
        else:
            # a repost's byline names the outlet it came from; above a plain "By Jane Doe"
            # stands the article's own standfirst
            is_repost = names_outlet and bool(before) and all(x.words >= 8 for x in before)
        if is_repost and before:
            for x in before:
                _mark(x, REPOST, "repost_commentary")
            if res.outlet:
                res.syndicated_from.append(res.outlet)
        break


def _teasers(blocks: list[Block]) -> None:
    """After an 'also read' marker, the teaser headline(s) it introduces."""
    n = len(blocks)
    for i, b in enumerate(blocks):
        if b.rule == "teaser":
            # "Related: headline" followed by a bulleted list of more headlines
            j = i + 1
            while (
                j < n
                and blocks[j].label == BODY
                and R.BULLET_RE.match(blocks[j].text)
                and headline_like(blocks[j].text)
            ):
                _mark(blocks[j], BOILER, "teaser")
                j += 1
            continue
        if b.rule != "teaser_marker":
            continue
        j = i + 1
        first = True
        while j < n and blocks[j].label == BODY:
            cur = blocks[j]
            if not (
                headline_like(cur.text) or (cur.text.endswith("?") and cur.words <= 20)
            ) and not ("?" in cur.text and cur.words <= 20 and cur.text[-1] not in ".!"):
                break
            nxt = blocks[j + 1] if j + 1 < n else None
            more_list = (
                nxt is not None
                and nxt.label == BODY
                and (headline_like(nxt.text) or _is_list_item(nxt.text))
            )
            if not first and not (_is_list_item(cur.text) or more_list):
                break
            _mark(cur, BOILER, "teaser")
            first = False
            # a single teaser followed by a paragraph: stop, the next short line is a subheading
            if not (more_list or _is_list_item(cur.text)):
                break
            j += 1


def _sidebars(blocks: list[Block]) -> None:
    """Headlines sandwiched between timestamps/counters are a sidebar of other stories."""
    stamp = {"counter", "timestamp"}
    for i in range(1, len(blocks) - 1):
        b = blocks[i]
        if b.label != BODY:
            continue
        if (
            blocks[i - 1].rule in stamp
            and blocks[i + 1].rule in stamp
            and b.words <= 40
            and b.text[-1] not in ".!"
        ):
            _mark(b, BOILER, "sidebar_headline")
    # the last headline of such a sidebar has a stamp on one side only
    if sum(b.rule == "sidebar_headline" for b in blocks) >= 3:
        last = blocks[-1]
        if (
            last.label == BODY
            and len(blocks) > 1
            and blocks[-2].rule in stamp
            and last.words <= 40
            and last.text[-1] not in ".!"
        ):
            _mark(last, BOILER, "sidebar_headline")


def _comment_start(blocks: list[Block], start: int, total: int, html_mode: bool) -> int | None:
    """Where the reader comment section begins: a header, or a run of name lines with text."""
    for i in range(start + 1, len(blocks)):
        b = blocks[i]
        if b.rule == "comment_header" and b.pos >= 0.3 * total:
            return i
    if html_mode:
        return None
    cands = []
    for i in range(start + 1, len(blocks) - 1):
        b, nxt = blocks[i], blocks[i + 1]
        if b.label != BODY or nxt.label != BODY or b.pos < 0.3 * total:
            continue
        if name_of(b.text) and not name_of(nxt.text) and nxt.words >= 2:
            cands.append(i)
    # Two name-shaped lines mid-article are as likely subheadings ("Background", "Olaf Scholz")
    # as commenters; three, or two in the page's last part, are a comment section.
    if len(cands) >= 3 or (len(cands) == 2 and blocks[cands[0]].pos >= 0.6 * total):
        return cands[0]
    return None


def _tail(blocks: list[Block], res: TextResult, start: int, total: int, html_mode: bool) -> None:
    """Find where the article ends; what follows is comments or boilerplate."""
    n = len(blocks)
    words_total = sum(b.words for b in blocks if b.label == BODY) or 1
    end = None
    seen = 0
    for i in range(start, n):
        b = blocks[i]
        if b.label == BODY:
            seen += b.words
            continue
        if b.rule in END_RULES and b.pos >= 0.4 * total and seen >= 0.5 * words_total:
            after = [x for x in blocks[i + 1 :] if x.label == BODY]
            if not any(x.words >= 80 for x in after) or b.rule == "comment_header":
                end = i
                break
    cstart = _comment_start(blocks, start, total, html_mode)
    if cstart is not None and (end is None or cstart < end or blocks[end].rule == "comment_header"):
        end = cstart if end is None else min(end, cstart)
    if end is None:
        return
    current: CleanComment | None = None
    pending: list[str] = []
    pending_blocks: list[Block] = []

    def flush() -> None:
        nonlocal current, pending, pending_blocks
        if current is not None and pending:
            text = "\n".join(pending)
            if is_comment_text(text):
                res.comments.append(CleanComment(current.author, text, current.published))
            else:
                for x in pending_blocks:
                    _mark(x, BOILER, "not_a_comment")
        current, pending, pending_blocks = None, [], []

    in_comments = cstart is not None
    for i in range(end, n):
        b = blocks[i]
        if b.label != BODY:
            if b.rule in {"timestamp"} and current is not None and not pending:
                current = CleanComment(current.author, "", parse_date(b.text))
            continue
        if in_comments and i >= cstart:  # type: ignore[operator]
            if R.REPLY_RE.match(b.text):
                _mark(b, BOILER, "reply_marker")
                continue
            name = name_of(b.text)
            nxt = blocks[i + 1] if i + 1 < n else None
            if name and nxt is not None and nxt.label in (BODY, META) and not name_of(nxt.text):
                flush()
                current = CleanComment(name, "")
                _mark(b, META, "comment_author")
                continue
            if current is None or (b.gap >= 2 and pending):
                flush()
                current = CleanComment(None, "")
            pending.append(b.text)
            pending_blocks.append(b)
            _mark(b, COMMENT, "comment")
        else:
            _mark(b, BOILER, "after_body_end")
    flush()


def _signature(blocks: list[Block], res: TextResult, html_mode: bool) -> None:
    """A lone name line closing the body ("Frederic Lasse (Frederic Lassez)") is the author."""
    body = [i for i, b in enumerate(blocks) if b.label == BODY]
    if len(body) < 2:
        return
    i = body[-1]
    b = blocks[i]
    m = R.NAME_LINE_RE.match(b.text)
    if not m or b.words > 6 or not name_of(m.group("name")) or b.text.endswith(".."):
        return
    following = blocks[i + 1 :]
    if html_mode and not following:
        return
    if following and following[0].label == BODY:
        return
    if following and not any(x.rule in END_RULES or x.label == COMMENT for x in following[:3]):
        return
    _mark(b, META, "author_signature")
    name = clean_author(m.group("name"))
    if name and name not in res.authors:
        res.authors.append(name)


def named_source(line: str, patterns: tuple[re.Pattern[str], ...]) -> str | None:
    """The outlet a provenance notice names (its "src" group), or None."""
    for rx in patterns:
        m = rx.search(line)
        if m and m.groupdict().get("src"):
            return m.group("src").strip(" .:;,")
    return None


def add_source(sources: list[str], src: str | None, own: tuple[str | None, ...]) -> None:
    """Add an original publisher once; never the page's own outlet, never a sentence."""
    if not src or len(src.split()) > 6 or parse_date(src) or not any(c.isalpha() for c in src):
        return  # "originally published in 1923" or "... on 12 May 2024" names no outlet
    key = normalize(src)
    if not key or key in {normalize(o) for o in own if o}:
        return  # "The rights to this material belong to <ourselves>" names no other source
    if key not in {normalize(s) for s in sources}:
        sources.append(src)


def _harvest(blocks: list[Block], res: TextResult, outlet: OutletRules | None) -> None:
    """Collect body, provenance of every removed paragraph and metadata stated in the text."""
    has_syndication = False
    own = (res.outlet, outlet.name if outlet else None)
    for b in blocks:
        if b.label == BODY:
            m = R.CLICK_TO_TWEET_RE.search(b.text)
            if m:
                res.removed.append(RemovedText("share", b.text[m.start() :].strip()))
                b.text = b.text[: m.start()]
            res.paragraphs.append(b.text)
            continue
        if b.label == TITLE:
            res.removed.append(RemovedText("title", b.text))
            continue
        if b.label not in (COMMENT, REPOST):
            res.removed.append(RemovedText(b.rule or b.label, b.text))
        if b.rule == "image_credit":
            m = R.PHOTO_CREDIT_RE.match(b.text)
            credit = (m.group("credit") if m else b.text).strip()
            if credit and credit not in res.image_credits:
                res.image_credits.append(credit)
        elif b.rule == "syndication_notice":
            has_syndication = True
            add_source(res.syndicated_from, named_source(b.text, R.SYNDICATION_RES), own)
        elif b.rule == "rights_notice":
            add_source(res.syndicated_from, named_source(b.text, R.RIGHTS_OWNER_RES), own)
        elif b.rule in ("timestamp", "byline") and res.published is None:
            res.published = parse_date(b.text)
    reposts = [b.text for b in blocks if b.label == REPOST]
    if reposts:
        res.comments.insert(0, CleanComment(None, "\n".join(reposts), None, "repost_commentary"))
    if has_syndication and res.paragraphs:
        m = _LEAD_SOURCE_RE.match(res.paragraphs[0])
        if m:
            add_source(res.syndicated_from, m.group("src"), own)
    if res.paragraphs:
        res.paragraphs[0] = _repair_drop_cap(res.paragraphs[0], res, outlet)


def _repair_drop_cap(text: str, res: TextResult, outlet: OutletRules | None) -> str:
    """'W Warnings'/'WWarnings' → 'Warnings'; a different glued capital ('IWarnings') only for an
    outlet that opts in (elsewhere that shape is a name: 'ВКонтакте', 'CNews')."""
    m = _DUP_DROP_CAP_RE.match(text)
    if m:
        res.removed.append(RemovedText("drop_cap", text[: m.end()]))
        return text[m.end() :]
    if outlet is not None and outlet.repair_glued_drop_cap:
        m = _GLUED_DROP_CAP_RE.match(text)
        if m:
            res.removed.append(RemovedText("drop_cap", m.group("cap")))
            return text[m.end() :]
    return text
