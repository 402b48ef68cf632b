"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temp dir, trust auth, 127.0.0.1."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DB_NAME = "newswatch_test"


def pg_bindir() -> Path:
    """The newest installed /usr/lib/postgresql/<version>/bin holding initdb."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    # PostgreSQL refuses to run as root; run its tools as the postgres user then.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


class PostgresServer:
    """A private cluster on a free port; `start()` returns self, `url` names its test database."""

    def __init__(self, db_name: str = DB_NAME) -> None:
        self.db_name = db_name
        self.bindir = pg_bindir()
        self.tmp: Path | None = None
        self.port = 0
        self.url = ""
        self._started = False

    def start(self) -> PostgresServer:
        self.tmp = Path(tempfile.mkdtemp(prefix="newswatch-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.tmp, user="postgres", group="postgres")
        data = self.tmp / "data"
        self.port = _free_port()
        try:
            _as_postgres(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            )
            opts = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.tmp} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
            )
            _as_postgres(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    opts,
                    "-l",
                    str(self.tmp / "log.txt"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
            self._started = True
            self._create_db()
        except BaseException:
            self.stop()
            raise
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.db_name}"
        return self

    def _create_db(self) -> None:
        psql = self.bindir / "psql"
        deadline = time.monotonic() + 30
        while True:
            try:
                _as_postgres(
                    [
                        str(psql) if psql.exists() else "psql",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(self.port),
                        "-U",
                        "postgres",
                        "-d",
                        "postgres",
                        "-c",
                        f'CREATE DATABASE "{self.db_name}"',
                    ]
                )
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop(self) -> None:
        if self._started and self.tmp is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                _as_postgres(
                    [
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(self.tmp / "data"),
                        "-m",
                        "fast",
                        "-w",
                        "stop",
                    ]
                )
            self._started = False
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


@contextlib.contextmanager
def running_postgres(db_name: str = DB_NAME) -> Iterator[str]:
    """Start a private cluster, create db_name, yield its SQLAlchemy URL, then stop and delete it."""
    server = PostgresServer(db_name).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the whole test session (server stopped afterwards)."""
    with running_postgres() as url:
        yield url
