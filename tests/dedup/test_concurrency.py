"""Eight processes ingesting the same entries at once store each article once, on both databases."""

from __future__ import annotations

import multiprocessing
from collections import defaultdict

import pytest
from sqlmodel import Session, func, select

from sources.urls import canonical_url
from storage import minhash as mh
from storage.db import create_all, make_engine
from storage.models import Article, ArticleVersion, LshBucket, MinHashSignature, Story
from tests.dedup.dedup_helpers import article, concurrent_worker, edit, syndicate

PROCESSES = 8


def _items() -> tuple[list[dict], dict[str, str]]:
    """Entries of several feeds, and the copy group (by canonical URL) each should land in."""
    wire, ecb, ecb2 = (article(k) for k in ("quake_peru_wire", "ecb_wire", "ecb_paper"))
    base = "https://wire.example/world/peru-quake"
    items = [
        {"url": base, "outlet": "wirewire", "title": wire["title"], "body": wire["body"]},
        {
            "url": base + "?utm_source=rss&fbclid=1",
            "outlet": "wirewire",
            "title": wire["title"],
            "body": wire["body"],
        },
        {
            "url": "https://m.wire.example/amp/world/peru-quake",
            "outlet": "wirewire",
            "title": wire["title"],
            "body": wire["body"],
        },
        {
            "url": "https://herald.example/peru",
            "outlet": "dailyherald",
            "title": wire["title"],
            "body": wire["body"],
        },
        {
            "url": "https://review.example/p/1",
            "outlet": "globalreview",
            "title": wire["title"],
            "body": syndicate(edit(wire["body"], 0.03, 1), byline="By staff", footer="Donate now."),
        },
        {
            "url": "https://wire.example/biz/ecb",
            "outlet": "wirewire",
            "title": ecb["title"],
            "body": ecb["body"],
        },
        {
            "url": "https://zeitung.example/ecb",
            "outlet": "zeitungde",
            "title": ecb2["title"],
            "body": ecb2["body"],
        },
        {
            "url": "https://mirror.example/ecb",
            "outlet": "mirror",
            "title": ecb["title"],
            "body": syndicate(ecb["body"], byline="Mirror staff", footer="All rights reserved."),
        },
    ]
    groups = {
        canonical_url(base): "peru",
        canonical_url("https://herald.example/peru"): "peru",
        canonical_url("https://review.example/p/1"): "peru",
        canonical_url("https://wire.example/biz/ecb"): "ecb",
        canonical_url("https://mirror.example/ecb"): "ecb",
        canonical_url("https://zeitung.example/ecb"): "ecb_paper",
    }
    return items, groups


def _run(db_url: str) -> None:
    engine = make_engine(db_url)
    create_all(engine)
    engine.dispose()
    items, groups = _items()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [
        ctx.Process(target=concurrent_worker, args=(db_url, items, seed, start))
        for seed in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=240)  # 8 spawned interpreters on 2 cores: slow, not stuck
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    engine = make_engine(db_url)
    with Session(engine) as s:
        arts = s.exec(select(Article)).all()
        # exactly one article per canonical URL
        assert sorted(a.canonical_url for a in arts) == sorted(groups)
        assert all(a.body_hash and a.version == 1 for a in arts)
        assert s.exec(select(func.count()).select_from(ArticleVersion)).one() == 0
        by_id = {a.id: a for a in arts}
        members: dict[str, list[Article]] = defaultdict(list)
        for a in arts:
            members[groups[a.canonical_url]].append(a)
        for name, group in members.items():
            roots = [a for a in group if a.copy_of_id is None]
            assert len(roots) == 1, (name, [(a.id, a.copy_of_id) for a in group])
            root = roots[0]
            # the first-seen article is the original; copies point at it directly (no cycles)
            assert root == min(group, key=lambda a: (a.first_seen_at, a.id))
            for a in group:
                if a is not root:
                    assert a.copy_of_id == root.id and a.copy_kind in ("exact", "near")
                    assert by_id[a.copy_of_id].copy_of_id is None
            assert len({a.story_id for a in group}) == 1
        assert members["ecb"][0].story_id == members["ecb_paper"][0].story_id
        assert members["peru"][0].story_id != members["ecb"][0].story_id
        assert s.exec(select(func.count()).select_from(Story)).one() == 2
        assert s.exec(select(func.count()).select_from(MinHashSignature)).one() == len(arts)
        per_article = s.exec(
            select(LshBucket.article_id, func.count()).group_by(LshBucket.article_id)
        ).all()
        assert all(n >= mh.BANDS for _, n in per_article)
    engine.dispose()


@pytest.mark.slow
def test_eight_processes_sqlite(db_url: str) -> None:
    _run(db_url)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_eight_processes_postgres(postgres_db: str) -> None:
    _run(postgres_db)
