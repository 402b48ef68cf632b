"""The worker's view of the watches file: reread when it changes, and a watch that can never
match is logged once per version of the file (a hand edit that `watches add` would refuse)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from workers import runtime
from workers.settings import Settings

REGISTRY = Path(__file__).resolve().parents[2] / "sources" / "outlets"


def _write(path: Path, text: str, bump: int) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    # A distinct mtime per version, whatever the file system's timestamp resolution.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_never_matching_watches_are_logged_once_per_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "watches.toml"
    settings = Settings(data_dir=tmp_path, watches_file=path, outlets_dir=REGISTRY)
    runtime.reset()
    caplog.set_level(logging.WARNING, logger="newswatch.runtime")
    try:
        _write(
            path,
            '[[watch]]\nid = "ok"\nterms = ["Sarmat"]\nlanguages = ["ru"]\noutlets = ["tass"]\n\n'
            '[[watch]]\nid = "typo"\nterms = ["Sarmat"]\nlanguages = ["Russian"]\n'
            'outlets = ["tas"]\n',
            1,
        )
        first = runtime.current_watches(settings)
        again = runtime.current_watches(settings)
        logged = [r.getMessage() for r in caplog.records]
        assert [w.id for w in first] == [w.id for w in again] == ["ok", "typo"]
        assert len(logged) == 2, logged  # both problems of "typo", once, none for "ok"
        assert all(m.startswith("watch 'typo' never matches") for m in logged)
        assert "'russian' is not an ISO 639-1 code" in logged[0]
        assert "no outlet 'tas'" in logged[1] and "did you mean 'tass'" in logged[1]

        caplog.clear()
        _write(path, '[[watch]]\nid = "fixed"\nterms = ["Sarmat"]\nlanguages = ["ru"]\n', 2)
        assert [w.id for w in runtime.current_watches(settings)] == ["fixed"]
        assert caplog.records == []
    finally:
        runtime.reset()
