"""The LSH index's keys and rows: one integer key per band, kept in step with the article's text."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import Session, select

from storage import minhash as mh
from storage.dedup import STORY_BAND_OFFSET, STORY_KEY_MIN, body_keys, story_keys
from storage.models import LshBucket, MinHashSignature
from tests.dedup.dedup_helpers import article, ingest, process

WIRE = article("quake_peru_wire")


def test_vectorised_keys_equal_the_per_signature_keys() -> None:
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 2**32 - 1, size=(50, mh.NUM_PERM + 1), dtype=np.uint32)
    many = mh.band_keys_many(sigs)
    assert many.shape == (50, mh.BANDS) and many.dtype == np.int64
    assert [mh.band_keys(s) for s in sigs] == many.tolist()
    assert len(set(many.ravel().tolist())) == many.size  # no collisions among random bands


def test_each_band_is_its_own_key_range() -> None:
    sig = mh.body_signature(WIRE["body"])
    for band, key in enumerate(body_keys(sig)):
        low, high = mh.band_range(band, 1)
        assert low <= key < high
    lead = mh.lead_signature(mh.lead_tokens(WIRE["title"], WIRE["body"]))
    day_keys = story_keys(lead, 19_800)
    assert all(k >= STORY_KEY_MIN for k in day_keys)
    assert day_keys[0] >> mh.BUCKET_BITS == STORY_BAND_OFFSET
    # the story index is salted by day: the same lead on another day lands elsewhere
    assert set(day_keys).isdisjoint(story_keys(lead, 19_801))
    assert story_keys(lead, 19_800) == day_keys


def test_keys_depend_on_every_row_of_the_band() -> None:
    sig = mh.body_signature(WIRE["body"]).copy()
    before = body_keys(sig)
    sig[mh.ROWS * 5 + mh.ROWS - 1] ^= 1  # last row of band 5
    after = body_keys(sig)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [5]


def test_band_numbers_are_bounded() -> None:
    sig = np.zeros(mh.NUM_PERM, dtype=np.uint32)
    with pytest.raises(ValueError):
        mh.band_keys(sig, first_band=mh.MAX_BAND)
    with pytest.raises(ValueError):
        mh.band_keys(sig, bands=mh.NUM_PERM, rows=2)  # needs more values than the signature has


def _body_rows(engine, aid: int) -> list[int]:
    with Session(engine) as s:
        rows = s.exec(
            select(LshBucket.key).where(LshBucket.article_id == aid, LshBucket.key < STORY_KEY_MIN)
        ).all()
        return sorted(rows)


def test_a_new_version_replaces_exactly_its_body_buckets(engine) -> None:
    url = "https://wire.example/peru-quake"
    aid, _ = ingest(engine, url, "wirewire", WIRE["title"], WIRE["body"])
    assert _body_rows(engine, aid) == sorted(body_keys(mh.body_signature(WIRE["body"])))
    updated = WIRE["body"] + "\n\nUpdate: the death toll rose to three, officials said."
    assert process(engine, aid, WIRE["title"], updated).kind == "version"
    new_keys = sorted(body_keys(mh.body_signature(updated)))
    assert _body_rows(engine, aid) == new_keys
    with Session(engine) as s:
        stored = s.get(MinHashSignature, aid)
        assert stored is not None
        assert (mh.from_bytes(stored.signature) == mh.body_signature(updated)).all()
        story_rows = s.exec(
            select(LshBucket.key).where(LshBucket.article_id == aid, LshBucket.key >= STORY_KEY_MIN)
        ).all()
        assert len(story_rows) == mh.LEAD_BANDS  # the story index is left alone
