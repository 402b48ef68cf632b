"""`newswatch watches add`: outlets and languages that no article can carry are refused."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

from tests.servers import NEWSWATCH

OUTLET = """\
id = "{id}"
name = "Outlet {id}"
language = "en"
country = "GB"
homepage = "https://{id}.example/"
feeds = ["https://{id}.example/feed.xml"]
"""


def env_for(tmp_path: Path, outlets_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return env | {
        "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
        "NEWSWATCH_OUTLETS_DIR": str(outlets_dir),
        "COLUMNS": "80",
    }


def registry(tmp_path: Path, *ids: str) -> Path:
    folder = tmp_path / "outlets"
    folder.mkdir()
    for outlet_id in ids:
        (folder / f"{outlet_id}.toml").write_text(OUTLET.format(id=outlet_id), encoding="utf-8")
    return folder


def add(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # The installed command in a fresh process: settings are read from the environment once.
    return subprocess.run(
        [NEWSWATCH, "watches", "add", *args], capture_output=True, text=True, env=env, timeout=60
    )


def saved(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "data" / "watches.toml"
    if not path.exists():
        return []
    return list(tomllib.loads(path.read_text(encoding="utf-8"))["watch"])


def test_an_outlet_not_in_the_registry_is_refused(tmp_path: Path) -> None:
    env = env_for(tmp_path, registry(tmp_path, "welt", "spiegel"))
    proc = add(env, "ns", "-t", "Nord Stream", "--outlet", "welt", "--outlet", "unknown")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "'unknown'" in proc.stderr and "newswatch outlets list" in proc.stderr
    assert saved(tmp_path) == []

    # A wrong case is no match either (articles carry the registry's id); the id is suggested.
    proc = add(env, "ns", "-t", "Nord Stream", "--outlet", "Welt")
    assert proc.returncode == 2 and "did you mean 'welt'" in proc.stderr

    proc = add(env, "ns", "-t", "Nord Stream", "--outlet", "welt", "--outlet", "spiegel")
    assert proc.returncode == 0, proc.stderr
    assert saved(tmp_path)[0]["outlets"] == ["welt", "spiegel"]


def test_languages_must_be_iso_639_1_codes(tmp_path: Path) -> None:
    env = env_for(tmp_path, registry(tmp_path, "welt"))
    for bad in ("English", "eng", "xx", "pt-BR"):
        proc = add(env, "w", "-t", "x", "--language", bad)
        assert proc.returncode == 2, (bad, proc.stdout + proc.stderr)
        assert "ISO 639-1" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert saved(tmp_path) == []

    proc = add(env, "w", "-t", "x", "--language", "EN", "--language", "de")
    assert proc.returncode == 0, proc.stderr
    assert saved(tmp_path)[0]["languages"] == ["en", "de"]


def test_an_unreadable_registry_is_a_clear_warning_not_a_refusal(tmp_path: Path) -> None:
    # Which outlets exist cannot be known, so the watch is kept, and the user told so.
    env = env_for(tmp_path, tmp_path / "no-such-folder")
    proc = add(env, "ns", "-t", "Nord Stream", "--outlet", "welt")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("warning: --outlet not checked")
    assert "newswatch outlets check" in proc.stderr
    assert saved(tmp_path)[0]["outlets"] == ["welt"]

    # Without --outlet the registry is not consulted at all: no warning.
    proc = add(env, "other", "-t", "x")
    assert proc.returncode == 0 and proc.stderr == ""


def test_watches_list_names_a_hand_edited_watch_that_can_never_match(tmp_path: Path) -> None:
    # The file still loads (the worker reads it for every article); the listing says which
    # watches nothing can match, instead of leaving them silent for ever.
    env = env_for(tmp_path, registry(tmp_path, "welt"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "watches.toml").write_text(
        '[[watch]]\nid = "ok"\nterms = ["Sarmat"]\noutlets = ["welt"]\nlanguages = ["de"]\n\n'
        '[[watch]]\nid = "hand"\nterms = ["Sarmat"]\noutlets = ["wetl"]\n'
        'languages = ["English"]\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [NEWSWATCH, "watches", "list"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "ok: Sarmat" in proc.stdout and "hand: Sarmat" in proc.stdout
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 2, proc.stderr
    assert all(w.startswith("warning: watch 'hand' never matches:") for w in warnings)
    assert "'english'" in proc.stderr and "did you mean 'welt'?" in proc.stderr
