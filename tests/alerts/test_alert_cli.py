"""`newswatch watches …` and `newswatch alerts backtest|list` through the registered Typer app."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

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
    r = runner.invoke(app, ["watches", "remove", "sarmat"])
    assert r.exit_code == 0
    r = runner.invoke(app, ["watches", "list"])
    assert "no watches" in r.output
