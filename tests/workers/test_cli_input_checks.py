"""`newswatch reclean --outlet`: an outlet known to neither the registry nor the database is refused."""

from __future__ import annotations

import os
import subprocess
import zlib
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from storage.db import make_engine
from storage.models import Article
from tests.servers import NEWSWATCH

OUTLET = """\
id = "courier"
name = "The Courier"
language = "en"
country = "GB"
homepage = "https://courier.example/"
feeds = ["https://courier.example/feed.xml"]
"""
PAGE = (
    b"<html><head><title>Harbour ferry to resume</title></head><body><article>"
    b"<h1>Harbour ferry to resume</h1><p>The harbour ferry service will resume next month after"
    b" the repairs to the pier are finished, the council said on Tuesday.</p></article>"
    b"</body></html>"
)


def newswatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # The installed entry point in a fresh process: settings and engines are cached per process.
    return subprocess.run([NEWSWATCH, *args], capture_output=True, text=True, env=env, timeout=120)


def store(tmp_path: Path) -> dict[str, str]:
    """A migrated SQLite store and a one-outlet registry; the environment that points at them."""
    outlets = tmp_path / "outlets"
    outlets.mkdir()
    (outlets / "courier.toml").write_text(OUTLET, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env |= {
        "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
        "NEWSWATCH_OUTLETS_DIR": str(outlets),
        "COLUMNS": "80",  # narrow: an error must stay on one line anyway
    }
    proc = newswatch(env, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    return env


def test_reclean_refuses_an_outlet_known_to_neither_registry_nor_database(tmp_path: Path) -> None:
    env = store(tmp_path)
    proc = newswatch(env, "reclean", "--outlet", "nope")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "'nope'" in lines[0] and "newswatch outlets list" in lines[0]
    assert "recleaned" not in proc.stdout

    # The registry's outlet is known even with no articles yet: nothing to do, no error.
    proc = newswatch(env, "reclean", "--outlet", "courier")
    assert proc.returncode == 0, proc.stderr
    assert "recleaned 0 articles" in proc.stdout


def test_reclean_still_runs_for_an_outlet_gone_from_the_registry(tmp_path: Path) -> None:
    env = store(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}")
    with Session(engine) as session:
        session.add(
            Article(
                outlet_id="retired",
                url="https://retired.example/a",
                canonical_url="https://retired.example/a",
                url_hash="a" * 64,
                status="stored",
                raw_page=zlib.compress(PAGE),
                raw_content_type="text/html",
                first_seen_at=datetime(2024, 3, 6, tzinfo=UTC),
            )
        )
        session.commit()
    engine.dispose()
    # Its pages are still stored, so the database knows it; a near name is still refused.
    proc = newswatch(env, "reclean", "--outlet", "retired")
    assert proc.returncode == 0, proc.stderr
    assert "recleaned 1 articles" in proc.stdout
    proc = newswatch(env, "reclean", "--outlet", "retire")
    assert proc.returncode == 2 and "'retire'" in proc.stderr


def test_reclean_with_an_unreadable_registry_is_one_line(tmp_path: Path) -> None:
    env = store(tmp_path)
    env["NEWSWATCH_OUTLETS_DIR"] = str(tmp_path / "missing")
    proc = newswatch(env, "reclean")
    assert proc.returncode == 2, proc.stderr
    assert "not a directory of outlet files" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
