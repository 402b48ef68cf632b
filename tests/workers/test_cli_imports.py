"""The command line starts without the heavy libraries: they load inside the commands that use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from storage.db import create_all, make_engine
from tests.conftest import REPO

HEAVY = ("trafilatura", "scipy", "datasketch")
# Also kept out of the commands that touch neither the broker nor the database.
BACKENDS = ("celery", "sqlmodel")

# Runs the CLI in a fresh interpreter (sys.modules of the test process is already full), then
# prints which heavy and backend modules got imported; argv after -c is the command line.
PROBE = (
    "import json, sys\n"
    "import workers.cli\n"
    "code = 0\n"
    "if sys.argv[1:]:\n"
    "    try:\n"
    "        workers.cli.app(sys.argv[1:], prog_name='newswatch')\n"
    "    except SystemExit as exc:\n"
    "        code = exc.code or 0\n"
    f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
    f"backends = sorted(m for m in {BACKENDS!r} if m in sys.modules)\n"
    "print(json.dumps({'code': code, 'heavy': heavy, 'backends': backends}), file=sys.stderr)\n"
)

# Imports the Celery app as a worker does and reports whether its includes registered the
# health probe task and the consumption mark.
WORKER_PROBE = (
    "from celery.signals import task_prerun\n"
    "from workers.celery_app import app\n"
    "app.loader.import_default_modules()\n"
    "marks = [r for _, r in task_prerun.receivers\n"
    "         if getattr(r, '__module__', '') == 'workers.health_tasks']\n"
    "print('newswatch.health_ping' in app.tasks, len(marks))\n"
)


def _run(
    code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    full_env["NEWSWATCH_OUTLETS_DIR"] = str(REPO / "sources" / "outlets")
    full_env |= env or {}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, object], str]:
    proc = _run(PROBE, *args, env=env)
    return json.loads(proc.stderr.strip().splitlines()[-1]), proc.stdout


def test_importing_the_cli_loads_no_heavy_library() -> None:
    result, _ = _probe()
    assert result["heavy"] == [] and result["backends"] == []


def test_help_and_outlet_listing_load_no_heavy_library() -> None:
    result, out = _probe("--help")
    assert result == {"code": 0, "heavy": [], "backends": []}
    assert "clean" in out and "alerts" in out  # every group is still registered

    result, out = _probe("outlets", "list", "--format", "json")
    assert result == {"code": 0, "heavy": [], "backends": []}
    assert len([json.loads(line) for line in out.splitlines()]) > 0


def test_a_command_still_loads_what_it_needs() -> None:
    # The probe does see a heavy import: `alerts backtest` reaches the detector (scipy) when it
    # runs, and still prints its notifications.
    csv_path = REPO / "tests" / "fixtures" / "alerts" / "burst.csv"
    result, out = _probe("alerts", "backtest", str(csv_path))
    assert result["code"] == 0 and result["heavy"] == ["scipy"]
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["fired", "resolved"]


def test_health_db_does_not_load_celery(tmp_path: Path) -> None:
    # Compose runs this healthcheck every few seconds; only `health worker` needs the Celery app.
    url = f"sqlite:///{tmp_path / 'newswatch.db'}"
    engine = make_engine(url)
    create_all(engine)  # `health db` passes only for a database at the newest migration
    engine.dispose()
    env = {"NEWSWATCH_DATA_DIR": str(tmp_path / "data"), "NEWSWATCH_DATABASE_URL": url}
    result, out = _probe("health", "db", env=env)
    assert result["code"] == 0, out
    assert out.startswith("ok: db:"), out
    assert result["backends"] == ["sqlmodel"]  # the database layer, and no Celery


def test_listing_watches_loads_neither_celery_nor_the_database(tmp_path: Path) -> None:
    watches = REPO / "tests" / "fixtures" / "alerts" / "watches.toml"
    env = {"NEWSWATCH_DATA_DIR": str(tmp_path / "data")}
    result, out = _probe("watches", "list", "--file", str(watches), env=env)
    assert result == {"code": 0, "heavy": [], "backends": []}
    assert "sarmat" in out and "nord-stream" in out


def test_workers_still_register_the_health_probe(tmp_path: Path) -> None:
    # The ping task and the consumption mark live apart from the probes; the app's includes must
    # still load both in every worker, however it was started.
    proc = _run(WORKER_PROBE, env={"NEWSWATCH_DATA_DIR": str(tmp_path / "data")})
    assert proc.stdout.split() == ["True", "1"], proc.stdout
