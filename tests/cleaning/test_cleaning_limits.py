"""The cleaner's size limit: text past `MAX_TEXT_CHARS` is cut, and the cut is in `removed`."""

from __future__ import annotations

from cleaning import MAX_TEXT_CHARS, clean

PARAGRAPH = "The harbour council met on Tuesday and agreed the ferry budget for next year.\n\n"


def text_of(length: int) -> str:
    """Plain text (no HTML) of exactly `length` characters, made of ordinary paragraphs."""
    return (PARAGRAPH * (length // len(PARAGRAPH) + 1))[:length]


def test_text_over_the_limit_records_the_cut_in_removed():
    article = clean(text_of(MAX_TEXT_CHARS + 10))
    cuts = [r for r in article.to_dict()["removed"] if r["rule"] == "truncated"]
    assert len(cuts) == 1
    assert cuts[0]["text"].startswith("10 characters ")
    # the entry stays small however much was cut
    assert len(cuts[0]["text"]) < 100


def test_text_at_the_limit_records_no_cut():
    article = clean(text_of(MAX_TEXT_CHARS))
    assert all(r.rule != "truncated" for r in article.removed)
