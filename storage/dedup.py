"""Deduplication in the database: URL, version, exact and near copies, and stories of articles."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, text, update
from sqlmodel import Session, select

from storage import minhash as mh
from storage.db import insert_ignore
from storage.models import Article, ArticleVersion, LshBucket, MinHashSignature, Story

DEFAULT_THRESHOLD = 0.8
# A syndication notice plus this much shared text is enough to call it a copy.
SYNDICATED_THRESHOLD = 0.5
# Candidates whose estimate falls this close below the bar are checked on their texts.
EXACT_CHECK_MARGIN = 0.12
STORY_THRESHOLD = 0.18
STORY_WINDOW_DAYS = 2  # a story collects coverage published within this many days either side
STORY_BAND_OFFSET = 1000  # story bands share the lsh_buckets table with the body bands
# The story index is a key range of its own (bands >= 1000), pruned daily: its size stays that
# of a few days of articles however large the body index grows.
STORY_KEY_MIN = mh.band_range(STORY_BAND_OFFSET, 1)[0]
MAX_CANDIDATES = 200
# A near copy found by text alone (no syndication notice naming the candidate's outlet) is
# looked for among articles first seen this many days either side: an outlet's press releases
# or reports a month apart share long templates ("About Acme", forward-looking statements),
# and a new one must not become a copy of an old one and lose its own story.
NEAR_COPY_WINDOW_DAYS = 7
# Below this many words a body is too short to say two pages are one article ("This story
# will be updated", a paywall teaser): the titles must agree too.
SHORT_BODY_WORDS = 80
# Texts compared exactly per article at most: candidates come best estimate first, so a true
# copy is among the first few; the cap bounds the work when many same-topic articles sit
# just under the bar.
MAX_EXACT_CHECKS = 8
# lead_tokens reads at most this much of a body, so candidates load no more than that.
LEAD_CHARS = 20_000
# One cluster-wide lock serialises the few milliseconds of dedup per article on PostgreSQL,
# so every article sees all committed ones and copy links never race into cycles.
# SQLite gets the same order from BEGIN IMMEDIATE.
DEDUP_LOCK_KEY = 0x6E657773_64647570 & 0x7FFFFFFFFFFFFFFF

_DEDUP_COLUMNS = [
    "title",
    "body",
    "body_hash",
    "version",
    "copy_of_id",
    "copy_kind",
    "similarity",
    "story_id",
]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LSH: Any = LshBucket.__table__  # type: ignore[attr-defined]
_SIG: Any = MinHashSignature.__table__  # type: ignore[attr-defined]
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class DedupResult:
    """What dedup decided for one article."""

    kind: str  # new | version | unchanged | exact | near | url
    copy_of_id: int | None = None
    similarity: float | None = None
    story_id: int | None = None
    version: int = 1
    relinked: tuple[int, ...] = field(default=())  # articles re-pointed to this one as original
    regrouped: bool = False  # an updated page left its own story for another (see _detach_alone)


# ---------------------------------------------------------------- pure helpers


def normalize_body(text: str) -> str:
    """Body text reduced to case-folded words separated by single spaces (the exact-copy key)."""
    return " ".join(mh.words(text))


def body_hash(text: str) -> str:
    return hashlib.sha256(normalize_body(text).encode("utf-8")).hexdigest()


# "The Telegraph", "Der Spiegel", "Le Monde": a notice's name with its article is the outlet
_LEADING_ARTICLE = re.compile(r"^\s*(?:the|der|die|das|le|la|les|el|il|lo)\s+", re.IGNORECASE)


def _norm_name(name: str) -> str:
    return _NON_ALNUM.sub("", _LEADING_ARTICLE.sub("", name).casefold())


def outlet_named(
    outlet_id: str, names: Sequence[str], aliases: Mapping[str, Sequence[str]] | None = None
) -> bool:
    """True when one of the syndication names designates this outlet (id or alias)."""
    own = {_norm_name(outlet_id)} | {_norm_name(a) for a in (aliases or {}).get(outlet_id, ())}
    own.discard("")
    for name in names:
        n = _norm_name(name)
        if not n:
            continue
        for o in own:
            if n == o or (len(o) >= 3 and n.startswith(o)) or (len(n) >= 3 and o.startswith(n)):
                return True
    return False


def _day(when: datetime) -> int:
    return int((when - _EPOCH).total_seconds() // 86400)


def story_keys(sig: np.ndarray, day: int) -> list[int]:
    """Story-index keys of a lead signature for one day (bands from STORY_BAND_OFFSET)."""
    return mh.band_keys(
        sig, bands=mh.LEAD_BANDS, rows=mh.LEAD_ROWS, first_band=STORY_BAND_OFFSET, salt=day
    )


def body_keys(sig: np.ndarray) -> list[int]:
    """Body-index keys of a body signature (bands 0 .. BANDS - 1)."""
    return mh.band_keys(sig)


def _order_key(a: Article) -> tuple[datetime, int]:
    return (a.first_seen_at, a.id or 0)


# ---------------------------------------------------------------- index I/O


def lock_dedup(session: Session) -> None:
    """Take the dedup lock for the rest of the transaction (PostgreSQL; SQLite needs none)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": DEDUP_LOCK_KEY})


# The hot path speaks plain SQL through the session's connection: statement compilation and
# ORM bookkeeping cost more than SQLite's own work on a 32-key probe. The statements are the
# same on SQLite and PostgreSQL; only the placeholder differs.
# Candidates sharing the most bands first (the likeliest copies), then the newest: ordered by
# id alone, an outlet's shared footer filled the 200 places with its latest articles and the
# true original, a few hundred articles back, was never compared.
_LOOKUP_SQL = (
    'SELECT article_id FROM lsh_buckets WHERE "key" IN ({marks}) AND article_id <> ? '
    f"GROUP BY article_id ORDER BY COUNT(*) DESC, article_id DESC LIMIT {MAX_CANDIDATES}"
)
_INSERT_KEYS_SQL = (
    'INSERT INTO lsh_buckets ("key", article_id) VALUES {rows} ON CONFLICT DO NOTHING'
)
_KEYS_PER_INSERT = 400  # 800 parameters: far below SQLite's and PostgreSQL's limits
_INSERT_SIG_SQL = (
    "INSERT INTO minhash_signatures (article_id, signature) VALUES (?, ?) ON CONFLICT DO NOTHING"
)
_SIGS_SQL = "SELECT article_id, signature FROM minhash_signatures WHERE article_id IN ({marks})"
# PostgreSQL variants take whole key lists as one array parameter: the statement text stays
# the same whatever the number of keys, so psycopg parses and prepares it once per connection
# instead of once per article (long IN lists are never cached).
_PG_LOOKUP_SQL = (
    'SELECT article_id FROM lsh_buckets WHERE "key" = ANY(%s::bigint[]) AND article_id <> %s '
    f"GROUP BY article_id ORDER BY COUNT(*) DESC, article_id DESC LIMIT {MAX_CANDIDATES}"
)
_PG_INSERT_KEYS_SQL = (
    'INSERT INTO lsh_buckets ("key", article_id) SELECT unnest(%s::bigint[]), %s '
    "ON CONFLICT DO NOTHING"
)
_PG_SIGS_SQL = (
    "SELECT article_id, signature FROM minhash_signatures WHERE article_id = ANY(%s::bigint[])"
)


def _is_pg(session: Session) -> bool:
    return bool(session.connection().dialect.name == "postgresql")


def _driver_sql(session: Session, sql: str, params: Any) -> Any:
    """Run qmark-style SQL on the session's connection (a list of tuples = executemany)."""
    conn = session.connection()
    if conn.dialect.paramstyle != "qmark":  # psycopg: pyformat, positional %s
        sql = sql.replace("?", "%s")
    return conn.exec_driver_sql(sql, params)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _lookup(session: Session, keys: Sequence[int], *, exclude: int) -> list[int]:
    """Articles with a bucket among keys (most shared buckets, then newest, first; at most
    MAX_CANDIDATES)."""
    if not keys:
        return []
    # `key IN (...)` on the primary key: one index seek per key.
    if _is_pg(session):
        rows = session.connection().exec_driver_sql(_PG_LOOKUP_SQL, (list(keys), exclude))
        return [r[0] for r in rows]
    sql = _LOOKUP_SQL.format(marks=_marks(len(keys)))
    return [r[0] for r in _driver_sql(session, sql, (*keys, exclude))]


def _insert_keys(session: Session, article_id: int, keys: Sequence[int]) -> None:
    # One statement: an executemany would send one per key, and an article has ~70 keys
    # (body and story bands).
    if not keys:
        return
    if _is_pg(session):
        session.connection().exec_driver_sql(_PG_INSERT_KEYS_SQL, (list(keys), article_id))
        return
    for start in range(0, len(keys), _KEYS_PER_INSERT):
        chunk = keys[start : start + _KEYS_PER_INSERT]
        sql = _INSERT_KEYS_SQL.format(rows=", ".join(["(?, ?)"] * len(chunk)))
        _driver_sql(session, sql, tuple(v for k in chunk for v in (k, article_id)))


def index_lookup(
    session: Session, sig: np.ndarray, *, exclude: int = 0, threshold: float = DEFAULT_THRESHOLD
) -> list[tuple[int, float]]:
    """Indexed articles whose resemblance with sig is >= threshold, best first."""
    ids = _lookup(session, body_keys(sig), exclude=exclude)
    if not ids:
        return []
    if _is_pg(session):
        rows = session.connection().exec_driver_sql(_PG_SIGS_SQL, (ids,))
    else:
        rows = _driver_sql(session, _SIGS_SQL.format(marks=_marks(len(ids))), tuple(ids))
    scored = [(aid, mh.similarity(sig, mh.from_bytes(bytes(blob)))) for aid, blob in rows]
    return sorted(((a, s) for a, s in scored if s >= threshold), key=lambda x: (-x[1], x[0]))


def index_insert(session: Session, article_id: int, sig: np.ndarray) -> None:
    """Add an article's body signature and its band buckets (idempotent)."""
    _driver_sql(session, _INSERT_SIG_SQL, (article_id, mh.to_bytes(sig)))
    _insert_keys(session, article_id, body_keys(sig))


def index_remove(session: Session, article_id: int) -> None:
    """Drop an article's body signature and buckets (its story-index rows stay)."""
    old = session.execute(
        select(_SIG.c.signature).where(_SIG.c.article_id == article_id)
    ).scalar_one_or_none()
    if old is not None:
        # The buckets follow from the stored signature: delete them by key, no table scan.
        session.execute(
            delete(_LSH).where(
                _LSH.c.key.in_(body_keys(mh.from_bytes(old))), _LSH.c.article_id == article_id
            )
        )
    session.execute(delete(_SIG).where(_SIG.c.article_id == article_id))


def story_index_lookup(
    session: Session, lead_sig: np.ndarray, day: int, *, exclude: int = 0
) -> list[int]:
    """Articles whose lead shares a story bucket with lead_sig within the story window."""
    keys = [
        k
        for d in range(day - STORY_WINDOW_DAYS, day + STORY_WINDOW_DAYS + 1)
        for k in story_keys(lead_sig, d)
    ]
    return _lookup(session, keys, exclude=exclude)


def story_index_insert(session: Session, article_id: int, lead_sig: np.ndarray, day: int) -> None:
    """Add an original's lead buckets for its day (pruned by prune_story_index)."""
    _insert_keys(session, article_id, story_keys(lead_sig, day))


def _story_time(a: Article, now: datetime) -> datetime:
    return a.published or a.first_seen_at or now


def rebuild_index(session: Session, *, batch: int = 500) -> int:
    """Recreate both LSH indexes from stored bodies (after loss or a parameter change)."""
    session.execute(delete(LshBucket))
    session.execute(delete(MinHashSignature))
    count, last = 0, 0
    while True:
        rows = session.exec(
            select(Article)
            .where(Article.id > last, Article.body_hash.is_not(None))  # type: ignore[union-attr,operator]
            .order_by(Article.id)  # type: ignore[arg-type]
            .limit(batch)
        ).all()
        if not rows:
            return count
        for a in rows:
            assert a.id is not None
            last = a.id
            if a.copy_kind == "url" or not a.body:
                continue
            index_insert(session, a.id, mh.body_signature(a.body))
            if a.copy_of_id is None:
                lead = mh.lead_tokens(a.title, a.body)
                if lead:
                    day = _day(_story_time(a, a.first_seen_at))
                    story_index_insert(session, a.id, mh.lead_signature(lead), day)
            count += 1


def prune_story_index(session: Session, *, before: datetime) -> int:
    """Drop story-index rows of articles older than `before`: no new coverage can join them.

    Run it daily with `before = now - STORY_WINDOW_DAYS - 1 day`; the body index is kept.
    """
    old = select(Article.id).where(func.coalesce(Article.published, Article.first_seen_at) < before)
    res = session.execute(
        delete(_LSH).where(_LSH.c.key >= STORY_KEY_MIN, _LSH.c.article_id.in_(old))
    )
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- articles


def ensure_article(
    session: Session,
    *,
    url: str,
    canonical: str,
    url_key: str,
    outlet_id: str,
    now: datetime,
    feed_id: int | None = None,
    guid: str | None = None,
    title: str | None = None,
    published: datetime | None = None,
) -> Article:
    """The one article of a canonical URL, created if missing (INSERT … ON CONFLICT DO NOTHING).

    `canonical`/`url_key` come from `sources.urls.canonical_url` / `url_hash` (storage imports
    nothing of ours, so the caller computes them).
    """
    values: dict[str, Any] = {
        "outlet_id": outlet_id,
        "feed_id": feed_id,
        "url": url,
        "canonical_url": canonical,
        "url_hash": url_key,
        "guid": guid,
        "status": "pending",
        "attempts": 0,
        "feed_title": title,
        "authors": [],
        "syndicated_from": [],
        "image_credits": [],
        "extra": {},
        "version": 0,
        "feed_published": published,
        "first_seen_at": now,
    }
    session.execute(insert_ignore(session, Article, values, conflict=["url_hash"]))
    return session.exec(select(Article).where(Article.url_hash == url_key)).one()


def _facts_of(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, datetime, str | None]]:
    """Outlet, first sighting and title of each candidate."""
    if not ids:
        return {}
    rows = session.execute(
        select(Article.id, Article.outlet_id, Article.first_seen_at, Article.title).where(  # type: ignore[call-overload]
            Article.id.in_(list(ids))  # type: ignore[union-attr]
        )
    ).all()
    return {int(r[0]): (r[1], _aware(r[2]), r[3]) for r in rows}


def _titles_alike(a: str | None, b: str | None) -> bool:
    """Whether two headlines share most of their words (unknown counts as alike)."""
    wa, wb = set(mh.words(a or "")), set(mh.words(b or ""))
    if not wa or not wb:
        return True
    return len(wa & wb) / len(wa | wb) >= 0.5


def _one_piece(words: int, title: str | None, other_title: str | None) -> bool:
    """A short body alone does not make two pages one article; their headlines must agree."""
    return words >= SHORT_BODY_WORDS or _titles_alike(title, other_title)


def _root(session: Session, a: Article) -> Article:
    if a.copy_of_id is None:
        return a
    root = session.get(Article, a.copy_of_id)
    return root if root is not None else a


def _join_story(
    session: Session,
    article: Article,
    story_id: int | None,
    now: datetime,
    *,
    original: bool = False,
) -> int:
    """Put the article in a story (a new one when None) and keep its first publisher right.

    `original`: a copy already in the story names this article's outlet as its source, so this
    one is the first publisher whatever the page dates say (copies often carry the same day).
    """
    story = session.get(Story, story_id) if story_id is not None else None
    when = _story_time(article, now)
    if story is None:
        story = Story(
            title=article.title,
            first_article_id=article.id,
            first_outlet_id=article.outlet_id,
            first_published=when,
            created_at=now,
            updated_at=now,
        )
        session.add(story)
        session.flush()
    else:
        first = story.first_published
        if first is not None and first.tzinfo is None:  # SQLite hands back naive UTC
            first = first.replace(tzinfo=UTC)
        if first is None or when < first or original:
            story.first_published = when if first is None else min(when, first)
            story.first_article_id = article.id
            story.first_outlet_id = article.outlet_id
        story.updated_at = now
    article.story_id = story.id
    assert story.id is not None
    return story.id


def _detach_alone(session: Session, article: Article) -> bool:
    """Take an updated page out of its story and copy link when nothing else depends on them
    (no copies of it, no other article in its story): the caller then groups it afresh. An
    original with copies or companions keeps its place; moving it would move them too."""
    if article.copy_kind == "url":
        return False
    copies = session.exec(select(Article.id).where(Article.copy_of_id == article.id).limit(1))
    if copies.first() is not None:
        return False
    old_story = article.story_id
    if old_story is not None:
        others = session.exec(
            select(Article.id)
            .where(Article.story_id == old_story, Article.id != article.id)
            .limit(1)
        )
        if others.first() is not None:
            return False
    article.copy_of_id = None
    article.copy_kind = None
    article.similarity = None
    article.story_id = None
    session.flush()
    if old_story is not None:
        story = session.get(Story, old_story)
        if story is not None:
            session.delete(story)
            session.flush()
    return True


def _relink(
    session: Session, old_root: Article, new_root: Article, kind: str, sim: float
) -> list[int]:
    """Make new_root the original of old_root's whole group (copies always point at a root)."""
    assert old_root.id is not None and new_root.id is not None
    moved = [
        r[0]
        for r in session.execute(select(Article.id).where(Article.copy_of_id == old_root.id)).all()
    ]
    if moved:
        session.execute(
            update(Article)
            .where(Article.copy_of_id == old_root.id)  # type: ignore[arg-type]
            .values(copy_of_id=new_root.id)
            .execution_options(synchronize_session=False)
        )
    old_root.copy_of_id = new_root.id
    old_root.copy_kind = kind
    old_root.similarity = sim
    return [old_root.id, *moved]


@dataclass(frozen=True)
class _Candidate:
    """The few columns dedup compares on; the full row is loaded only for the one that matches."""

    id: int
    outlet_id: str
    first_seen_at: datetime
    story_id: int | None
    title: str | None
    text: str  # the body, or its first LEAD_CHARS for story candidates

    def lead(self) -> frozenset[str]:
        return _lead_tokens(self.id, self.title, self.text)


# The same recent articles come back as story candidates of article after article; their leads
# are tokenised once per process. The key is the id and the hashes of title and text (an edited
# article is redone), not the text itself: 4,096 cached 20,000-character leads would pin up to
# ~300 MB of strings in every worker process.
LEAD_CACHE_SIZE = 4096
_lead_cache: OrderedDict[tuple[int, int, int], frozenset[str]] = OrderedDict()
_lead_lock = threading.Lock()


def _lead_tokens(article_id: int, title: str | None, text: str) -> frozenset[str]:
    key = (article_id, hash(title), hash(text))
    with _lead_lock:
        hit = _lead_cache.get(key)
        if hit is not None:
            _lead_cache.move_to_end(key)
            return hit
    tokens = mh.lead_tokens(title, text)
    with _lead_lock:
        _lead_cache[key] = tokens
        while len(_lead_cache) > LEAD_CACHE_SIZE:
            _lead_cache.popitem(last=False)
    return tokens


def _candidates(
    session: Session, ids: Sequence[int], *, text_chars: int | None
) -> list[_Candidate]:
    """Candidate rows by id, in the order of ids, without the raw page and other large columns."""
    if not ids:
        return []
    body: Any = Article.body
    if text_chars is not None:
        body = func.substr(Article.body, 1, text_chars)
    rows = session.execute(
        select(  # type: ignore[call-overload]
            Article.id,
            Article.outlet_id,
            Article.first_seen_at,
            Article.story_id,
            Article.title,
            body,
        ).where(Article.id.in_(list(ids)))  # type: ignore[union-attr]
    ).all()
    by_id = {
        int(r[0]): _Candidate(int(r[0]), r[1], _aware(r[2]), r[3], r[4], r[5] or "") for r in rows
    }
    return [by_id[i] for i in ids if i in by_id]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # SQLite reads naive


def _story_candidates(
    session: Session, article: Article, lead_sig: np.ndarray, when: datetime
) -> list[_Candidate]:
    ids = story_index_lookup(session, lead_sig, _day(when), exclude=article.id or 0)
    return _candidates(session, ids, text_chars=LEAD_CHARS)


def _cand_order(c: _Candidate) -> tuple[datetime, int]:
    return (c.first_seen_at, c.id)


def apply_dedup(
    session: Session,
    *,
    article: Article,
    title: str | None,
    body: str,
    syndicated_from: Sequence[str],
    page_canonical_url: str | None,
    now: datetime,
    threshold: float = DEFAULT_THRESHOLD,
    canonicalize: Any = None,
    outlet_aliases: Mapping[str, Sequence[str]] | None = None,
    locked: bool = False,
    new_version: bool = True,
) -> DedupResult:
    """Decide and record what an article is: new, a new version, or a copy; and its story.

    Call inside the transaction that stores the article, after cleaning and BEFORE assigning
    title/body to the article: this function sets `title`, `body`, `body_hash`, `version`,
    `copy_of_id`, `copy_kind`, `similarity` and `story_id`. `canonicalize` is
    `sources.urls.canonical_url` (applied to `page_canonical_url`).
    `locked=True` says the caller took `lock_dedup` and loaded the article after it.
    `new_version=False`: the same page cleaned again, so a changed text replaces the old one
    without recording it as an earlier version of the page.
    """
    assert article.id is not None, "flush the article first"
    if not locked:
        lock_dedup(session)
        # Another worker may have finished this very article while we waited for the lock.
        # Only the columns dedup owns are reloaded: the caller's pending changes (published,
        # authors, ...) survive.
        session.refresh(article, attribute_names=_DEDUP_COLUMNS)
    new_hash = body_hash(body)

    # (b) the page was seen before: a new version, or nothing new
    if article.body_hash is not None:
        same_title = title is None or title == article.title
        if new_hash == article.body_hash and same_title:
            return DedupResult(
                "unchanged",
                article.copy_of_id,
                article.similarity,
                article.story_id,
                article.version,
            )
        if new_version:
            session.execute(
                insert_ignore(
                    session,
                    ArticleVersion,
                    {
                        "article_id": article.id,
                        "version": article.version,
                        "title": article.title,
                        "body": article.body,
                        "body_hash": article.body_hash,
                        "fetched_at": article.fetched_at or article.stored_at or now,
                    },
                    conflict=["article_id", "version"],
                )
            )
            article.version += 1
        if title is not None:
            article.title = title
        text_changed = new_hash != article.body_hash
        if text_changed:
            article.body = body
            article.body_hash = new_hash
            if article.copy_kind != "url":
                index_remove(session, article.id)
                if normalize_body(body):
                    index_insert(session, article.id, mh.body_signature(body))
        session.flush()
        if not (text_changed and new_version and _detach_alone(session, article)):
            return DedupResult(
                "version", article.copy_of_id, article.similarity, article.story_id, article.version
            )
        # A page that stood alone (a "breaking" stub) and now carries a text of its own is
        # judged again as a new article would be: a copy, or coverage of a known story.
        regrouped = True
    else:
        regrouped = False
        article.version = 1
    article.title = title
    article.body = body
    article.body_hash = new_hash

    # (a) the page says it lives at another stored URL: the same article twice
    if page_canonical_url:
        canon = canonicalize(page_canonical_url) if canonicalize else page_canonical_url.strip()
        key = hashlib.sha256(canon.encode("utf-8")).hexdigest()
        if key != article.url_hash:
            other = session.exec(select(Article).where(Article.url_hash == key)).first()
            # Only a stored target: one still pending has no text or story yet, and when it
            # is processed it would find this article's text and link back to it (a cycle of
            # copies, neither counted as an original). Until then this article stands alone.
            if other is not None and other.id != article.id and other.body_hash is not None:
                root = _root(session, other)
                article.copy_of_id, article.copy_kind, article.similarity = root.id, "url", 1.0
                story_id = root.story_id
                if story_id is None and root.body_hash is not None:
                    story_id = _join_story(session, root, None, now)
                if story_id is not None:
                    _join_story(session, article, story_id, now)
                session.flush()
                return DedupResult("url", root.id, 1.0, article.story_id, 1)

    text_ok = bool(normalize_body(body))
    sig = mh.body_signature(body) if text_ok else None
    lead = mh.lead_tokens(title, body)
    lead_sig = mh.lead_signature(lead) if lead else None
    when = _story_time(article, now)

    # (c) exact and (d) near copies; a syndication notice lowers the bar for its named outlet
    match: Article | None = None
    sim = 0.0
    kind = "new"
    n_words = len(mh.words(body)) if text_ok else 0
    if text_ok:
        same_text = session.exec(
            select(Article)
            .where(Article.body_hash == new_hash, Article.id != article.id)
            .order_by(Article.first_seen_at, Article.id)  # type: ignore[arg-type]
            .limit(MAX_EXACT_CHECKS)
        ).all()
        exact = next((a for a in same_text if _one_piece(n_words, title, a.title)), None)
        if exact is not None:
            match, sim, kind = exact, 1.0, "exact"
    if match is None and sig is not None:
        floor = min(threshold, SYNDICATED_THRESHOLD) if syndicated_from else threshold
        floor -= EXACT_CHECK_MARGIN
        scored = index_lookup(session, sig, exclude=article.id, threshold=floor)
        # Best estimates first; only the first few near the bar (on either side: an estimate
        # of 0.81 may be a true 0.72) are settled on their texts.
        unsure = threshold + EXACT_CHECK_MARGIN
        near_bar = [cid for cid, s in scored if s < unsure][:MAX_EXACT_CHECKS]
        texts = {c.id: c for c in _candidates(session, near_bar, text_chars=None)}
        facts = _facts_of(session, [cid for cid, _ in scored])
        window = timedelta(days=NEAR_COPY_WINDOW_DAYS)
        seen = _aware(article.first_seen_at or now)
        own_shingles: set[bytes] | None = None
        for cand_id, s in scored:
            if cand_id not in facts:
                continue
            outlet_id, cand_seen, cand_title = facts[cand_id]
            cand = texts.get(cand_id)
            if s < unsure and cand is not None and cand.text:
                # Near the bar the estimate's noise (±0.05) decides; the texts settle it.
                if own_shingles is None:
                    own_shingles = mh.shingle_set(body)
                s = mh.set_similarity(own_shingles, mh.shingle_set(cand.text))
            named = s >= SYNDICATED_THRESHOLD and outlet_named(
                outlet_id, syndicated_from, outlet_aliases
            )
            if not named and (
                abs(cand_seen - seen) > window or not _one_piece(n_words, title, cand_title)
            ):
                continue
            if s >= threshold or named:
                match = session.get(Article, cand_id)
                if match is not None:
                    sim, kind = s, "near"
                    break
    story_cands: list[_Candidate] = []
    if match is None and sig is not None and syndicated_from and lead_sig is not None:
        # A cut-down syndicated copy may miss the body LSH; the story index still finds it.
        story_cands = _story_candidates(session, article, lead_sig, when)
        named_cands = [
            c for c in story_cands if outlet_named(c.outlet_id, syndicated_from, outlet_aliases)
        ]
        sigs = (
            {
                r[0]: mh.from_bytes(r[1])
                for r in session.execute(
                    select(_SIG.c.article_id, _SIG.c.signature).where(
                        _SIG.c.article_id.in_([c.id for c in named_cands])
                    )
                ).all()
            }
            if named_cands
            else {}
        )
        for cand in sorted(named_cands, key=_cand_order):
            if cand.id in sigs:
                s = mh.similarity(sig, sigs[cand.id])
                if s >= SYNDICATED_THRESHOLD:
                    match = session.get(Article, cand.id)
                    if match is not None:
                        sim, kind = s, "near"
                        break

    relinked: list[int] = []
    copy_of: int | None = None
    match_root = _root(session, match) if match is not None else None
    if match_root is not None and match_root.id == article.id:
        # The match is already a copy of this article (re-rooted earlier): nothing to link,
        # and linking back would make a cycle.
        match, match_root, kind = None, None, "new"
    if match is not None and match_root is not None:
        root = match_root
        synd_to_root = outlet_named(root.outlet_id, syndicated_from, outlet_aliases)
        root_synd_from_us = outlet_named(
            article.outlet_id, root.syndicated_from or [], outlet_aliases
        )
        we_are_first = root_synd_from_us or (
            not synd_to_root and _order_key(article) < _order_key(root)
        )
        if we_are_first:
            sim_root = sim
            if root.id != match.id:
                root_sig = session.get(MinHashSignature, root.id)
                if root_sig is not None and sig is not None:
                    sim_root = mh.similarity(sig, mh.from_bytes(root_sig.signature))
            rkind = "syndicated" if root_synd_from_us else kind
            relinked = _relink(session, root, article, rkind, sim_root)
            _join_story(session, article, root.story_id, now, original=root_synd_from_us)
            kind, sim_out = "new", None
        else:
            copy_of = root.id
            article.copy_of_id = root.id
            article.copy_kind = "syndicated" if synd_to_root else kind
            article.similarity = sim
            sim_out = sim
            story_id = root.story_id
            if story_id is None:
                story_id = _join_story(session, root, None, now)
            _join_story(session, article, story_id, now)
    else:
        sim_out = None

    keys: list[int] = []
    if sig is not None:
        _driver_sql(session, _INSERT_SIG_SQL, (article.id, mh.to_bytes(sig)))
        keys += body_keys(sig)

    # (e) story of an original: the closest recent coverage, else a new story
    if article.story_id is None:
        best: tuple[float, int] | None = None
        if lead_sig is not None:
            cands = story_cands or _story_candidates(session, article, lead_sig, when)
            for cand in cands:
                if cand.story_id is None or not cand.text:
                    continue
                # two stories behind the same short placeholder share a lead and little else
                if not _one_piece(n_words, title, cand.title):
                    continue
                s = mh.jaccard(lead, cand.lead())
                if s >= STORY_THRESHOLD and (
                    best is None or (s, -cand.story_id) > (best[0], -best[1])
                ):
                    best = (s, cand.story_id)
        _join_story(session, article, best[1] if best else None, now)
    if article.copy_of_id is None and lead_sig is not None:
        keys += story_keys(lead_sig, _day(when))
    _insert_keys(session, article.id, keys)  # body and story buckets in one batch
    session.flush()
    return DedupResult(
        "version" if regrouped else kind,
        copy_of,
        sim_out,
        article.story_id,
        article.version,
        tuple(relinked),
        regrouped,
    )
