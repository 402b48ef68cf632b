"""Defects from a user audit of the command line, each fixed and kept fixed.

Every test runs the installed `newswatch` in a fresh process with its own NEWSWATCH_* variables
(the helpers of test_cli_errors), so settings are read as a user's shell would give them.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from storage.db import make_engine
from storage.health import record_heartbeat
from storage.models import Alert, Comment, Story, Watch
from tests.servers import NEWSWATCH
from tests.workers.store import add_articles
from tests.workers.test_cli_errors import env_for, error_lines, migrated, nw

WHEN = datetime(2024, 3, 14, 12, tzinfo=UTC)


def _db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "newswatch.db"


def _tables(tmp_path: Path) -> set[str]:
    with sqlite3.connect(_db(tmp_path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _help(tmp_path: Path, *command: str) -> str:
    # Wide, so that Rich does not wrap a help text in the middle of the phrase looked for.
    proc = nw(env_for(tmp_path, COLUMNS="250"), *command, "--help")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---------------------------------------------------------------- 1. no empty database file


def test_drift_does_not_create_a_missing_database(tmp_path: Path) -> None:
    (line,) = error_lines(nw(env_for(tmp_path), "drift"))
    assert line.startswith(f"error: no database at {_db(tmp_path)}")
    assert not _db(tmp_path).exists()


def test_health_beat_reports_a_missing_database_as_unhealthy_without_creating_it(
    tmp_path: Path,
) -> None:
    proc = nw(env_for(tmp_path), "health", "beat")
    # The health contract: 1 is unhealthy (2 is kept for usage errors).
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"unhealthy: beat: no database at {_db(tmp_path)}")
    assert not _db(tmp_path).exists()


# ---------------------------------------------------------------- 2. poll with a bad registry


def test_poll_once_with_a_missing_outlets_dir_is_one_error_line(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    proc = nw(env_for(tmp_path, NEWSWATCH_OUTLETS_DIR=str(missing)), "poll", "--once")
    assert error_lines(proc) == [f"error: {missing}: not a directory of outlet files"]
    assert not _db(tmp_path).exists()  # the registry is read before the store is created


# ---------------------------------------------------------------- 3. db downgrade confirms


def _downgrade(
    env: dict[str, str], *args: str, stdin: int = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEWSWATCH, "db", "downgrade", *args],
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_db_downgrade_without_a_terminal_needs_yes(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    (line,) = error_lines(_downgrade(env, "base"))
    assert "deletes data" in line and "--yes" in line
    assert "articles" in _tables(tmp_path)  # nothing was dropped
    proc = _downgrade(env, "base", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "database at base" in proc.stdout
    assert "articles" not in _tables(tmp_path)


def test_db_downgrade_on_a_terminal_asks_first(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    for answer, code, dropped in (("n\n", 1, False), ("y\n", 0, True)):
        controller, terminal = os.openpty()
        try:
            os.write(controller, answer.encode())
            proc = _downgrade(env, "base", stdin=terminal)
        finally:
            os.close(terminal)
            os.close(controller)
        assert proc.returncode == code, proc.stdout + proc.stderr
        assert "drops tables and deletes their data" in proc.stdout
        assert ("articles" not in _tables(tmp_path)) is dropped


def test_db_downgrade_help_warns_that_it_deletes_data(tmp_path: Path) -> None:
    text = _help(tmp_path, "db", "downgrade")
    assert "DELETES DATA" in text and "--yes" in text


# ---------------------------------------------------------------- 4. queue names


@pytest.mark.parametrize(
    "args",
    [
        ["worker", "-Q", "bogus"],
        ["worker", "--queues", "feeds,artciles"],
        ["health", "worker", "-Q", "feeds,bogus", "--timeout", "1"],
    ],
)
def test_unknown_queues_are_refused_naming_the_valid_ones(tmp_path: Path, args: list[str]) -> None:
    # Before the fix `worker` started consuming the bogus queue: the timeout ends it.
    (line,) = error_lines(nw(env_for(tmp_path), *args, timeout=30))
    assert "unknown queue" in line and line.endswith("valid queues: feeds, articles, alerts")


def test_health_worker_accepts_the_real_queues(tmp_path: Path) -> None:
    proc = nw(env_for(tmp_path), "health", "worker", "-Q", "feeds", "--timeout", "0.5")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # no worker runs: unhealthy, not usage
    assert proc.stdout.startswith("unhealthy: worker:")


# ---------------------------------------------------------------- 5. metrics-reset


def test_metrics_reset_falls_back_to_prometheus_multiproc_dir(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"stale")
    (folder / "notes.txt").write_text("not a metric file")
    proc = nw(env_for(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(folder)), "metrics-reset")
    assert proc.returncode == 0, proc.stderr
    assert f"removed 1 metric files from {folder}" in proc.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


# ---------------------------------------------------------------- 6. status in a pipe


def test_status_in_a_pipe_is_not_cut_to_80_columns(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    env.pop("COLUMNS")
    name = "worker@" + "ingest-node-" * 8 + "end"
    engine = make_engine(f"sqlite:///{_db(tmp_path)}")
    record_heartbeat(engine, name=name, now=datetime.now(UTC))
    engine.dispose()
    proc = nw(env, "status")
    assert proc.returncode == 0, proc.stderr
    assert any(name in line for line in proc.stdout.splitlines()), proc.stdout
    # Expanding tables take the width of their content, not all of a pipe's 400 columns.
    assert max(len(line) for line in proc.stdout.splitlines()) < 200


# ---------------------------------------------------------------- 7. outlets check help


def test_outlets_check_help_does_not_promise_to_stop_at_the_first_error(tmp_path: Path) -> None:
    text = _help(tmp_path, "outlets", "check")
    assert "first error" not in text and "each" in text


# ---------------------------------------------------------------- 8. unknown outlet and watch


def test_articles_list_refuses_an_outlet_known_nowhere(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    (line,) = error_lines(nw(env, "articles", "list", "--outlet", "nosuch"))
    assert line.startswith("error: unknown outlet 'nosuch'")


def test_articles_list_still_lists_a_removed_or_empty_outlet(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    # "retired" is in no registry, but its articles are still stored.
    add_articles(tmp_path, {"outlet_id": "retired", "title": "kept", "status": "failed"})
    proc = nw(env, "articles", "list", "--outlet", "retired", "-f", "json")
    assert proc.returncode == 0 and '"kept"' in proc.stdout, proc.stderr
    # Filtered down to nothing, it is still a known outlet: an empty listing, not an error.
    proc = nw(env, "articles", "list", "--outlet", "retired", "--status", "stored", "-f", "json")
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    # In the (shipped) registry but nothing stored yet.
    proc = nw(env, "articles", "list", "--outlet", "tass", "-f", "json")
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr


def test_alerts_list_refuses_a_watch_known_nowhere(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    for fmt in ("table", "json"):
        (line,) = error_lines(nw(env, "alerts", "list", "--watch", "nosuch", "-f", fmt))
        assert line.startswith("error: unknown watch 'nosuch'")


def test_alerts_list_still_lists_a_watch_in_the_file_or_with_alerts(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    assert nw(env, "watches", "add", "quiet", "-t", "harbour").returncode == 0
    proc = nw(env, "alerts", "list", "--watch", "quiet")
    assert (proc.returncode, proc.stdout.strip()) == (0, "no alerts"), proc.stderr
    # "gone" was removed from the watches file; its alerts stay in the database.
    engine = make_engine(f"sqlite:///{_db(tmp_path)}")
    with Session(engine) as session:
        session.add(Watch(id="gone", terms=["x"], updated_at=WHEN))
        session.commit()
        session.add(Alert(watch_id="gone", kind="fired", interval_start=WHEN, created_at=WHEN))
        session.commit()
    engine.dispose()
    proc = nw(env, "alerts", "list", "--watch", "gone")
    assert proc.returncode == 0, proc.stderr
    assert "gone fired" in proc.stdout


# ---------------------------------------------------------------- 9. health bounds


@pytest.mark.parametrize(
    ("args", "option"),
    [(["db", "--timeout", "-5"], "--timeout"), (["beat", "--max-age", "-1"], "--max-age")],
)
def test_health_refuses_negative_durations(tmp_path: Path, args: list[str], option: str) -> None:
    proc = nw(env_for(tmp_path), "health", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert option in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- 10. help and wording


@pytest.mark.parametrize(
    ("command", "needles"),
    [
        (["worker"], ["Comma-separated queues", "default NEWSWATCH_WORKER_CONCURRENCY"]),
        (["run"], ["default NEWSWATCH_WORKER_CONCURRENCY"]),
        (["articles", "list"], ["Only this outlet's articles", "highest id first"]),
        (["outlets", "add"], ["homepage URL", "Replace an existing file"]),
        (["stories", "list"], ["Most stories to show"]),
        (["alerts", "list"], ["Rows to show"]),
        (["watches", "remove"], ["Watch id"]),
        (["watches", "mute"], ["Watch id"]),
        (["articles", "show"], ["Article id"]),
        (["feeds", "enable"], ["Feed id"]),
        (["articles", "export"], ["<jsonl|csv>"]),
    ],
)
def test_help_texts(tmp_path: Path, command: list[str], needles: list[str]) -> None:
    text = _help(tmp_path, *command)
    for needle in needles:
        assert needle in text, (needle, text)
    assert "Newest articles first" not in text  # `articles list` sorts by id


def test_articles_show_counts_in_the_singular(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    engine = make_engine(f"sqlite:///{_db(tmp_path)}")
    with Session(engine) as session:
        story = Story(title="ferry", created_at=WHEN, updated_at=WHEN)
        session.add(story)
        session.commit()
        story_id = story.id
    engine.dispose()
    add_articles(tmp_path, {"title": "ferry", "story_id": story_id})
    engine = make_engine(f"sqlite:///{_db(tmp_path)}")
    with Session(engine) as session:
        session.add(Comment(article_id=1, position=0, author="reader", text="first!"))
        session.commit()
    engine.dispose()
    proc = nw(env, "articles", "show", "1")
    assert proc.returncode == 0, proc.stderr
    assert f"story: #{story_id}, 1 article;" in proc.stdout
    assert re.search(r"\b1 comment\b", proc.stdout)  # the rule "── 1 comment ──"
    assert "1 articles" not in proc.stdout and "1 comments" not in proc.stdout


def test_flower_refuses_the_placeholder_password_saying_so(tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        NEWSWATCH_BROKER_URL="redis://127.0.0.1:1/0",
        NEWSWATCH_FLOWER_BASIC_AUTH="admin:change-me",
    )
    (line,) = error_lines(nw(env, "flower"))
    assert "placeholder" in line and "refused" in line
    assert "expected user:password" not in line  # the format was right
