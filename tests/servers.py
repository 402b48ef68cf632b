"""Throwaway real servers for tests: redis-server, and `newswatch` processes started and stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The same values as tests/conftest.py's, which imports this module (so it cannot import them).
REPO = Path(__file__).resolve().parent.parent
NEWSWATCH = str(Path(sys.executable).parent / "newswatch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


class RedisServer:
    """A redis-server process; restart() keeps its port and its AOF data."""

    def __init__(self, *, password: str | None = None, appendonly: bool = True) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        self.exe = exe
        self.port = free_port()
        self.password = password
        self.appendonly = appendonly
        self.dir = Path(tempfile.mkdtemp(prefix="nw-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [
            self.exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def redis_server(**kw: object) -> Iterator[RedisServer]:
    server = RedisServer(**kw).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.cleanup()


# --- `newswatch` subprocesses ------------------------------------------------------------------


def start_newswatch(
    args: list[str], env: dict[str, str], log: Path, *, append: bool = False
) -> subprocess.Popen[bytes]:
    """`newswatch ARGS` in its own session, so that signals to its group reach its prefork
    children too; stdout and stderr go to `log` (truncated unless `append`)."""
    with log.open("ab" if append else "wb") as out:
        # The child holds its own copy of the descriptor; the parent's closes with the block.
        return subprocess.Popen(
            [NEWSWATCH, *args],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(proc: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    """SIGTERM the process group, wait up to `timeout`, then SIGKILL it; strays are killed too."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # pool children left behind by a dead parent


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the main process, then the rest of its group (what an OOM kill of the unit does)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def wait_for_output(
    log: Path,
    marker: str,
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Wait until `marker` appears in `log`; fail at once, with the log's end, if `proc` exits."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        if marker in text:
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited {proc.returncode}\n{text[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{text[-4000:]}")
        time.sleep(0.5)


class NewswatchProcess:
    """A `newswatch` subprocess in its own session with its output appended to a log file."""

    def __init__(
        self, args: list[str], env: dict[str, str], log: Path, *, stop_timeout: float = 30.0
    ) -> None:
        self.args = args
        self.log = log
        self.stop_timeout = stop_timeout
        self.popen = start_newswatch(args, env, log, append=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for_output(self, marker: str, *, timeout: float, what: str) -> None:
        wait_for_output(self.log, marker, timeout=timeout, what=what, proc=self.popen)

    def kill9(self) -> None:
        kill_group(self.popen)

    def stop(self) -> None:
        stop_group(self.popen, timeout=self.stop_timeout)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
