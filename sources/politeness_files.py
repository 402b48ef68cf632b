"""Per-host politeness shared by the worker processes of one machine, through small locked files.

The embedded default has no Redis, but `newswatch run` still starts several pool processes; an
in-process limiter in each would multiply a host's concurrency and divide its spacing by their
number. Each host gets one file holding its leases and its next allowed start, read and written
under an exclusive `flock`, so the processes agree as the Redis limiter's workers do.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sources.politeness import SlotUnavailable, all_busy, check_limits, spaced_out

MAX_STATE_BYTES = 64 * 1024  # a few hundred leases at most; anything larger is not ours


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class FileHostLimiter:
    """Limiter shared by the processes of one machine; a lease ends when its holder exits or
    after `lease` seconds, so a killed process cannot keep a host's slot."""

    def __init__(
        self,
        directory: Path,
        *,
        concurrency: int,
        spacing: float,
        lease: float = 120.0,
        poll_interval: float = 0.05,
    ) -> None:
        check_limits(concurrency, spacing)
        self.directory = directory
        self.concurrency = concurrency
        self.spacing = spacing
        self._lease = lease
        self._poll = poll_interval
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, host: str) -> Path:
        # Hashed: a host name is no safe file name (length, case, odd characters).
        return self.directory / f"{hashlib.sha256(host.encode()).hexdigest()[:24]}.json"

    @contextmanager
    def _locked(self, host: str) -> Iterator[tuple[dict[str, Any], Any]]:
        fd = os.open(self._path(host), os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                raw = fh.read(MAX_STATE_BYTES + 1)
                try:
                    state = json.loads(raw) if raw else {}
                except ValueError:
                    state = {}  # a torn or foreign file: start afresh rather than stall the host
                if not isinstance(state, dict):
                    state = {}
                state.setdefault("leases", {})
                state.setdefault("next_start", 0.0)
                yield state, fh
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @staticmethod
    def _save(state: dict[str, Any], fh: Any) -> None:
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(state).encode())
        fh.flush()

    def _try(self, host: str, token: str) -> tuple[bool, float | None]:
        """Take a lease if allowed: (True, None); else (False, seconds the spacing still asks
        for, or None when every slot is leased)."""
        with self._locked(host) as (state, fh):
            now = time.time()
            leases = {
                t: lease
                for t, lease in state["leases"].items()
                if isinstance(lease, list)
                and len(lease) == 2
                and lease[1] > now
                and _alive(int(lease[0]))
            }
            if len(leases) >= self.concurrency:
                granted, wait = False, None
            elif now < float(state["next_start"]):
                granted, wait = False, float(state["next_start"]) - now
            else:
                leases[token] = [os.getpid(), now + self._lease]
                state["next_start"] = now + self.spacing
                granted, wait = True, None
            state["leases"] = leases
            self._save(state, fh)
        return granted, wait

    def _release(self, host: str, token: str) -> None:
        with self._locked(host) as (state, fh):
            state["leases"].pop(token, None)
            self._save(state, fh)

    @contextmanager
    def slot(self, host: str, *, timeout: float | None = None) -> Iterator[None]:
        key = host.lower()
        token = uuid.uuid4().hex
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            granted, spacing_wait = self._try(key, token)
            if granted:
                break
            now = time.monotonic()
            wait = self._poll if spacing_wait is None else spacing_wait
            if give_up is not None:
                # As in the other limiters: a spacing wait is exact, so one past the limit
                # fails now; a busy host is waited on only until the limit.
                if spacing_wait is not None and now + spacing_wait >= give_up:
                    raise spaced_out(host, spacing_wait, timeout or 0.0)
                if now >= give_up:
                    raise all_busy(host, self.concurrency, timeout or 0.0)
                wait = min(wait, give_up - now)
            time.sleep(max(0.0, min(wait, self._poll)))
        try:
            yield
        finally:
            self._release(key, token)


__all__ = ["FileHostLimiter", "SlotUnavailable"]
