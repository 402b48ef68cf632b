"""store_clean_article as the pipeline calls it: version dating and outlets named by their names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from sqlmodel import Session, select

from cleaning.types import CleanArticle
from sources.urls import canonical_url, url_hash
from storage import feed_repo
from storage.db import create_all, make_engine, session_scope
from storage.models import Article, ArticleVersion
from tests.dedup.dedup_helpers import article as corpus_article
from workers.pipeline import store_clean_article

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
WIRE = corpus_article("quake_peru_wire")


def _engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    create_all(engine)
    return engine


def _create(engine, url: str, outlet: str, when: datetime) -> int:
    with session_scope(engine) as s:
        aid, _ = feed_repo.create_article(
            s,
            values={
                "outlet_id": outlet,
                "url": url,
                "canonical_url": canonical_url(url),
                "url_hash": url_hash(canonical_url(url)),
                "first_seen_at": when,
            },
        )
    return aid


def _store(
    engine, aid: int, cleaned: CleanArticle, when: datetime, outlets=None, watches=None
) -> str:
    with session_scope(engine) as s:
        current = s.get(Article, aid)
        assert current is not None
        outcome = store_clean_article(
            s,
            article=current,
            cleaned=cleaned,
            raw=b"<html></html>",
            content_type="text/html",
            now=when,
            outlets=outlets,
            watches=watches,
        )
    return outcome.dedup or ""


def test_an_earlier_version_keeps_the_time_it_was_fetched(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    aid = _create(engine, "https://wire.example/quake", "wire", T0)
    _store(engine, aid, CleanArticle(title=WIRE["title"], body=WIRE["body"]), T0)
    updated = CleanArticle(title=WIRE["title"], body=WIRE["body"] + "\n\nUpdate: two aftershocks.")
    assert _store(engine, aid, updated, T0 + timedelta(hours=3)) == "version"
    with Session(engine) as s:
        (old,) = s.exec(select(ArticleVersion)).all()
        article = s.get(Article, aid)
        assert article is not None
        # it was dated when it was replaced (11:00), not when it was fetched (08:00)
        assert old.fetched_at.replace(tzinfo=UTC) == T0
        assert article.fetched_at.replace(tzinfo=UTC) == T0 + timedelta(hours=3)


def test_a_notice_naming_an_outlet_by_its_display_name_credits_that_outlet(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    outlets = {
        "telegraph-uk": SimpleNamespace(name="The Daily Telegraph"),
        "global-review": SimpleNamespace(name="Global Review"),
    }
    repost = _create(engine, "https://review.example/they-never-learn", "global-review", T0)
    original = _create(
        engine, "https://telegraph.example/quake", "telegraph-uk", T0 + timedelta(minutes=12)
    )
    _store(
        engine,
        repost,
        CleanArticle(
            title="They never learn",
            body=WIRE["body"],
            syndicated_from=["The Daily Telegraph"],
        ),
        T0,
        outlets,
    )
    _store(engine, original, CleanArticle(title=WIRE["title"], body=WIRE["body"]), T0, outlets)
    with Session(engine) as s:
        r, o = s.get(Article, repost), s.get(Article, original)
        assert r is not None and o is not None
        assert o.copy_of_id is None
        assert r.copy_of_id == original and r.copy_kind == "syndicated"


def test_a_stub_updated_into_a_copy_joins_the_original_story_and_counts_once(
    tmp_path: Path,
) -> None:
    """A "breaking" stub stood alone in its own story; updated to the wire text it is a copy of,
    it stayed there, and the story's term was counted twice."""
    from alerts.watches import parse_watch
    from storage.models import Mention, Story

    engine = _engine(tmp_path)
    watch = [parse_watch({"id": "w", "terms": ["Arequipa"]})]
    wire = _create(engine, "https://reuters.example/peru", "reuters", T0)
    _store(engine, wire, CleanArticle(title=WIRE["title"], body=WIRE["body"]), T0, watches=watch)
    herald = _create(engine, "https://herald.example/live/peru", "herald", T0)
    stub = CleanArticle(
        title="BREAKING: tremor near Arequipa",
        body="Breaking news: a strong tremor was reported near Arequipa. Details to follow.",
    )
    _store(engine, herald, stub, T0 + timedelta(minutes=5), watches=watch)
    with Session(engine) as s:
        assert len(s.exec(select(Story)).all()) == 2
    full = CleanArticle(
        title=WIRE["title"],
        body="By Herald staff with Reuters\n\n" + WIRE["body"],
        syndicated_from=["Reuters"],
    )
    assert _store(engine, herald, full, T0 + timedelta(minutes=40), watches=watch) == "version"
    with Session(engine) as s:
        h, w = s.get(Article, herald), s.get(Article, wire)
        assert h is not None and w is not None
        assert h.copy_of_id == wire and h.copy_kind == "syndicated"
        assert h.story_id == w.story_id and h.version == 2
        assert [(m.watch_id, m.story_key) for m in s.exec(select(Mention)).all()] == [
            ("w", f"s{w.story_id}")
        ]
        assert len(s.exec(select(Story)).all()) == 1  # the stub's own story is gone
