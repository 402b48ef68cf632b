"""`newswatch demo` as a user runs it: a subprocess with no servers, its summary checked."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import Article, Comment, Story
from tests.conftest import NEWSWATCH, REPO


def _demo(*args: str, cwd: Path, fmt: str = "json") -> subprocess.CompletedProcess[str]:
    """`newswatch demo --format FMT ARGS` in `cwd`, with no NEWSWATCH_* in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    proc = subprocess.run(
        [NEWSWATCH, "demo", *args, "--format", fmt],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_demo_ingests_the_local_outlets_and_prints_a_summary(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    proc = _demo("--keep", str(keep), cwd=REPO)
    summary = json.loads(proc.stdout)
    # how to look at the kept store with the demo's own outlets (their rules matter to reclean)
    assert (
        f"NEWSWATCH_DATA_DIR={keep} NEWSWATCH_OUTLETS_DIR={keep / 'outlets'} newswatch"
        in proc.stderr
    )
    assert summary["articles_stored"] >= 40
    assert summary["articles_failed"] == 0
    assert summary["feed_errors"] == 0
    assert summary["second_poll_new_articles"] == 0
    # the same URL with tracking parameters, and an article syndicated on a second outlet
    assert summary["url_duplicates_merged"] >= 1
    assert summary["copies_linked"] >= 1
    assert summary["comments_separated"] >= 40
    engine = make_engine(f"sqlite:///{keep / 'newswatch.db'}")
    with Session(engine) as s:
        articles = s.exec(select(Article)).all()
        assert len({a.canonical_url for a in articles}) == len(articles)
        assert not any("utm_" in a.canonical_url for a in articles)
        comments = s.exec(select(Comment)).all()
        bodies = "\n".join(a.body or "" for a in articles)
        # no reader comment text ends up in any stored body
        leaked = [
            c.text[:60]
            for c in comments
            if c.kind == "comment" and len(c.text) > 40 and c.text[:40] in bodies
        ]
        assert leaked == []
        # arsenal-digest reprints rhein-kurier's reports hours later, under the same page date
        # and with a rights notice naming it: every such story is credited to rhein-kurier
        shared = [
            st
            for st in s.exec(select(Story)).all()
            if {a.outlet_id for a in articles if a.story_id == st.id}
            == {"arsenal-digest", "rhein-kurier"}
        ]
        assert shared and {st.first_outlet_id for st in shared} == {"rhein-kurier"}
        copies = [a for a in articles if a.outlet_id == "arsenal-digest" and a.copy_of_id]
        assert copies and all(a.copy_kind == "syndicated" for a in copies)
    engine.dispose()
    # the table form for people works too
    assert "articles_stored" in _demo(cwd=REPO, fmt="table").stdout


def test_demo_never_writes_to_the_database_a_dotenv_names(tmp_path: Path) -> None:
    # pydantic-settings reads `.env` from the current directory: clearing the environment alone
    # left the demo writing its articles into the database (and SMTP server) the file names.
    cwd = tmp_path / "project"
    cwd.mkdir()
    production = tmp_path / "production.db"
    (cwd / ".env").write_text(
        f"NEWSWATCH_DATABASE_URL=sqlite:///{production}\n"
        "NEWSWATCH_SMTP_URL=smtp://127.0.0.1:1\n"
        f"NEWSWATCH_DATA_DIR={tmp_path / 'production-data'}\n",
        encoding="utf-8",
    )
    proc = _demo(cwd=cwd)
    assert json.loads(proc.stdout)["articles_stored"] >= 40
    assert not production.exists() and not (tmp_path / "production-data").exists()
    assert sorted(p.name for p in cwd.iterdir()) == [".env"]
