"""Command-line errors: one `error:` line on stderr, exit 2 for bad input, never a traceback.

Every test runs the installed `newswatch` in a fresh process with its own NEWSWATCH_* variables,
80 columns wide and stderr a pipe (where Rich would otherwise wrap long lines).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from storage.db import make_engine
from storage.models import Article
from tests.fixtures.feeds.localserver import LocalServer, rss
from tests.servers import NEWSWATCH, free_port

SECRET = "s3cretPassw0rd"
LONG_URL = "https://courier.example/news/2024/03/14/" + "-".join(["harbour-ferry"] * 12) + ".html"


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return env | {"NEWSWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "80"} | extra


def nw(
    env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # Its own process group, killed whole on a timeout: a service command that wrongly starts
    # (as `run --concurrency 0` did) must not leave worker processes behind.
    with subprocess.Popen(
        [NEWSWATCH, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, errs = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, errs)


def error_lines(proc: subprocess.CompletedProcess[str], code: int = 2) -> list[str]:
    """stderr's lines, after checking the exit code and that each line is a whole error."""
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), proc.stderr
    return lines


def migrated(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = env_for(tmp_path, **extra)
    proc = nw(env, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    return env


# ---------------------------------------------------------------- 1. invalid settings


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"NEWSWATCH_CONNECT_TIMEOUT": "abc"},
            ["error: NEWSWATCH_CONNECT_TIMEOUT: Input should be a valid number"],
        ),
        (
            {"NEWSWATCH_TASK_TIME_LIMIT": "10"},
            ["error: NEWSWATCH_TASK_TIME_LIMIT must exceed NEWSWATCH_TASK_SOFT_TIME_LIMIT"],
        ),
        (
            # Two problems, two lines; the rejected URL (with its password) is never shown.
            {"NEWSWATCH_SMTP_URL": f"ftp://user:{SECRET}@mail.example", "NEWSWATCH_LOG_JSON": "x"},
            ["error: NEWSWATCH_SMTP_URL must start with", "error: NEWSWATCH_LOG_JSON: "],
        ),
        (
            # An unencoded "/" in the password: redis-py's own error would quote the part
            # before it ("Port could not be cast to integer value as 'S3c'").
            {
                "NEWSWATCH_BROKER_URL": f"redis://:x/{SECRET}@127.0.0.1:1/0",
                "NEWSWATCH_DATABASE_URL": f"postgresql+psycopg://u:x#{SECRET}@db/n",
            },
            [
                "error: NEWSWATCH_DATABASE_URL: cannot read its host and port; percent-encode",
                "error: NEWSWATCH_BROKER_URL: cannot read its host and port; percent-encode",
            ],
        ),
        (
            {"NEWSWATCH_BROKER_URL": "redis://:change-me@redis:6379/0"},
            ["error: NEWSWATCH_BROKER_URL: the password is .env.example's placeholder"],
        ),
        (
            {"NEWSWATCH_UNSUBSCRIBE_URL": "ftp://lists.example/stop"},
            ["error: NEWSWATCH_UNSUBSCRIBE_URL: must be mailto:ADDRESS or an http(s) URL"],
        ),
    ],
)
def test_an_invalid_setting_is_one_line_per_problem(
    tmp_path: Path, variables: dict[str, str], expected: list[str]
) -> None:
    proc = nw(env_for(tmp_path, **variables), "status")
    lines = error_lines(proc)
    assert len(lines) == len(expected), proc.stderr
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), proc.stderr
    assert SECRET not in proc.stderr and "errors.pydantic.dev" not in proc.stderr


def test_an_invalid_line_in_dot_env_is_reported_by_its_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NEWSWATCH_READ_TIMEOUT=abc\n", encoding="utf-8")
    proc = nw(env_for(tmp_path), "articles", "list", cwd=tmp_path)
    assert error_lines(proc) == [
        "error: NEWSWATCH_READ_TIMEOUT: Input should be a valid number, unable to parse string "
        "as a number"
    ]


# ---------------------------------------------------------------- 2. files


def test_export_to_a_missing_folder_or_to_a_folder_is_one_line(tmp_path: Path) -> None:
    env = migrated(tmp_path)
    lines = error_lines(nw(env, "articles", "export", "-o", str(tmp_path / "none" / "x.jsonl")))
    assert len(lines) == 1 and "No such file or directory" in lines[0], lines
    lines = error_lines(nw(env, "articles", "export", "-o", str(tmp_path)))
    assert len(lines) == 1 and "is a folder" in lines[0], lines


def test_demo_keep_must_be_a_new_folder(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    afile = tmp_path / "notes.txt"
    afile.write_text("mine", encoding="utf-8")
    lines = error_lines(nw(env, "demo", "--keep", str(afile)))
    assert len(lines) == 1 and "new folder" in lines[0], lines
    # A folder under a regular file cannot be made: the entry point's last resort for OSError.
    lines = error_lines(nw(env, "demo", "--keep", str(afile / "sub")))
    assert len(lines) == 1 and str(afile / "sub") in lines[0], lines

    # 9. A second demo into the same folder would store every article again under new ports.
    previous = tmp_path / "previous-demo"
    previous.mkdir()
    (previous / "newswatch.db").write_bytes(b"")
    lines = error_lines(nw(env, "demo", "--keep", str(previous)))
    assert len(lines) == 1 and "not empty" in lines[0] and "new folder" in lines[0], lines
    assert [p.name for p in previous.iterdir()] == ["newswatch.db"]


# ---------------------------------------------------------------- 3, 4. service options


@pytest.mark.parametrize(
    ("args", "variables"),
    [
        (["run", "--loglevel", "bogus"], {}),
        (["worker", "--loglevel", "bogus"], {}),
        (["beat"], {"NEWSWATCH_LOG_LEVEL": "loud"}),
    ],
)
def test_an_unknown_log_level_is_refused(
    tmp_path: Path, args: list[str], variables: dict[str, str]
) -> None:
    lines = error_lines(nw(env_for(tmp_path, **variables), *args))
    assert len(lines) == 1 and "is not a log level" in lines[0], lines
    assert ("--loglevel" if not variables else "NEWSWATCH_LOG_LEVEL") in lines[0]


@pytest.mark.parametrize("command", ["run", "worker"])
def test_concurrency_must_be_at_least_one(tmp_path: Path, command: str) -> None:
    # Before the fix 0 was accepted and meant one process per CPU: the service started.
    proc = nw(env_for(tmp_path), command, "--concurrency", "0", timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "--concurrency" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------- 5. poll --once


OUTLET = """\
id = "{id}"
name = "{id}"
language = "en"
country = "GB"
homepage = "{home}"
feeds = [{feeds}]
"""


def write_outlet(folder: Path, outlet_id: str, feeds: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    text = OUTLET.format(id=outlet_id, home=feeds[0], feeds=", ".join(f'"{f}"' for f in feeds))
    (folder / f"{outlet_id}.toml").write_text(text, encoding="utf-8")


def test_poll_once_exits_1_when_every_feed_failed_and_0_when_some_did(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    outlets = tmp_path / "outlets"
    write_outlet(outlets, "courier", [f"{closed}/a.xml", f"{closed}/b.xml"])
    env = env_for(
        tmp_path,
        NEWSWATCH_OUTLETS_DIR=str(outlets),
        NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
        NEWSWATCH_PER_HOST_SPACING="0",
    )
    proc = nw(env, "poll", "--once", "--format", "json")
    summary = json.loads(proc.stdout)
    assert summary["feeds_polled"] == summary["feed_errors"] == 2
    lines = error_lines(proc, code=1)
    assert len(lines) == 1 and lines[0].startswith("error: all 2 feeds polled failed"), lines
    assert "courier: " in lines[0]

    # Outlets are often down: one feed failing among working ones is not the run failing.
    with LocalServer() as server:
        good = server.static("/feed.xml", rss([]), headers={"Content-Type": "application/rss+xml"})
        write_outlet(outlets, "working", [good])
        proc = nw(env, "poll", "--once", "--all", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["feeds_polled"] == 3 and summary["feed_errors"] == 2


# ---------------------------------------------------------------- 6, 7. articles


@pytest.mark.parametrize(
    "args",
    [
        ["--limit", "-5"],
        ["--limit", "0"],
        ["--status", "bogus"],
    ],
)
def test_articles_list_refuses_a_nonsense_limit_or_status(tmp_path: Path, args: list[str]) -> None:
    proc = nw(env_for(tmp_path), "articles", "list", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert args[0] in proc.stderr and "Traceback" not in proc.stderr


def test_articles_show_keeps_a_long_url_on_one_line_and_list_filters_by_status(
    tmp_path: Path,
) -> None:
    env = migrated(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}")
    with Session(engine) as session:
        for n, (url, status) in enumerate(((LONG_URL, "stored"), (LONG_URL + "?2", "failed"))):
            session.add(
                Article(
                    outlet_id="courier",
                    url=url,
                    canonical_url=url,
                    url_hash=str(n) * 64,
                    status=status,
                    title="Ferry [/b] to resume",  # not Rich markup
                    body="The harbour ferry service will resume next month.",
                    first_seen_at=datetime(2024, 3, 14, tzinfo=UTC),
                )
            )
        session.commit()
    engine.dispose()

    proc = nw(env, "articles", "show", "1")
    assert proc.returncode == 0, proc.stderr
    assert f"url: {LONG_URL}" in proc.stdout.splitlines(), proc.stdout
    assert "Ferry [/b] to resume" in proc.stdout

    proc = nw(env, "articles", "list", "--status", "failed", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["id"] for line in proc.stdout.splitlines()] == [2]


# ---------------------------------------------------------------- 8. feeds and outlets


def test_feeds_enable_of_an_unknown_feed_is_an_error(tmp_path: Path) -> None:
    lines = error_lines(nw(migrated(tmp_path), "feeds", "enable", "99"))
    assert len(lines) == 1 and lines[0].startswith("error: no feed with id 99"), lines


def test_outlets_add_failure_exits_2(tmp_path: Path) -> None:
    env = env_for(tmp_path, NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32")
    home = f"http://127.0.0.1:{free_port()}/"
    lines = error_lines(nw(env, "outlets", "add", home, "--dir", str(tmp_path / "o")))
    assert len(lines) == 1, lines


def test_outlets_check_refuses_an_empty_folder_and_reports_each_problem(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    lines = error_lines(nw(env_for(tmp_path, NEWSWATCH_OUTLETS_DIR=str(empty)), "outlets", "check"))
    assert lines == [f"error: no outlet files (*.toml) in {empty}"]

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.toml").write_text("id = \n", encoding="utf-8")
    (broken / "b.toml").write_text("id = \n", encoding="utf-8")
    env = env_for(tmp_path, NEWSWATCH_OUTLETS_DIR=str(broken))
    lines = error_lines(nw(env, "outlets", "check"))
    assert len(lines) == 2 and "a.toml" in lines[0] and "b.toml" in lines[1], lines


# ---------------------------------------------------------------- 10. long errors


@pytest.mark.parametrize("args", [["status"], ["articles", "list"]])
def test_an_unmigrated_database_is_one_line_at_80_columns(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "newswatch.db").touch()  # there, but never migrated
    lines = error_lines(nw(env_for(tmp_path), *args))
    assert len(lines) == 1 and lines[0].endswith("(newswatch db upgrade)"), lines
