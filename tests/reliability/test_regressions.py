"""Defects the reliability suite found in other packages, each pinned by the smallest failing case."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.reliability.harness import LocalSite, static, write_outlet
from tests.reliability.test_security import clean_env

pytestmark = pytest.mark.reliability

CORPUS = REPO / "tests" / "fixtures" / "badinput"


def test_http_client_on_a_redis_broker_is_built_without_deadlock() -> None:
    """workers/runtime.py: get_http_client's factory calls redis_client(), which re-enters the
    non-reentrant module lock held by _cached(); every poll_feed on Redis hung until its soft
    time limit. Run in a subprocess so a hang cannot take the test process with it."""
    code = (
        "from workers import runtime\n"
        "from workers.settings import Settings\n"
        "s = Settings(broker_url='redis://127.0.0.1:1/0', database_url='sqlite:///:memory:')\n"
        "client = runtime.get_http_client(s)\n"
        "print(type(client).__name__)\n"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail("runtime.get_http_client deadlocked on a Redis broker URL")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "HttpClient"


def test_secret_masking_keeps_numeric_log_arguments_working() -> None:
    """workers/logs.py: MaskingFilter turned every log argument into a string, so any record with
    %d or %f (httpx's 'HTTP Request: ... %d', Celery's timings) failed to format and the line
    was lost with a 'Logging error' traceback."""
    from workers.logs import MaskingFilter

    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: %s %s "%s %d %s"',
        ("GET", "http://u:pw@127.0.0.1/x", "HTTP/1.1", 200, "OK"),
        None,
    )
    assert MaskingFilter().filter(record)
    message = record.getMessage()
    assert message == 'HTTP Request: GET http://u:***@127.0.0.1/x "HTTP/1.1 200 OK"'


SINGLE = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["single"]


@pytest.mark.parametrize("case", SINGLE, ids=[c["name"] for c in SINGLE])
def test_feed_that_stopped_polling(
    case: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """(1) sources/feeds.py parse_feed: feedparser raises UnicodeEncodeError on `&#xD800;` and it
    escapes parse_feed; (2) `&#x0;` in a title comes out of parse_feed as NUL, which PostgreSQL
    refuses when the entry is stored; (3) binary bytes served as text/html come out of
    cleaning.clean with NUL and control characters in title, body and removed spans, which
    PostgreSQL refuses. Each made `poll --once` crash; in a worker, (1) and (2) fail poll_feed on
    every lease of the feed and (3) leaves the article pending for ever (a non-transient error
    is re-raised without mark_failed)."""
    database_url = (
        request.getfixturevalue("postgres_db")
        if case["database"] == "postgres"
        else f"sqlite:///{tmp_path / 'nw.db'}"
    )
    with LocalSite() as site:
        body = (CORPUS / case["file"]).read_bytes().replace(b"{BASE}", site.base.encode())
        site.routes["/feed.xml"] = static(body, case["content_type"])
        site.routes["/pages/plain.html"] = static((CORPUS / "plain.html").read_bytes())
        # Binary content served as HTML (what a misconfigured server sends for a PDF or an image).
        site.routes["/pages/binary.html"] = static(bytes(range(256)) * 400, "text/html")
        outlets = tmp_path / "outlets"
        outlets.mkdir()
        write_outlet(outlets, "single", [site.url("/feed.xml")], home=site.url("/"))
        env = clean_env(tmp_path) | {
            "NEWSWATCH_OUTLETS_DIR": str(outlets),
            "NEWSWATCH_DATABASE_URL": database_url,
        }
        run_cli(["db", "upgrade"], env)
        proc = run_cli(["poll", "--once", "--format", "json"], env, check=False)
    summary = json.loads(proc.stdout)
    # Either a correct result (the entry stored, the bad character replaced) or a clear error:
    # with the only feed polled failing, `poll --once` says so by its exit status (1), not by
    # a crash.
    assert summary["feeds_with_new_entries"] == 1 or summary["feed_errors"] == 1
    assert proc.returncode == (1 if summary["feed_errors"] == summary["feeds_polled"] else 0), (
        proc.stderr[-1500:]
    )
    assert summary["articles_stored"] + summary["articles_failed"] == summary["articles_processed"]
