"""Dedup end to end on SQLite: versions, exact and near copies, URL duplicates, stories, restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, delete, func, select

from storage import minhash as mh
from storage.db import create_all, make_engine, session_scope
from storage.dedup import (
    body_hash,
    index_lookup,
    normalize_body,
    outlet_named,
    prune_story_index,
    rebuild_index,
)
from storage.models import Article, ArticleVersion, LshBucket, MinHashSignature, Story
from tests.dedup.dedup_helpers import T0, article, create, edit, events, ingest, process, syndicate

WIRE = article("quake_peru_wire")
BYLINE_A = "By Maria Lopez | Daily Herald staff with wire services"
FOOTER_A = "Copyright 2024 Daily Herald. All rights reserved. Sign up for our morning newsletter."
BYLINE_B = "GLOBAL REVIEW — reposted from the wire"
FOOTER_B = "Follow Global Review on Telegram. Support independent journalism: donate today."


def get(engine, aid: int) -> Article:
    with Session(engine) as s:
        a = s.get(Article, aid)
        assert a is not None
        return a


def test_normalize_body_ignores_case_spacing_and_typography() -> None:
    a = "The “quick” brown fox —\n\n jumps   over the lazy dog."
    b = 'the "QUICK" brown fox - jumps over the lazy dog'
    assert normalize_body(a) == "the quick brown fox jumps over the lazy dog"
    assert body_hash(a) == body_hash(b)
    assert body_hash(a) != body_hash(b + " again")


def test_outlet_names_match_ids_and_aliases() -> None:
    assert outlet_named("reuters", ["Reuters"])
    assert outlet_named("ria", ["RIA Novosti"])
    assert outlet_named("wirewire", ["The Wire Agency"], {"wirewire": ["The Wire Agency"]})
    assert not outlet_named("dailyherald", ["Reuters"])
    # a notice names the outlet with its article
    assert outlet_named("telegraph", ["The Telegraph"]) and outlet_named("spiegel", ["Der Spiegel"])
    assert not outlet_named("telegraph", ["The Times"])


def test_first_article_is_new_with_a_story(engine) -> None:
    aid, res = ingest(
        engine, "https://wire.example/peru-quake", "wirewire", WIRE["title"], WIRE["body"]
    )
    assert res.kind == "new" and res.copy_of_id is None and res.version == 1
    assert res.story_id is not None
    with Session(engine) as s:
        story = s.get(Story, res.story_id)
        assert story.first_article_id == aid and story.first_outlet_id == "wirewire"
        assert s.get(MinHashSignature, aid) is not None
        assert s.exec(select(func.count()).select_from(LshBucket)).one() == mh.BANDS + mh.LEAD_BANDS


def test_redelivery_is_unchanged_and_edit_is_a_version(engine) -> None:
    url = "https://wire.example/peru-quake"
    aid, _ = ingest(engine, url, "wirewire", WIRE["title"], WIRE["body"])
    again = process(engine, aid, WIRE["title"], WIRE["body"])
    assert again.kind == "unchanged" and again.version == 1
    updated = WIRE["body"] + "\n\nUpdate: an aftershock of magnitude 5.2 hit on Tuesday."
    res = process(engine, aid, WIRE["title"], updated)
    assert res.kind == "version" and res.version == 2
    retitled = process(engine, aid, "Peru quake: aftershock hits Camana", updated)
    assert retitled.kind == "version" and retitled.version == 3
    with Session(engine) as s:
        versions = s.exec(select(ArticleVersion).order_by(ArticleVersion.version)).all()
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].body == WIRE["body"] and versions[0].title == WIRE["title"]
        assert versions[1].body == updated and versions[1].title == WIRE["title"]
        a = s.get(Article, aid)
        assert a.body == updated and a.title.startswith("Peru quake") and a.version == 3
        assert a.body_hash == body_hash(updated)
        # the index follows the current text
        assert index_lookup(s, mh.body_signature(updated))[0][0] == aid
    # re-polling the same URL with a tracking parameter adds no article
    assert create(engine, url + "?utm_source=twitter#x", "wirewire") == aid


def test_exact_copy_on_another_outlet(engine) -> None:
    a1, _ = ingest(engine, "https://wire.example/peru", "wirewire", WIRE["title"], WIRE["body"])
    body = WIRE["body"].upper().replace("\n\n", "\n\n\n")  # same words, other typography
    a2, res = ingest(engine, "https://herald.example/peru", "dailyherald", "Peru quake", body)
    assert res.kind == "exact" and res.copy_of_id == a1 and res.similarity == 1.0
    c = get(engine, a2)
    assert c.copy_kind == "exact" and c.story_id == get(engine, a1).story_id


@pytest.mark.parametrize("fraction", [0.01, 0.03, 0.05, 0.1])
def test_near_copy_with_boilerplate_byline_and_edits(engine, fraction: float) -> None:
    a1, _ = ingest(engine, "https://wire.example/peru", "wirewire", WIRE["title"], WIRE["body"])
    copy = syndicate(edit(WIRE["body"], fraction, seed=3), byline=BYLINE_A, footer=FOOTER_A)
    a2, res = ingest(engine, "https://herald.example/peru", "dailyherald", WIRE["title"], copy)
    assert res.kind == "near" and res.copy_of_id == a1
    assert 0.8 <= res.similarity < 1.0
    assert get(engine, a2).similarity == res.similarity


def test_near_copy_with_an_added_paragraph(engine) -> None:
    a1, _ = ingest(engine, "https://wire.example/peru", "wirewire", WIRE["title"], WIRE["body"])
    extra = (
        "Local newspaper Correo said classes in Camana would resume on Wednesday after "
        "engineers declared the schools safe."
    )
    copy = syndicate(WIRE["body"] + "\n\n" + extra, byline=BYLINE_B, footer=FOOTER_B)
    _, res = ingest(engine, "https://review.example/p/123", "globalreview", WIRE["title"], copy)
    assert res.kind == "near" and res.copy_of_id == a1


def test_same_topic_articles_are_not_copies_but_share_a_story(engine) -> None:
    results = {}
    for i, a in enumerate(sorted(events(), key=lambda a: a["published"])):
        url = f"https://{a['outlet']}.example/{a['key']}"
        # every outlet's boilerplate, the same on all of its articles
        body = syndicate(a["body"], byline=f"{a['outlet']} newsroom", footer=FOOTER_A)
        now = a["published"] + timedelta(minutes=5)
        results[a["key"]] = (
            a["event"],
            ingest(engine, url, a["outlet"], a["title"], body, published=a["published"], now=now)[
                1
            ],
        )
        assert results[a["key"]][1].kind == "new", a["key"]
    by_event: dict[str, set[int]] = {}
    for event, res in results.values():
        by_event.setdefault(event, set()).add(res.story_id)
    assert all(len(ids) == 1 for ids in by_event.values()), by_event
    stories = [next(iter(ids)) for ids in by_event.values()]
    assert len(set(stories)) == len(stories), "different events must not share a story"
    with Session(engine) as s:
        peru = s.get(Story, results["quake_peru_blog"][1].story_id)
        assert peru.first_outlet_id == "wirewire"
        assert peru.first_published.replace(tzinfo=None) == article("quake_peru_wire")[
            "published"
        ].replace(tzinfo=None)


def test_page_canonical_url_makes_a_url_duplicate(engine) -> None:
    a1, _ = ingest(
        engine, "https://wire.example/world/peru-quake", "wirewire", WIRE["title"], WIRE["body"]
    )
    a2, res = ingest(
        engine,
        "https://wire.example/feeds/item/123456",
        "wirewire",
        WIRE["title"],
        WIRE["body"],
        page_canonical="https://amp.wire.example/world/peru-quake/amp?utm_source=feed",
    )
    assert a2 != a1
    assert res.kind == "url" and res.copy_of_id == a1
    with Session(engine) as s:
        assert s.get(MinHashSignature, a2) is None  # a URL twin is not indexed twice
        assert s.get(Article, a2).copy_kind == "url"


def test_first_seen_wins_even_when_processed_later(engine) -> None:
    early = create(engine, "https://herald.example/peru", "dailyherald", now=T0)
    late = create(
        engine, "https://review.example/peru", "globalreview", now=T0 + timedelta(hours=1)
    )
    copy = syndicate(WIRE["body"], byline=BYLINE_A, footer=FOOTER_A)
    r_late = process(
        engine, late, WIRE["title"], syndicate(WIRE["body"], byline=BYLINE_B, footer=FOOTER_B)
    )
    assert r_late.kind == "new"
    r_early = process(engine, early, WIRE["title"], copy)
    assert r_early.kind == "new" and r_early.relinked == (late,)
    assert get(engine, late).copy_of_id == early
    assert get(engine, early).copy_of_id is None


def test_syndicated_from_links_to_the_named_original(engine) -> None:
    copy_id, first = ingest(
        engine,
        "https://review.example/p/9",
        "globalreview",
        WIRE["title"],
        syndicate(edit(WIRE["body"], 0.05, 1), byline=BYLINE_B, footer=FOOTER_B),
        syndicated_from=["WireWire"],
        now=T0,
    )
    assert first.kind == "new"
    # the original arrives an hour later but the notice names its outlet: it becomes the original
    orig_id, res = ingest(
        engine,
        "https://wire.example/peru",
        "wirewire",
        WIRE["title"],
        WIRE["body"],
        now=T0 + timedelta(hours=1),
    )
    assert res.kind == "new" and copy_id in res.relinked
    c = get(engine, copy_id)
    assert c.copy_of_id == orig_id and c.copy_kind == "syndicated"
    with Session(engine) as s:
        story = s.get(Story, res.story_id)
        # the copy was seen first, but it names wirewire as its source: wirewire published first
        assert story is not None and story.first_outlet_id == "wirewire"
        assert story.first_article_id == orig_id
    # a later copy carrying a notice links straight to it
    _, r3 = ingest(
        engine,
        "https://herald.example/x",
        "dailyherald",
        WIRE["title"],
        REWRITTEN,
        syndicated_from=["wirewire"],
        now=T0 + timedelta(hours=2),
    )
    assert r3.kind == "near" and r3.copy_of_id == orig_id
    assert 0.5 <= r3.similarity < 0.8


REWRITTEN = edit(WIRE["body"], 0.2, 2)  # a heavy rewrite: resemblance ~0.7, below the 0.8 bar


def test_heavy_rewrite_without_notice_is_not_a_copy(engine) -> None:
    _, first = ingest(engine, "https://wire.example/peru", "wirewire", WIRE["title"], WIRE["body"])
    _, res = ingest(engine, "https://herald.example/x", "dailyherald", WIRE["title"], REWRITTEN)
    assert res.kind == "new" and res.copy_of_id is None
    assert res.story_id == first.story_id  # but it is the same story


def test_index_survives_restart_and_rebuild(db_url: str) -> None:
    eng = make_engine(db_url)
    create_all(eng)
    a1, _ = ingest(eng, "https://wire.example/peru", "wirewire", WIRE["title"], WIRE["body"])
    eng.dispose()

    eng2 = make_engine(db_url)  # a new process would open a new engine: nothing in memory
    copy = syndicate(edit(WIRE["body"], 0.04, 7), byline=BYLINE_A, footer=FOOTER_A)
    _, res = ingest(eng2, "https://herald.example/peru", "dailyherald", WIRE["title"], copy)
    assert res.kind == "near" and res.copy_of_id == a1

    with session_scope(eng2) as s:
        before = sorted(s.exec(select(LshBucket.key, LshBucket.article_id)).all())
        s.exec(delete(LshBucket))  # the index is lost
    with session_scope(eng2) as s:
        assert rebuild_index(s) == 2
    with Session(eng2) as s:
        after = sorted(s.exec(select(LshBucket.key, LshBucket.article_id)).all())
        assert after == before
        hits = index_lookup(s, mh.body_signature(edit(WIRE["body"], 0.02, 9)))
        assert [h[0] for h in hits][:1] == [a1]
    eng2.dispose()


def test_signature_round_trip_is_plain_bytes() -> None:
    sig = mh.body_signature(WIRE["body"])
    blob = mh.to_bytes(sig)
    assert len(blob) == 4 * (mh.NUM_PERM + 1) and not blob.startswith(b"\x80")  # not a pickle
    assert (mh.from_bytes(blob) == sig).all()


def test_prune_story_index_keeps_the_body_index(engine) -> None:
    _, res = ingest(engine, "https://wire.example/peru", "wirewire", WIRE["title"], WIRE["body"])
    with session_scope(engine) as s:
        assert prune_story_index(s, before=T0 - timedelta(days=1)) == 0
        assert prune_story_index(s, before=T0 + timedelta(days=10)) == mh.LEAD_BANDS
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(LshBucket)).one() == mh.BANDS


def test_a_canonical_link_to_a_page_not_processed_yet_makes_no_cycle(engine) -> None:
    # Both URLs are in feeds; the alternate (index.php?p=123) is processed first and names the
    # other as its canonical URL, which is still pending. Linking to it then made the canonical
    # page, once processed, a copy of its own copy: a cycle, and no original counted.
    alternate = create(engine, "https://site.example/index.php?p=123", "site")
    canonical = create(engine, "https://site.example/sarmat-test", "site")
    first = process(
        engine,
        alternate,
        WIRE["title"],
        WIRE["body"],
        page_canonical="https://site.example/sarmat-test",
    )
    second = process(engine, canonical, WIRE["title"], WIRE["body"], now=T0 + timedelta(minutes=5))
    assert first.kind == "new" and second.kind == "exact"
    a, c = get(engine, alternate), get(engine, canonical)
    assert a.copy_of_id is None and c.copy_of_id == alternate  # one original, one copy
    assert a.story_id is not None and c.story_id == a.story_id
    # a third fetch that names the stored canonical page is a url copy of the same original
    _, third = ingest(
        engine,
        "https://site.example/print/4567",
        "site",
        WIRE["title"],
        WIRE["body"],
        page_canonical="https://site.example/sarmat-test",
    )
    assert third.kind == "url" and third.copy_of_id == alternate


def test_two_stories_with_the_same_short_placeholder_are_not_one_article(engine) -> None:
    stub = (
        "This is a breaking news story. It will be updated as more information becomes available."
    )
    _, first = ingest(
        engine,
        "https://herald.example/peru-congress",
        "herald",
        "Peru's Congress removes President Boluarte",
        stub,
    )
    _, second = ingest(
        engine, "https://herald.example/alianza", "herald", "Alianza Lima crowned champions", stub
    )
    assert second.kind == "new" and second.copy_of_id is None
    assert second.story_id != first.story_id
    # the same stub under the same headline (a second URL of one page) is still one article
    _, again = ingest(
        engine,
        "https://herald.example/alianza?page=1",
        "herald",
        "Alianza Lima crowned champions",
        stub,
    )
    assert again.kind == "exact"


def test_a_release_a_month_later_sharing_a_long_template_is_its_own_story(engine) -> None:
    template = " ".join(
        [
            "About Acme Therapeutics. Acme Therapeutics is a clinical-stage biotechnology company",
            "developing medicines for rare diseases of the liver and kidney, headquartered in",
            "Cambridge, Massachusetts, with research sites in Basel and Singapore.",
            "Forward-looking statements. This press release contains forward-looking statements",
            "within the meaning of the Private Securities Litigation Reform Act of 1995, including",
            "statements about the timing of clinical trials, regulatory filings and the potential",
            "of our product candidates. These statements are subject to risks and uncertainties",
            "that could cause actual results to differ materially, including risks described in",
            "our most recent annual report on Form 10-K filed with the Securities and Exchange",
            "Commission and in subsequent filings. We undertake no obligation to update them.",
        ]
        * 2
    )
    dosing = "Acme Therapeutics announced that the first patient has been dosed.\n\n" + template
    cfo = "Acme Therapeutics announced that its chief financial officer will step down.\n\n"
    cfo += template
    _, first = ingest(engine, "https://prwire.example/acme-dosing", "prwire", "Dosing", dosing)
    _, later = ingest(
        engine,
        "https://prwire.example/acme-cfo",
        "prwire",
        "CFO to step down",
        cfo,
        now=T0 + timedelta(days=20),
    )
    assert later.kind == "new" and later.story_id != first.story_id
    # the same release within days is still a near copy
    _, soon = ingest(
        engine,
        "https://newsroom.example/acme-cfo",
        "newsroom",
        "CFO to step down",
        cfo.replace("announced that", "said"),
        now=T0 + timedelta(days=21),
    )
    assert soon.kind in ("near", "exact") and soon.story_id == later.story_id


def test_the_true_original_is_compared_even_behind_many_articles_sharing_a_footer(engine) -> None:
    # An outlet's long standard footer puts every one of its articles in the copy's buckets;
    # candidates used to be the 200 newest, and an original older than that was never seen.
    import random

    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(5000)]
    footer = (
        "About this publication: The Daily Ledger is an independent newspaper founded in 1921 "
        "and owned by the Ledger Trust. Our journalism is funded by readers. Corrections "
        "policy: we correct errors promptly; write to the corrections desk. Our reporters "
        "follow the code of practice of the Independent Press Standards Organisation. "
        "Republication: this article may not be reproduced without written permission."
    )

    def body() -> str:
        return " ".join(rng.choice(vocab) for _ in range(40)) + "\n\n" + footer

    first = body()
    original, _ = ingest(engine, "https://ledger.example/0", "ledger", "Story 0", first)
    for i in range(1, 231):
        ingest(
            engine,
            f"https://ledger.example/{i}",
            "ledger",
            f"Story {i}",
            body(),
            now=T0 + timedelta(minutes=i),
        )
    _, copy = ingest(
        engine,
        "https://herald.example/copy",
        "herald",
        "Story 0",
        "By Herald staff\n\n" + first,
        now=T0 + timedelta(days=3),
    )
    assert copy.kind == "near" and copy.copy_of_id == original
