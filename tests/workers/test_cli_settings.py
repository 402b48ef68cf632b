"""The service commands take what the README and .env.example promise: NEWSWATCH_LOG_LEVEL, and
`db upgrade|downgrade REV` with the revision as an argument."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import run_cli
from tests.servers import start_newswatch, stop_group, wait_for_output


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return env | {"NEWSWATCH_DATA_DIR": str(tmp_path / "data")} | extra


def test_db_upgrade_and_downgrade_take_the_revision_as_an_argument(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert "database at head" in run_cli(["db", "upgrade", "head"], env).stdout
    assert "database at base" in run_cli(["db", "downgrade", "base", "--yes"], env).stdout
    assert "database at head" in run_cli(["db", "upgrade"], env).stdout


def test_beat_logs_at_the_configured_level(tmp_path: Path) -> None:
    """`beat` (like `run` and `worker`) used to log at INFO whatever NEWSWATCH_LOG_LEVEL said."""
    env = _env(tmp_path, NEWSWATCH_LOG_LEVEL="DEBUG")
    run_cli(["db", "upgrade"], env)
    log = tmp_path / "beat.log"
    proc = start_newswatch(["beat"], env, log)
    try:
        # Celery's beat says when it wakes up next only at DEBUG.
        wait_for_output(log, "beat: Waking up", timeout=60, what="a DEBUG line of beat", proc=proc)
    finally:
        stop_group(proc)
