"""`newswatch alerts backtest`: rows that cannot be true are refused, a silent run says why,
and each notification states the days of history its baseline really had."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.detect import DetectorConfig
from alerts.render import render_alert
from tests.alerts.test_alert_cli import _app

runner = CliRunner()
HEADER = "time,mentions,articles\n"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _backtest(tmp_path: Path, body: str):
    path = tmp_path / "series.csv"
    path.write_text(body, encoding="utf-8")
    return runner.invoke(_app(tmp_path), ["alerts", "backtest", str(path)])


def _series(days: int) -> str:
    """Hourly rows: `days` quiet days (2 mentions in 100 articles), then 6 hours at 40x."""
    rows = [HEADER.strip()]
    for h in range(days * 24 + 6):
        mentions = 80 if h >= days * 24 else 2
        stamp = (T0 + timedelta(hours=h)).isoformat().replace("+00:00", "Z")
        rows.append(f"{stamp},{mentions},100")
    return "\n".join(rows) + "\n"


def _error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# -- 1. a run that prints nothing says why -----------------------------------------------------


@pytest.mark.parametrize("body", [HEADER, HEADER + "\n,,\n"])
def test_a_file_with_no_data_rows_is_an_error(tmp_path: Path, body: str) -> None:
    assert _error(_backtest(tmp_path, body)).endswith("series.csv: no data rows (only a header)")


def test_a_spike_before_the_detector_may_fire_is_a_note_not_silence(tmp_path: Path) -> None:
    assert DetectorConfig().min_history_days == 7
    result = _backtest(tmp_path, _series(5))  # a 40x spike after 5 days
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # programs reading the JSON lines are unaffected
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: "), result.stderr
    assert "nothing could fire: 5.25 days of history, 4 days of it usable as baseline" in lines[0]
    assert "the detector fires only after 7 days of baseline" in lines[0]
    # Once the detector could fire, a run says nothing on stderr, whether it fired or not.
    result = _backtest(tmp_path, _series(8))
    assert result.exit_code == 0 and result.stderr == ""
    assert [json.loads(x)["kind"] for x in result.stdout.splitlines()] == ["fired"]


# -- 2. rows that cannot be true ---------------------------------------------------------------

ROW = "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (HEADER + f"{ROW},1.7,10\n", "line 2: mentions '1.7' is not a whole number"),
        (HEADER + f"{ROW},1,2.5\n", "line 2: articles '2.5' is not a whole number"),
        (HEADER + f"{ROW},50,10\n", "line 2: mentions 50 > articles 10"),
        (HEADER + f"{ROW},1,5\n2024-01-01T01:00:00Z,2,0\n", "line 3: mentions 2 > articles 0"),
        (
            "time,mentions,articles,time\n" + f"{ROW},1,5,2024-02-01T00:00:00Z\n",
            "header: column 'time' appears more than once",
        ),
        (
            HEADER + f'"{ROW},1,5\n2024-01-01T01:00:00Z,2,5\n',
            "line 2: CSV syntax error: a quoted field is never closed",
        ),
        (HEADER + f'"{ROW}"x,1,5\n', "line 2: CSV syntax error"),
        (HEADER + f"{ROW},1,5\n\n2024-01-01T01:00:00Z,1.5,5\n", "line 4: mentions"),
    ],
)
def test_impossible_rows_are_refused_naming_the_line(
    tmp_path: Path, body: str, needle: str
) -> None:
    assert needle in _error(_backtest(tmp_path, body))


def test_whole_counts_as_spreadsheets_write_them_are_accepted(tmp_path: Path) -> None:
    body = HEADER + f"{ROW},2.0,5\n2024-01-01T01:00:00Z,0,0\n2024-01-01T02:00:00Z,1e1,1E2\n"
    result = _backtest(tmp_path, body)
    assert result.exit_code == 0 and result.stdout == "", result.output
    assert result.stderr.startswith("note: ")


# -- 3. the baseline's days are the days it had -------------------------------------------------


def test_baseline_days_is_the_history_the_baseline_used(tmp_path: Path) -> None:
    # The baseline leaves out the last full day before the firing one (exclude_recent_days),
    # and spans at most baseline_days (28).
    for days, baseline_days in ((8, 7), (20, 19), (40, 28)):
        result = _backtest(tmp_path, _series(days))
        assert result.exit_code == 0, result.output
        fired = json.loads(result.stdout.splitlines()[0])
        assert fired["kind"] == "fired"
        assert fired["time"].startswith((T0 + timedelta(days=days)).date().isoformat())
        assert (days, fired["baseline_days"]) == (days, baseline_days)


def test_the_alert_email_names_the_days_the_baseline_had(tmp_path: Path) -> None:
    note = json.loads(_backtest(tmp_path, _series(8)).stdout.splitlines()[0])
    at = datetime.fromisoformat(note["time"].replace("Z", "+00:00"))
    mail = render_alert(
        watch_id="w",
        label="w",
        note=note,
        series=[2, 2, 80],
        expected=[2, 2, 2],
        articles=[],
        recipients=["a@example.org"],
        mail_from="newswatch@example.org",
        interval_start=at,
        now=at,
    )
    text = mail.message.get_body(("plain",)).get_content()
    assert "over the previous 7 days" in text and "previous 28 days" not in text


def test_an_endless_input_is_cut_at_the_cap_not_read_to_the_end(tmp_path: Path) -> None:
    # /dev/zero says its size is 0; the read stops one byte past the cap.
    result = runner.invoke(_app(tmp_path), ["alerts", "backtest", "/dev/zero"])
    assert _error(result) == "error: /dev/zero: larger than 209715200 bytes"
