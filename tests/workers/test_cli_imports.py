"""The command line starts without the heavy libraries: they load inside the commands that use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

HEAVY = ("trafilatura", "scipy", "datasketch")

# Runs the CLI in a fresh interpreter (sys.modules of the test process is already full), then
# prints which heavy modules got imported; argv after -c is the command line.
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
    "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
)


def _probe(*args: str) -> tuple[dict[str, object], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["NEWSWATCH_OUTLETS_DIR"] = str(REPO / "sources" / "outlets")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1]), proc.stdout


def test_importing_the_cli_loads_no_heavy_library() -> None:
    result, _ = _probe()
    assert result["heavy"] == []


def test_help_and_outlet_listing_load_no_heavy_library() -> None:
    result, out = _probe("--help")
    assert result == {"code": 0, "heavy": []}
    assert "clean" in out and "alerts" in out  # every group is still registered

    result, out = _probe("outlets", "list", "--format", "json")
    assert result == {"code": 0, "heavy": []}
    assert len(json.loads(out)) > 0


def test_a_command_still_loads_what_it_needs() -> None:
    # The probe does see a heavy import: `alerts backtest` reaches the detector (scipy) when it
    # runs, and still prints its notifications.
    csv_path = REPO / "tests" / "fixtures" / "alerts" / "burst.csv"
    result, out = _probe("alerts", "backtest", str(csv_path))
    assert result == {"code": 0, "heavy": ["scipy"]}
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["fired", "resolved"]
