"""`newswatch watches …` and `newswatch alerts backtest|list` through the registered Typer app."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from workers.cli_alerts import register

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alerts"
runner = CliRunner()


def _app(tmp_path: Path, engine=None) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """root"""

    settings = SimpleNamespace(effective_watches_file=tmp_path / "watches.toml")
    register(app, get_settings=lambda: settings, get_engine=lambda: engine)
    return app


def test_backtest_contract(tmp_path: Path) -> None:
    result = runner.invoke(_app(tmp_path), ["alerts", "backtest", str(FIXTURES / "burst.csv")])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    assert [x["kind"] for x in lines] == ["fired", "resolved"]
    fired = lines[0]
    assert fired["time"] == "2024-02-05T14:00:00Z"  # the first burst hour of the fixture
    assert fired["observed"] > 20 and fired["ratio"] > 5
    for x in lines:
        assert x["kind"] in ("fired", "escalated", "resolved") and "time" in x


def test_backtest_quiet_series_prints_nothing(tmp_path: Path) -> None:
    rows = ["time,mentions,articles"]
    text = (FIXTURES / "burst.csv").read_text().splitlines()[1:]
    for line in text[: 34 * 24]:
        rows.append(line)
    path = tmp_path / "quiet.csv"
    path.write_text("\n".join(rows) + "\n")
    result = runner.invoke(_app(tmp_path), ["alerts", "backtest", str(path)])
    assert result.exit_code == 0 and result.stdout.strip() == ""


def test_backtest_rejects_bad_csv(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,mentions\n2024-01-01T00:00:00Z,1\n")
    result = runner.invoke(_app(tmp_path), ["alerts", "backtest", str(path)])
    assert result.exit_code == 2 and "articles" in result.output
    path.write_text("time,mentions,articles\nyesterday,1,2\n")
    result = runner.invoke(_app(tmp_path), ["alerts", "backtest", str(path)])
    assert result.exit_code == 2 and "line 2" in result.output


GOOD = "time,mentions,articles\n2024-01-01T00:00:00Z,1,10\n2024-01-01T01:00:00Z,2,11\n"


@pytest.mark.parametrize(
    ("body", "args", "needle"),
    [
        # Nothing read as zero and nothing dropped without a word.
        (b"time,mentions,articles\n2024-01-01T00:00:00Z,5\n", [], "line 2: no value for articles"),
        (b"time,mentions,articles\n2024-01-01T00:00:00Z,,3\n", [], "no value for mentions"),
        (b"time,mentions,articles\n2024-01-01T00:00:00Z,1,2,9\n", [], "more fields"),
        (
            GOOD.encode() + b"2024-01-01T01:00:00Z,0,11\n",
            [],
            "line 4: time 2024-01-01T01:00:00Z repeats line 3",
        ),
        (
            GOOD.encode() + b"2024-01-01T01:30:00Z,7,11\n",
            ["--interval", "3600"],
            "same 3600-second interval",
        ),
        (GOOD.encode() + b"2024-01-01T02:00:00Z,\xff,1\n", [], "not UTF-8 (line 4)"),
        (b"time,mentions,articles\n0001-01-01T00:30:00+01:00,1,2\n", [], "line 2: time"),
    ],
)
def test_backtest_refuses_what_it_cannot_replay_faithfully(
    tmp_path: Path, body: bytes, args: list[str], needle: str
) -> None:
    path = tmp_path / "series.csv"
    path.write_bytes(body)
    result = runner.invoke(_app(tmp_path), ["alerts", "backtest", str(path), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output


def test_backtest_stdin_drops_a_bom_like_a_file(tmp_path: Path) -> None:
    data = (FIXTURES / "burst.csv").read_bytes()
    from_file = runner.invoke(_app(tmp_path), ["alerts", "backtest", str(FIXTURES / "burst.csv")])
    from_stdin = runner.invoke(
        _app(tmp_path), ["alerts", "backtest", "-"], input=b"\xef\xbb\xbf" + data
    )
    assert from_stdin.exit_code == 0, from_stdin.output
    assert from_stdin.stdout == from_file.stdout and from_stdin.stdout.strip()


def test_watches_commands(tmp_path: Path) -> None:
    app = _app(tmp_path)
    r = runner.invoke(
        app, ["watches", "add", "sarmat", "-t", "Sarmat*", "-t", "Сармат*", "--to", "a@example.org"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["watches", "add", "sarmat", "-t", "x"])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["watches", "mute", "sarmat", "--for", "3d"])
    assert r.exit_code == 0 and "muted sarmat until" in r.output
    r = runner.invoke(app, ["watches", "list", "--format", "json"])
    data = [json.loads(x) for x in r.stdout.splitlines()]
    assert data[0]["id"] == "sarmat" and data[0]["terms"] == ["Sarmat*", "Сармат*"]
    assert data[0]["muted_until"]
    r = runner.invoke(app, ["watches", "mute", "sarmat", "--for", "soon"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["watches", "mute", "sarmat", "--for", ""])
    assert r.exit_code == 2  # not silently a day
    # what decides the counting is shown too, not only terms and recipients
    r = runner.invoke(
        app,
        ["watches", "add", "kgd", "-t", "Kaliningrad", "--language", "en", "--language", "ru"]
        + ["--sensitivity", "2", "--quiet-hours", "22:00-07:00 Europe/Berlin"],
    )
    assert r.exit_code == 0, r.output
    line = next(
        x for x in runner.invoke(app, ["watches", "list"]).output.splitlines() if "kgd" in x
    )
    assert "languages en, ru" in line and "sensitivity 2" in line
    assert "quiet 22:00-07:00 Europe/Berlin" in line
    assert runner.invoke(app, ["watches", "remove", "kgd"]).exit_code == 0
    r = runner.invoke(app, ["watches", "remove", "sarmat"])
    assert r.exit_code == 0
    r = runner.invoke(app, ["watches", "list"])
    assert "no watches" in r.output


def _one_error(result) -> str:
    """The single `error: ` line of a refused command (exit 2, no traceback)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_watches_list_of_a_muted_until_past_the_utc_range(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(
        '[[watch]]\nid = "a"\nterms = ["x"]\nmuted_until = "9999-12-31T23:59:59-05:00"\n',
        encoding="utf-8",
    )
    r = runner.invoke(_app(tmp_path), ["watches", "list", "--file", str(path)])
    line = _one_error(r)
    assert f"{path}: watch #1 'a': key 'muted_until'" in line


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_watches_list_of_a_file_that_fails_to_read(tmp_path: Path) -> None:
    r = runner.invoke(_app(tmp_path), ["watches", "list", "--file", "/proc/self/mem"])
    assert _one_error(r) == "error: cannot read /proc/self/mem: Input/output error"


def test_watches_add_under_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "regular").write_text("x\n")
    target = tmp_path / "regular" / "w.toml"
    r = runner.invoke(_app(tmp_path), ["watches", "add", "q", "-t", "x", "--file", str(target)])
    assert _one_error(r) == f"error: cannot write {target}: {tmp_path / 'regular'} is not a folder"


def test_an_explicit_watches_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    app = _app(tmp_path)
    typo = tmp_path / "typo.toml"
    for args in (["list"], ["remove", "a"], ["mute", "a", "--for", "1h"]):
        r = runner.invoke(app, ["watches", *args, "--file", str(typo)])
        assert _one_error(r) == f"error: no such file: {typo}"
    assert not typo.exists()
    # Without --file, a missing default file still means no watches yet.
    r = runner.invoke(app, ["watches", "list"])
    assert r.exit_code == 0 and r.stdout.strip() == "no watches"


def test_watches_mute_off_refuses_a_duration(tmp_path: Path) -> None:
    app = _app(tmp_path)
    assert runner.invoke(app, ["watches", "add", "q", "-t", "x"]).exit_code == 0
    assert runner.invoke(app, ["watches", "mute", "q", "--for", "3d"]).exit_code == 0
    for bad in ("3x", "1d"):
        r = runner.invoke(app, ["watches", "mute", "q", "--off", "--for", bad])
        assert "--for cannot be combined with --off" in _one_error(r)
    # Nothing was changed by the refused command; --off alone unmutes.
    r = runner.invoke(app, ["watches", "list", "--format", "json"])
    assert json.loads(r.stdout)["muted_until"]
    r = runner.invoke(app, ["watches", "mute", "q", "--off"])
    assert r.exit_code == 0 and r.stdout.strip() == "unmuted q"
