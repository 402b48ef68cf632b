"""Watches TOML: validation with clear errors, round trips, add/remove/mute, quiet hours, DB mirror."""

from __future__ import annotations

import multiprocessing
import re
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from alerts.watches import (
    QuietHours,
    WatchError,
    add_watch,
    load_watches,
    mute_watch,
    parse_duration,
    parse_watch,
    parse_watches,
    remove_watch,
    sync_watches,
)
from storage.models import Watch

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "alerts" / "watches.toml"


def test_fixture_loads() -> None:
    watches = load_watches(FIXTURE)
    assert [w.id for w in watches] == ["sarmat", "nord-stream"]
    sarmat, ns = watches
    assert sarmat.matcher.matches("о Сармате") and sarmat.languages == ("en", "ru")
    assert ns.outlets == ("spiegel", "welt") and ns.sensitivity == 0.5
    assert ns.muted(datetime(2029, 1, 1, tzinfo=UTC)) and not ns.muted(
        datetime(2031, 1, 1, tzinfo=UTC)
    )
    assert str(ns.quiet_hours) == "23:30-06:00 Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[watch]]\nid = "a"\nterms = ["x"]\ncolour = "red"\n', "unknown key 'colour'"),
        ('[[watch]]\nid = "a"\n', "key 'terms' is required"),
        ('[[watch]]\nid = "A B"\nterms = ["x"]\n', "key 'id'"),
        (
            '[[watch]]\nid = "a"\nterms = ["x"]\nrecipients = ["not-an-address"]\n',
            "key 'recipients'",
        ),
        (
            # smtplib sends addresses as ASCII: this one would fail every message of the watch.
            '[[watch]]\nid = "a"\nterms = ["x"]\nrecipients = ["jürgen@example.org"]\n',
            "key 'recipients'",
        ),
        ('[[watch]]\nid = "a"\nterms = ["x"]\nsensitivity = 99\n', "key 'sensitivity'"),
        ('[[watch]]\nid = "a"\nterms = ["x"]\nquiet_hours = "late"\n', "key 'quiet_hours'"),
        (
            '[[watch]]\nid = "a"\nterms = ["x"]\nquiet_hours = "22:00-07:00 Mars/Base"\n',
            "time zone",
        ),
        (
            # an empty window, or a whole day of held emails: either way not what was meant
            '[[watch]]\nid = "a"\nterms = ["x"]\nquiet_hours = "22:00-22:00"\n',
            "start and end are the same time",
        ),
        (
            '[[watch]]\nid = "a"\nterms = ["x"]\nmuted_until = 2030-01-01T00:00:00\n',
            "key 'muted_until'",
        ),
        ('[[watch]]\nid = "a"\nterms = ["x*y"]\n', "key 'terms'"),
        ('[[watch]]\nid = "a"\nterms = ["x"]\n[[watch]]\nid = "a"\nterms = ["y"]\n', "duplicate"),
        ("watch = 3\n", "key 'watch'"),
        ("[[watch]\n", "not valid TOML"),
    ],
)
def test_validation_errors_name_the_key(text: str, needle: str) -> None:
    with pytest.raises(WatchError, match=needle.replace("(", r"\(").replace("*", r"\*")):
        parse_watches(text)


def test_add_remove_mute_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    shutil.copy(FIXTURE, path)
    add_watch(path, parse_watch({"id": "kgd", "terms": ["Kaliningrad", "Калининград*"]}))
    with pytest.raises(WatchError, match="already exists"):
        add_watch(path, parse_watch({"id": "kgd", "terms": ["x"]}))
    until = datetime(2031, 2, 3, 4, 5, tzinfo=UTC)
    mute_watch(path, "kgd", until)
    again = {w.id: w for w in load_watches(path)}
    assert again["kgd"].muted_until == until
    assert again["sarmat"] == load_watches(FIXTURE)[0]  # untouched entries survive unchanged
    remove_watch(path, "nord-stream")
    assert [w.id for w in load_watches(path)] == ["sarmat", "kgd"]
    with pytest.raises(WatchError, match="no watch"):
        remove_watch(path, "nope")
    assert load_watches(tmp_path / "missing.toml") == []


def test_quiet_hours_wrap_midnight_and_time_zones() -> None:
    q = QuietHours.parse("22:00-07:00")
    assert q.contains(datetime(2024, 1, 1, 23, tzinfo=UTC))
    assert q.contains(datetime(2024, 1, 1, 6, 59, tzinfo=UTC))
    assert not q.contains(datetime(2024, 1, 1, 7, 0, tzinfo=UTC))
    assert q.ends_after(datetime(2024, 1, 1, 23, tzinfo=UTC)) == datetime(2024, 1, 2, 7, tzinfo=UTC)
    berlin = QuietHours.parse("22:00-07:00 Europe/Berlin")  # UTC+1 in January
    assert berlin.contains(datetime(2024, 1, 1, 21, 30, tzinfo=UTC))
    assert not berlin.contains(datetime(2024, 1, 1, 6, 30, tzinfo=UTC))


def test_parse_duration() -> None:
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration("90m") == timedelta(minutes=90)
    for bad in ("3", "-1d", "2y", "400d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_sync_watches_mirrors_definitions_and_keeps_state(engine) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    watches = load_watches(FIXTURE)
    with Session(engine) as s:
        sync_watches(s, watches, now)
        row = s.get(Watch, "sarmat")
        row.detector_state = {"t0": 1, "m": [1]}
        s.add(row)
        s.commit()
    changed = [parse_watch({"id": "sarmat", "terms": ["Sarmat"], "recipients": ["b@example.org"]})]
    with Session(engine) as s:
        sync_watches(s, changed, now + timedelta(hours=1))
        s.commit()
        row = s.get(Watch, "sarmat")
        assert row.terms == ["Sarmat"] and row.recipients == ["b@example.org"]
        assert row.detector_state == {"t0": 1, "m": [1]}
        assert s.get(Watch, "nord-stream").muted_until is not None


def _add_one(path: str, i: int, barrier) -> None:
    barrier.wait()
    add_watch(Path(path), parse_watch({"id": f"w{i}", "terms": [f"term{i}"]}))


def test_concurrent_edits_lose_no_watch(tmp_path: Path) -> None:
    path = tmp_path / "watches.toml"
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_add_one, args=(str(path), i, barrier)) for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * 8
    # Without the lock, each process read the file before the others renamed theirs in.
    assert sorted(w.id for w in load_watches(path)) == sorted(f"w{i}" for i in range(8))


def test_an_edit_keeps_the_files_mode_and_its_symlink(tmp_path: Path) -> None:
    real = tmp_path / "conf" / "watches.toml"
    real.parent.mkdir()
    add_watch(real, parse_watch({"id": "a", "terms": ["x"]}))
    real.chmod(0o644)
    link = tmp_path / "watches.toml"
    link.symlink_to(real)
    add_watch(link, parse_watch({"id": "b", "terms": ["y"]}))
    assert link.is_symlink()
    assert [w.id for w in load_watches(real)] == ["a", "b"]
    assert stat.S_IMODE(real.stat().st_mode) == 0o644


def test_a_new_watches_file_is_readable_by_a_worker_running_as_another_user(
    tmp_path: Path,
) -> None:
    import os

    umask = os.umask(0o022)
    try:
        created = tmp_path / "new" / "watches.toml"
        add_watch(created, parse_watch({"id": "a", "terms": ["x"]}))
    finally:
        os.umask(umask)
    assert stat.S_IMODE(created.stat().st_mode) == 0o644  # mkstemp alone gave 0600


def test_unreadable_watches_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(WatchError, match="not a file"):
        load_watches(tmp_path)
    bad = tmp_path / "w.toml"
    bad.write_bytes(b'[[watch]]\nid = "a"\nterms = ["\xff"]\n')
    with pytest.raises(WatchError, match="not UTF-8"):
        load_watches(bad)


@pytest.mark.parametrize(
    "value",
    [
        '"9999-12-31T23:59:59-05:00"',  # as a string
        "9999-12-31T23:59:59-05:00",  # as a TOML datetime
        '"0001-01-01T00:00:00+05:00"',  # before the first UTC datetime
    ],
)
def test_a_muted_until_past_the_utc_range_is_an_error_naming_the_key(value: str) -> None:
    with pytest.raises(WatchError, match="key 'muted_until'"):
        parse_watches(f'[[watch]]\nid = "a"\nterms = ["x"]\nmuted_until = {value}\n')


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_file_that_fails_to_read_is_a_watch_error() -> None:
    # /proc/self/mem opens but its first read fails with EIO.
    with pytest.raises(WatchError, match=r"^cannot read /proc/self/mem: Input/output error$"):
        load_watches(Path("/proc/self/mem"))


def test_an_edit_under_a_file_instead_of_a_folder_is_a_watch_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a folder\n")
    for path in (tmp_path / "notes.txt" / "w.toml", tmp_path / "notes.txt" / "sub" / "w.toml"):
        with pytest.raises(WatchError, match="notes.txt is not a folder"):
            add_watch(path, parse_watch({"id": "a", "terms": ["x"]}))


def test_errors_name_the_file_as_given_not_only_its_base_name(tmp_path: Path) -> None:
    # Two folders may each hold a watches.toml: the message must say which one.
    path = tmp_path / "team-a" / "watches.toml"
    path.parent.mkdir()
    path.write_text('[[watch]]\nid = "a"\n', encoding="utf-8")
    with pytest.raises(WatchError) as err:
        load_watches(path)
    assert str(err.value).startswith(f"{path}: watch #1 'a': key 'terms'")
    with pytest.raises(
        WatchError, match=f"^{re.escape(str(path.parent / 'other.toml'))}: no watch"
    ):
        remove_watch(path.parent / "other.toml", "a")


COMMENTED = """\
# Watches for the Baltic desk. Ask Anna before changing recipients.

[[watch]]
id = "sarmat"            # the missile, not the tribe
terms = ["Sarmat*", "Сармат*"]
recipients = ["desk@example.org"]

# Muted during the exercise season.
[[watch]]
id = "kgd"
terms = ["Kaliningrad"]
"""


def test_edits_keep_the_operators_comments_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    until = datetime(2031, 2, 3, 4, 5, tzinfo=UTC)
    assert mute_watch(path, "kgd", until).muted_until == until
    text = path.read_text(encoding="utf-8")
    for comment in ("# Watches for the Baltic desk", "# the missile", "# Muted during"):
        assert comment in text
    assert {w.id: w.muted_until for w in load_watches(path)} == {"sarmat": None, "kgd": until}
    mute_watch(path, "kgd", None)  # unmuting removes the key again
    assert path.read_text(encoding="utf-8") == COMMENTED
    add_watch(path, parse_watch({"id": "nord-stream", "terms": ["Nord Stream"]}))
    remove_watch(path, "nord-stream")
    assert path.read_text(encoding="utf-8").startswith(COMMENTED.rstrip("\n"))
    remove_watch(path, "kgd")
    assert "# the missile" in path.read_text(encoding="utf-8")
    assert [w.id for w in load_watches(path)] == ["sarmat"]


def test_an_inline_watch_array_is_edited_in_place(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('watch = [{id = "a", terms = ["x"]}]  # inline\n', encoding="utf-8")
    add_watch(path, parse_watch({"id": "b", "terms": ["y"]}))
    assert [w.id for w in load_watches(path)] == ["a", "b"]
    assert "# inline" in path.read_text(encoding="utf-8")


def test_the_readmes_watch_example_is_a_valid_watches_file() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Keyword watches and spike alerts", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (watch,) = parse_watches(example, source="README.md")
    assert watch.id == "sarmat" and str(watch.quiet_hours) == "22:00-07:00 Europe/Berlin"
    assert watch.matcher.matches("Сармата испытали") and watch.matcher.matches("Sarmat-2")
