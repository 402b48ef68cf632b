"""Every fixture under tests/fixtures/cleaning cleans to the result written beside it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cleaning import clean

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cleaning"
CASES = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".txt", ".html"))
LANGS = {p.name.split("_")[0] for p in CASES}


def _expected(path: Path) -> dict:
    return json.loads(path.with_name(path.stem + ".expected.json").read_text(encoding="utf-8"))


def test_fixtures_cover_six_languages_in_html_and_text():
    assert {"en", "de", "ru", "fr", "es", "uk"} <= LANGS
    for lang in ("en", "de", "ru", "fr", "es", "uk"):
        kinds = {p.suffix for p in CASES if p.name.startswith(lang + "_")}
        assert kinds == {".txt", ".html"}, lang


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_fixture(path: Path):
    exp = _expected(path)
    got = clean(path.read_bytes())
    assert got.title == exp["title"]
    assert got.authors == exp["authors"]
    assert got.published == exp["published"]
    assert got.language == exp["language"] == path.name.split("_")[0]
    assert got.outlet == exp["outlet"]
    assert got.paragraphs == exp["body"]
    assert [{"author": c.author, "text": c.text, "kind": c.kind} for c in got.comments] == exp[
        "comments"
    ]
    assert [{"rule": r.rule, "text": r.text} for r in got.removed] == exp["removed"]
    assert got.syndicated_from == exp["syndicated_from"]
    assert got.image_credits == exp["image_credits"]
    assert got.canonical_url == exp["canonical_url"]


@pytest.mark.parametrize("path", [p for p in CASES if p.suffix == ".txt"], ids=lambda p: p.name)
def test_nothing_is_silently_lost_from_text(path: Path):
    """Every input line ends up in the body, a comment, or a removed span."""
    got = clean(path.read_text(encoding="utf-8"))
    kept = [*got.paragraphs, *(ln for c in got.comments for ln in c.text.split("\n"))]
    kept += [r.text for r in got.removed]
    kept += [c.author for c in got.comments if c.author]
    pool = "\n".join(kept)
    for line in path.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            caps = [r.text for r in got.removed if r.rule == "drop_cap"]
            repaired = [line[len(c) :].lstrip() for c in caps if line.startswith(c)]
            assert line in pool or line.lstrip("• ") in pool or any(x in pool for x in repaired), (
                line
            )


@pytest.mark.parametrize("path", [p for p in CASES if p.suffix == ".html"], ids=lambda p: p.name)
def test_no_comment_text_in_html_body(path: Path):
    got = clean(path.read_bytes())
    assert got.comments, "every HTML fixture has a comment section"
    for c in got.comments:
        for line in c.text.split("\n"):
            assert line not in got.body
