"""Per-outlet extraction quality figures computed from stored articles (pure figures + bounded queries)."""

from __future__ import annotations

import re
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.models import Article

# Only the head and tail of a body are read for leftover detection: comments glued under an
# article and share/subscribe boxes sit at the end, reposter notes and "also read" at the start.
HEAD_CHARS = 600
TAIL_CHARS = 1500
SHORT_BODY_CHARS = 300

# A paragraph counts as leftover only when it is short and *is* a marker, so that news sentences
# that merely mention "subscribers" or "comments" do not count.
_MARKER_LINE = re.compile(
    r"""^\W*(
        (\d+\s+)?(comments?|replies|reply|antworten|kommentare?|kommentieren|комментари[йяи]?|ответить
          |комментировать|commentaires?|répondre|commenti|rispondi|comentarios?|responder)
        |(leave|post|add|write)\s+a\s+(comment|reply)
        |(log\s*in|sign\s*in|sign\s*up|register)(\s+to\s+\w+.*)?
        |(share|teilen|поделиться|partager)(\s+(this|on)\b.*)?
        |(subscribe|abonnieren|подписаться|подписывайтесь|s'abonner)\b.*
        |(newsletter|рассылка)\b.*
        |(read|see)\s+(also|more)\b.*|also\s+read\b.*|lesen\s+sie\s+auch\b.*|читайте\s+также\b.*
        |(related|more)\s+(stories|articles|news)\b.*|mehr\s+zum\s+thema\b.*
        |advertisement|anzeige|реклама|werbung
        |all\s+rights\s+reserved\b.*|©.*|copyright\b.*
        |\d+\s+(views?|просмотр\w*|aufrufe)
        |(like|dislike|report|flag)(\s*[|·]\s*(like|dislike|reply|report|flag))+
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
# A comment header: a handle followed by a relative or absolute time, as comment widgets print.
_COMMENT_HEADER = re.compile(
    r"^\s*@?[\w.\- ]{2,40}\s*(\||·|-|—|,)?\s*"
    r"(\d+\s+(minutes?|hours?|days?|weeks?|months?)\s+ago|vor\s+\d+\s+(minuten|stunden|tagen)"
    r"|\d+\s+(минут\w*|час\w*|дн\w*)\s+назад|\d{1,2}[./]\d{1,2}[./]\d{2,4},?\s+\d{1,2}:\d{2})\s*$",
    re.IGNORECASE,
)
_WROTE = re.compile(r"^\s*@?[\w.\- ]{2,40}\s+(wrote|says|schrieb|пишет|написал\w*)\s*:?\s*$", re.I)
MARKER_LINE_MAX = 120


@dataclass(frozen=True)
class ArticleFigures:
    """Quality figures of one stored article."""

    body_chars: int
    has_author: bool
    has_date: bool
    leftover: bool


@dataclass(frozen=True)
class QualitySummary:
    """Quality figures of a group of articles (one outlet's window)."""

    articles: int
    median_body_chars: float
    share_short_body: float
    share_with_author: float
    share_with_date: float
    share_leftover: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def leftover_suspected(text: str) -> bool:
    """True when a body looks like it still holds comment or boilerplate blocks."""
    markers = 0
    headers = 0
    for raw in re.split(r"\n+", text):
        line = raw.strip()
        if not line or len(line) > MARKER_LINE_MAX:
            continue
        if _COMMENT_HEADER.match(line) or _WROTE.match(line):
            headers += 1
        elif _MARKER_LINE.match(line):
            markers += 1
    # One stray marker ("Advertisement") is common in good extractions; two signals are not.
    return headers >= 2 or markers >= 2 or (headers >= 1 and markers >= 1)


def article_figures(
    *, body_chars: int, authors: Any, published: datetime | None, body_sample: str
) -> ArticleFigures:
    return ArticleFigures(
        body_chars=int(body_chars or 0),
        has_author=bool(authors),
        has_date=published is not None,
        leftover=leftover_suspected(body_sample or ""),
    )


def summarize(figures: list[ArticleFigures]) -> QualitySummary:
    n = len(figures)
    if n == 0:
        return QualitySummary(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return QualitySummary(
        articles=n,
        median_body_chars=float(statistics.median(f.body_chars for f in figures)),
        share_short_body=sum(f.body_chars < SHORT_BODY_CHARS for f in figures) / n,
        share_with_author=sum(f.has_author for f in figures) / n,
        share_with_date=sum(f.has_date for f in figures) / n,
        share_leftover=sum(f.leftover for f in figures) / n,
    )


# ---------------------------------------------------------------- queries


def _sample_columns(engine: Engine) -> tuple[Any, Any]:
    body = Article.__table__.c.body  # type: ignore[attr-defined]
    head = func.substr(body, 1, HEAD_CHARS)
    if engine.dialect.name == "postgresql":
        tail = func.right(body, TAIL_CHARS)
    else:
        tail = func.substr(body, -TAIL_CHARS)
    return head, tail


def _reassemble(length: int, head: str, tail: str) -> str:
    """The body itself when head and tail cover it, else head and tail with a break between."""
    if length <= HEAD_CHARS:
        return head
    if length <= HEAD_CHARS + TAIL_CHARS:
        return head + tail[len(tail) - (length - HEAD_CHARS) :]
    return f"{head}\n{tail}"


def _rows_to_figures(rows: Any) -> list[ArticleFigures]:
    out = []
    for length, authors, published, head, tail in rows:
        sample = _reassemble(length or 0, head or "", tail or "")
        out.append(
            article_figures(
                body_chars=length or 0, authors=authors, published=published, body_sample=sample
            )
        )
    return out


def outlet_figures(
    engine: Engine,
    *,
    outlet_id: str,
    limit: int,
    before: datetime | None = None,
    since: datetime | None = None,
) -> list[ArticleFigures]:
    """Figures of an outlet's newest stored original articles, newest first (bounded by limit)."""
    t = Article.__table__  # type: ignore[attr-defined]
    head, tail = _sample_columns(engine)
    q = (
        select(func.length(t.c.body), t.c.authors, t.c.published, head, tail)
        .where(t.c.outlet_id == outlet_id, t.c.status == "stored", t.c.copy_of_id.is_(None))
        .order_by(t.c.stored_at.desc(), t.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        q = q.where(t.c.stored_at < before)
    if since is not None:
        q = q.where(t.c.stored_at >= since)
    with Session(engine) as session:
        return _rows_to_figures(session.execute(q).all())


def outlets_stored_since(engine: Engine, *, since: datetime) -> list[str]:
    """Outlets that stored at least one article since the given time."""
    t = Article.__table__  # type: ignore[attr-defined]
    q = (
        select(t.c.outlet_id)
        .where(t.c.status == "stored", t.c.stored_at >= since)
        .group_by(t.c.outlet_id)
        .order_by(t.c.outlet_id)
    )
    with Session(engine) as session:
        return [str(r[0]) for r in session.execute(q).all()]


def outlet_quality(
    engine: Engine, *, window: int = 20, since: datetime | None = None
) -> dict[str, QualitySummary]:
    """Each outlet's recent-window quality (outlets with stored articles since `since`, or all)."""
    if since is None:
        t = Article.__table__  # type: ignore[attr-defined]
        with Session(engine) as session:
            outlets = [
                str(r[0])
                for r in session.execute(
                    select(t.c.outlet_id).where(t.c.status == "stored").group_by(t.c.outlet_id)
                ).all()
            ]
    else:
        outlets = outlets_stored_since(engine, since=since)
    return {o: summarize(outlet_figures(engine, outlet_id=o, limit=window)) for o in outlets}
