"""The embedded default's host limiter: its pool processes share one host's slots and spacing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sources.politeness import SlotUnavailable
from sources.politeness_files import FileHostLimiter
from tests.conftest import REPO
from workers import runtime
from workers.settings import Settings

# One "pool process": takes `n` slots for a host, holding each for `hold` seconds, and prints
# the wall-clock start and end of each hold.
WORKER = """
import json, sys, time
from pathlib import Path
from sources.politeness_files import FileHostLimiter
directory, n, hold, concurrency, spacing = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
limiter = FileHostLimiter(Path(directory), concurrency=concurrency, spacing=spacing)
spans = []
for _ in range(n):
    with limiter.slot("outlet.example"):
        start = time.time()
        time.sleep(hold)
        spans.append((start, time.time()))
print(json.dumps(spans))
"""


def _processes(directory: Path, count: int, *args: str) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(directory), *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def _spans(procs: list[subprocess.Popen[str]]) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        spans += [tuple(s) for s in json.loads(out)]
    return sorted(spans)


def test_processes_share_the_spacing(tmp_path: Path) -> None:
    # Per-process limiters would let the three start together, three times over.
    spans = _spans(_processes(tmp_path, 3, "4", "0", "8", "0.2"))
    starts = [s for s, _ in spans]
    assert len(starts) == 12
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.2 - 0.01, gaps


def test_processes_share_the_concurrency(tmp_path: Path) -> None:
    spans = _spans(_processes(tmp_path, 3, "3", "0.15", "1", "0"))
    assert len(spans) == 9
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end - 0.005, spans  # one request at a time across all three


def test_a_killed_holder_does_not_keep_the_slot(tmp_path: Path) -> None:
    holder = _processes(tmp_path, 1, "1", "600", "1", "0")[0]
    limiter = FileHostLimiter(tmp_path, concurrency=1, spacing=0)
    deadline = time.monotonic() + 60
    while not any(json.loads(p.read_text() or "{}").get("leases") for p in tmp_path.glob("*.json")):
        assert time.monotonic() < deadline, "the holder never took its slot"
        time.sleep(0.05)
    with pytest.raises(SlotUnavailable), limiter.slot("outlet.example", timeout=0.3):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(30)
    started = time.monotonic()
    with limiter.slot("outlet.example", timeout=5):
        pass
    assert time.monotonic() - started < 2  # not the 120 s lease


def test_a_spacing_past_the_timeout_is_refused_at_once_with_the_wait(tmp_path: Path) -> None:
    limiter = FileHostLimiter(tmp_path, concurrency=4, spacing=5.0)
    with limiter.slot("Outlet.Example"):
        pass
    started = time.monotonic()
    with pytest.raises(SlotUnavailable) as err, limiter.slot("outlet.example", timeout=1.0):
        pass
    assert time.monotonic() - started < 0.5
    assert err.value.retry_after is not None and 4.0 < err.value.retry_after <= 5.0
    # another host is not held up
    with limiter.slot("other.example", timeout=0.5):
        pass


def test_a_corrupt_state_file_does_not_stall_the_host(tmp_path: Path) -> None:
    limiter = FileHostLimiter(tmp_path, concurrency=1, spacing=0)
    with limiter.slot("outlet.example"):
        pass
    (state,) = tmp_path.glob("*.json")
    state.write_bytes(b'{"leases": [1, 2')  # torn
    with limiter.slot("outlet.example", timeout=1):
        pass
    assert json.loads(state.read_text())["leases"] == {}


def test_the_embedded_default_uses_it(tmp_path: Path) -> None:
    runtime.reset()
    try:
        client = runtime.get_http_client(Settings(data_dir=tmp_path))
        assert isinstance(client.limiter, FileHostLimiter)
        assert client.limiter.directory == tmp_path / "politeness"
    finally:
        runtime.reset()
