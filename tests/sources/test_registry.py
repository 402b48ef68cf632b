"""Outlet registry: shipped outlets validate, broken files fail with errors naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sources.registry import (
    Outlet,
    OutletError,
    accepts_url,
    dump_outlet_toml,
    load_outlet_file,
    load_outlets,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "sources" / "outlets"
FIXTURES = REPO / "tests" / "fixtures" / "outlets"

REQUIRED_OUTLETS = {
    "telegraph": "The Telegraph",
    "spiegel-international": "Der Spiegel International",
    "spiegel": "Der Spiegel",
    "welt": "Die Welt",
    "faz": "Frankfurter Allgemeine Zeitung",
    "southfront": "SouthFront",
    "inosmi": "InoSMI",
    "vpk-name": "VPK.name",
    "global-review": "Global Review",
    "tass": "TASS",
    "meduza": "Meduza",
    "moscow-times": "The Moscow Times",
    "kyiv-independent": "The Kyiv Independent",
    "ukrainska-pravda": "Ukrainska Pravda",
    "bbc-world": "BBC News - World",
    "guardian-world": "The Guardian - World news",
    "al-jazeera": "Al Jazeera English",
    "dw": "DW News",
    "france24": "France 24",
    "le-monde": "Le Monde",
    "euronews": "Euronews",
    "politico-europe": "Politico Europe",
    "rferl": "Radio Free Europe/Radio Liberty",
    "defense-news": "Defense News",
    "breaking-defense": "Breaking Defense",
    "war-on-the-rocks": "War on the Rocks",
}


def test_every_shipped_outlet_validates() -> None:
    outlets = load_outlets(SHIPPED)
    assert len(outlets) >= 25
    assert [o.id for o in outlets] == sorted(o.id for o in outlets)
    by_id = {o.id: o for o in outlets}
    for oid, name in REQUIRED_OUTLETS.items():
        assert by_id[oid].name == name
    for o in outlets:
        assert o.source_file is not None and o.source_file.name == f"{o.id}.toml"
        assert all(f.startswith("https://") for f in o.feeds), o.id
        assert len(o.language) == 2 and len(o.country) == 2
    assert by_id["spiegel"].language == "de" and by_id["spiegel-international"].language == "en"
    assert by_id["inosmi"].language == "ru" and by_id["ukrainska-pravda"].language == "uk"


def test_valid_fixture_round_trips_through_toml(tmp_path: Path) -> None:
    outlets = load_outlets(FIXTURES / "valid")
    assert [o.id for o in outlets] == ["alpha", "beta"]
    alpha = outlets[0]
    assert alpha.feeds == ("https://alpha.example/rss.xml", "https://alpha.example/world/rss.xml")
    assert alpha.cleaning.boilerplate_patterns == ("^Read more:",)
    assert alpha.poll_interval_seconds == 900
    assert outlets[1].poll_interval_seconds is None
    (tmp_path / "alpha.toml").write_text(dump_outlet_toml(alpha), encoding="utf-8")
    again = load_outlet_file(tmp_path / "alpha.toml")
    assert again.model_dump(exclude={"source_file"}) == alpha.model_dump(exclude={"source_file"})
    with pytest.raises(Exception):  # noqa: B017 - frozen model
        alpha.name = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown_key", ["x.toml: unknown key 'feed'"]),
        ("bad_url", ["tass.toml: feeds[1]: 'ftp://x' is not an http(s) URL"]),
        ("bad_language", ["lang.toml: language: 'english' is not an ISO 639-1"]),
        ("bad_country", ["country.toml: country: 'gb' is not an upper-case ISO 3166-1"]),
        ("syntax_error", ["broken.toml: TOML syntax error:", "line 2"]),
        ("bad_regex", ["regex.toml: url_exclude[1]: '([unclosed' is not a valid regular"]),
        ("missing_feeds", ["empty.toml: feeds:"]),
        ("duplicate_id", ["second.toml: id: 'same' is already used by first.toml"]),
        ("duplicate_feed", ["two.toml: feeds[0]: 'HTTPS://Shared.Example/rss/' is already"]),
    ],
)
def test_broken_files_name_file_and_key(case: str, expected: list[str]) -> None:
    with pytest.raises(OutletError) as info:
        load_outlets(FIXTURES / case)
    message = str(info.value)
    for part in expected:
        assert part in message, message
    assert info.value.problems and all(":" in p for p in info.value.problems)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    for case in ("unknown_key", "bad_url", "syntax_error"):
        for f in (FIXTURES / case).glob("*.toml"):
            shutil.copy(f, tmp_path / f.name)
    shutil.copy(FIXTURES / "valid" / "beta.toml", tmp_path / "beta.toml")
    with pytest.raises(OutletError) as info:
        load_outlets(tmp_path)
    files = {p.split(":", 1)[0] for p in info.value.problems}
    assert files == {"x.toml", "tass.toml", "broken.toml"}


def test_source_file_key_and_missing_dir_are_rejected(tmp_path: Path) -> None:
    text = (FIXTURES / "valid" / "beta.toml").read_text() + 'source_file = "/etc/passwd"\n'
    (tmp_path / "beta.toml").write_text(text)
    with pytest.raises(OutletError, match=r"beta\.toml: unknown key 'source_file'"):
        load_outlet_file(tmp_path / "beta.toml")
    with pytest.raises(OutletError, match="not a directory"):
        load_outlets(tmp_path / "nope")


def test_outlets_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.settings import Settings

    custom = tmp_path / "my-outlets"
    custom.mkdir()
    shutil.copy(FIXTURES / "valid" / "beta.toml", custom / "beta.toml")
    monkeypatch.setenv("NEWSWATCH_OUTLETS_DIR", str(custom))
    settings = Settings(_env_file=None)
    assert [o.id for o in load_outlets(settings.outlets_dir)] == ["beta"]
    monkeypatch.delenv("NEWSWATCH_OUTLETS_DIR")
    assert Settings(_env_file=None).outlets_dir.resolve() == SHIPPED.resolve()


def test_accepts_url_applies_include_and_exclude() -> None:
    alpha = load_outlet_file(FIXTURES / "valid" / "alpha.toml")
    assert accepts_url(alpha, "https://alpha.example/news/2024/story")
    assert accepts_url(alpha, "https://alpha.example/world/asia/story")
    assert not accepts_url(alpha, "https://alpha.example/sport/story")
    assert not accepts_url(alpha, "https://alpha.example/news/video/clip")
    beta = load_outlet_file(FIXTURES / "valid" / "beta.toml")
    assert accepts_url(beta, "https://anything.example/x")


def test_outlet_model_rejects_bad_ids_and_schemes() -> None:
    base = {
        "id": "ok",
        "name": "Ok",
        "language": "en",
        "country": "GB",
        "homepage": "https://ok.example/",
        "feeds": ["https://ok.example/rss"],
    }
    assert Outlet.model_validate(base).id == "ok"
    for bad in ({"id": "Bad Id"}, {"homepage": "javascript:alert(1)"}, {"feeds": ["//x/rss"]}):
        with pytest.raises(ValueError):
            Outlet.model_validate(base | bad)


def test_a_fifo_named_like_an_outlet_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    import os

    shutil.copy(FIXTURES / "valid" / "beta.toml", tmp_path / "beta.toml")
    os.mkfifo(tmp_path / "pipe.toml")  # open() would block until a writer came
    with pytest.raises(OutletError) as info:
        load_outlets(tmp_path)
    assert info.value.problems == ["pipe.toml: not a regular file"]


def test_the_readmes_outlet_example_is_a_valid_outlet_file(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Outlets", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "faz.toml").write_text(example, encoding="utf-8")
    outlet = load_outlet_file(tmp_path / "faz.toml")
    assert outlet.cleaning.boilerplate_patterns and outlet.url_include and outlet.url_exclude
    assert accepts_url(outlet, "https://www.faz.net/aktuell/politik/a.html")
    assert not accepts_url(outlet, "https://www.faz.net/aktuell/video/a.html")
