"""Storable text: the one rule for characters the databases refuse, kept in step across packages."""

from __future__ import annotations

from sources import feeds
from storage import text


def test_feed_parser_and_storage_boundary_strip_the_same_characters() -> None:
    # Two copies because sources/ and storage/ may not import each other; they must not drift.
    assert feeds._UNSTORABLE.pattern == text._UNSTORABLE.pattern


def test_storable_drops_nul_controls_and_lone_surrogates_but_keeps_text() -> None:
    raw = "a\x00b\x07c\ud800d\te\nf — ж 😀"
    assert text.storable(raw) == "abcd\te\nf — ж 😀"
