"""The worker's view of the outlet registry: an outlet file that stops loading (a typo, a
half-written save) leaves the last good registry in use, logged once; it never fails articles."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from sources.registry import OutletError
from tests.workers.test_watches_runtime import _write
from workers import runtime
from workers.settings import Settings

BETA = Path(__file__).resolve().parents[1] / "fixtures" / "outlets" / "valid" / "beta.toml"


def test_a_broken_outlet_file_keeps_the_last_good_registry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "REGISTRY_RECHECK_SECONDS", 0.0)  # stat on every call
    folder = tmp_path / "outlets"
    folder.mkdir()
    shutil.copy(BETA, folder / "beta.toml")
    settings = Settings(data_dir=tmp_path, outlets_dir=folder)
    runtime.reset()
    caplog.set_level(logging.ERROR, logger="newswatch.runtime")
    try:
        assert list(runtime.outlets_by_id(settings)) == ["beta"]
        _write(folder / "beta.toml", BETA.read_text() + "bogus_key = 1\n", 1)
        for _ in range(3):
            assert list(runtime.outlets_by_id(settings)) == ["beta"]
        (logged,) = [r.getMessage() for r in caplog.records]  # once for this version
        assert "unknown key 'bogus_key'" in logged and "last good one (1 outlets)" in logged
        fixed = BETA.read_text().replace("Beta Zeitung", "Beta Zeitung Online")
        _write(folder / "beta.toml", fixed, 2)
        assert runtime.outlets_by_id(settings)["beta"].name == "Beta Zeitung Online"

        # a worker that starts on a broken folder has nothing to fall back on
        runtime.reset()
        _write(folder / "beta.toml", BETA.read_text() + "bogus_key = 1\n", 3)
        with pytest.raises(OutletError):
            runtime.outlets_by_id(settings)
    finally:
        runtime.reset()
