"""Outbox delivery against a real SMTP server (aiosmtpd): retries, failures, outages, exactly once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlmodel import Session

from alerts.delivery import SmtpTarget, deliver_one, deliver_pending
from alerts.render import render_alert
from storage.models import OutboxMessage
from tests.alerts.conftest import SmtpServer, free_port

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _enqueue(
    engine, kind: str = "fired", recipients: tuple[str, ...] = ("analyst@example.org",)
) -> tuple[int, str]:
    note = {"kind": kind, "observed": 9, "expected": 1.0, "ratio": 9.0, "window_seconds": 3600}
    r = render_alert(
        watch_id="sarmat",
        label="Sarmat",
        note=note,
        series=[1, 9],
        expected=[1, 1],
        articles=[],
        recipients=list(recipients),
        mail_from="newswatch <alerts@news.example>",
        interval_start=NOW,
        now=NOW,
    )
    with Session(engine) as s:
        row = OutboxMessage(
            message_id=r.message_id,
            recipients=list(recipients),
            subject=r.subject,
            raw=r.as_bytes(),
            created_at=NOW,
        )
        s.add(row)
        s.commit()
        return int(row.id or 0), r.message_id


def _row(engine, row_id: int) -> OutboxMessage:
    with Session(engine) as s:
        row = s.get(OutboxMessage, row_id)
        assert row is not None
        return row


def _ids(server: SmtpServer) -> list[str]:
    return [
        message_from_bytes(raw, policy=default)["Message-ID"]
        for _, _, raw in server.handler.messages
    ]


def test_451_is_retried_with_backoff_then_sent(
    engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    row_id, mid = _enqueue(engine)
    smtp_server.handler.replies.append("451 4.3.0 try again later")
    report = deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=NOW)
    assert report.retried == 1 and report.sent == 0
    row = _row(engine, row_id)
    assert row.status == "pending" and row.attempts == 1 and "451" in (row.last_error or "")
    assert row.next_attempt_at.replace(tzinfo=UTC) == NOW + timedelta(minutes=1)
    # Not due yet: nothing happens.
    assert deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=NOW).sent == 0
    report = deliver_pending(
        engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=NOW + timedelta(minutes=2)
    )
    assert report.sent == 1
    assert _row(engine, row_id).status == "sent"
    assert _ids(smtp_server) == [mid]
    rcpt = smtp_server.handler.messages[0]
    assert rcpt[0] == "alerts@news.example" and rcpt[1] == ["analyst@example.org"]


def test_550_is_failed_and_never_retried(engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    row_id, _ = _enqueue(engine)
    smtp_server.handler.replies.append("550 5.1.1 no such user")
    report = deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=NOW)
    assert report.failed == 1
    row = _row(engine, row_id)
    assert row.status == "failed" and "550" in (row.last_error or "")
    later = NOW + timedelta(days=1)
    assert (
        deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=later).sent == 0
    )
    assert smtp_server.handler.messages == []


def test_server_down_then_up(engine, tmp_path: Path) -> None:
    row_id, mid = _enqueue(engine)
    port = free_port()
    url = f"smtp://127.0.0.1:{port}"
    report = deliver_pending(engine, smtp_url=url, outbox_dir=tmp_path, now=NOW)
    assert report.deferred == 1
    assert _row(engine, row_id).status == "pending"
    server = SmtpServer(port).start()
    try:
        report = deliver_pending(
            engine, smtp_url=url, outbox_dir=tmp_path, now=NOW + timedelta(minutes=5)
        )
        assert report.sent == 1
        assert _ids(server) == [mid]
    finally:
        server.stop()


def test_crash_after_accept_gives_at_most_one_duplicate(
    engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    row_id, mid = _enqueue(engine)
    assert (
        deliver_one(engine, row_id, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=NOW)
        == "sent"
    )
    # Simulate the crash: the server accepted, but the "sent" write was lost; the row still
    # holds the "sending" lease taken before SMTP.
    with Session(engine) as s:
        row = s.get(OutboxMessage, row_id)
        row.status, row.next_attempt_at = "sending", NOW + timedelta(minutes=10)
        s.add(row)
        s.commit()
    # While the lease runs nobody else sends it.
    assert (
        deliver_pending(
            engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=NOW + timedelta(minutes=1)
        ).sent
        == 0
    )
    later = NOW + timedelta(minutes=11)
    assert (
        deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=later).sent == 1
    )
    assert (
        deliver_pending(
            engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=later + timedelta(hours=1)
        ).sent
        == 0
    )
    assert _ids(smtp_server) == [mid, mid]  # one duplicate, same Message-ID: clients dedupe
    assert _row(engine, row_id).status == "sent"


def test_eml_files_without_smtp(engine, tmp_path: Path) -> None:
    row_id, mid = _enqueue(engine)
    out = tmp_path / "outbox"
    report = deliver_pending(engine, smtp_url=None, outbox_dir=out, now=NOW)
    assert report.written == 1
    files = list(out.glob("*.eml"))
    assert [f.name for f in files] == [mid.strip("<>") + ".eml"]
    msg = message_from_bytes(files[0].read_bytes(), policy=default)
    assert msg["Message-ID"] == mid
    assert deliver_pending(engine, smtp_url=None, outbox_dir=out, now=NOW).written == 0


def test_password_is_never_logged(engine, smtp_server: SmtpServer, tmp_path: Path, caplog) -> None:
    row_id, _ = _enqueue(engine)
    url = f"smtp://user:s3cr3t-pw@127.0.0.1:{smtp_server.port}"  # loopback: AUTH without TLS
    assert "s3cr3t" not in repr(SmtpTarget.parse(url))
    with caplog.at_level(logging.DEBUG):
        deliver_pending(engine, smtp_url=url, outbox_dir=tmp_path, now=NOW)
    row = _row(engine, row_id)
    assert row.status in ("pending", "failed")  # the server offers no AUTH without TLS
    assert "s3cr3t" not in (row.last_error or "") and "s3cr3t" not in caplog.text


def test_smtp_url_parsing() -> None:
    t = SmtpTarget.parse("smtp://u%40x:p%3Aw@mail.example?starttls=1")
    assert (t.host, t.port, t.starttls, t.ssl, t.username, t.password) == (
        "mail.example",
        587,
        True,
        False,
        "u@x",
        "p:w",
    )
    t = SmtpTarget.parse("smtps://mail.example")
    assert (t.port, t.ssl, t.starttls) == (465, True, False)
    assert SmtpTarget.parse("smtp://localhost:1025").port == 1025


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        # Unencoded / ? # in a password cut the URL into host, port, path or query pieces.
        ("smtp://AKIAEXAMPLE:BPw9Secret/xyz+Q@mail.example:587?starttls=1", "BPw9Secret"),
        ("smtp://mailer:4711/x@mail.example", "4711"),
        ("smtp://user:pa?ss-7@mail.example", "ss-7"),
        ("smtp://user:pa#ss-8@mail.example", "ss-8"),
        ("smtp://mail.example?colour=red", "colour"),
    ],
)
def test_malformed_smtp_url_is_refused_without_echoing_it(url: str, secret: str) -> None:
    with pytest.raises(ValueError) as err:
        SmtpTarget.parse(url)
    assert secret not in str(err.value)
    assert "percent-encode" in str(err.value)
    # urllib's own error ("Port could not be cast to integer value as '<password piece>'")
    # must not ride along as the context of ours.
    assert err.value.__suppress_context__ or err.value.__context__ is None


def test_credentials_need_tls_except_on_this_machine() -> None:
    with pytest.raises(ValueError, match="no TLS"):
        SmtpTarget.parse("smtp://u:pw@mail.example:587")
    assert SmtpTarget.parse("smtp://u:pw@mail.example?starttls").starttls
    assert SmtpTarget.parse("smtps://u:pw@mail.example").ssl
    assert SmtpTarget.parse("smtp://u:pw@127.0.0.1:25").username == "u"
    assert SmtpTarget.parse("smtp://u:pw@localhost").port == 25


def test_a_non_ascii_recipient_fails_its_row_only(
    engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    bad_id, _ = _enqueue(engine, recipients=("jürgen@example.org",))
    good_id, good_mid = _enqueue(engine, kind="escalated")
    report = deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=NOW)
    bad = _row(engine, bad_id)
    # Failed for good (smtplib cannot send it), not left "sending" to be re-claimed forever.
    assert bad.status == "failed" and "cannot be sent" in (bad.last_error or "")
    assert report.failed == 1 and report.sent == 1
    assert _row(engine, good_id).status == "sent"
    assert _ids(smtp_server) == [good_mid]


def test_a_bad_smtp_url_claims_no_row(engine, tmp_path: Path) -> None:
    row_id, _ = _enqueue(engine)
    with pytest.raises(ValueError, match="malformed"):
        deliver_pending(engine, smtp_url="smtp://u:p/w@mail.example", outbox_dir=tmp_path, now=NOW)
    with pytest.raises(ValueError, match="malformed"):
        deliver_one(engine, row_id, smtp_url="smtp://u:p/w@mail.example", outbox_dir=tmp_path)
    row = _row(engine, row_id)
    # A configuration error spends none of the message's attempts.
    assert row.status == "pending" and row.attempts == 0


def test_no_message_after_the_first_starts_past_the_time_budget(
    engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    # The task passes what leaves room for one SMTP exchange before its soft time limit: a limit
    # hitting between the server's acceptance and the row's update would send a message twice.
    rows = [_enqueue(engine, kind)[0] for kind in ("fired", "escalated", "resolved")]
    out = tmp_path / "outbox"
    spent = deliver_pending(
        engine, smtp_url=smtp_server.url, outbox_dir=out, now=NOW, time_budget=0
    )
    assert spent.sent == 1  # the first always goes, so a small budget cannot stop delivery
    assert [_row(engine, r).status for r in rows] == ["sent", "pending", "pending"]
    rest = deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=out, now=NOW)
    assert rest.sent == 2 and len(smtp_server.handler.messages) == 3


class _Greylisting:
    """Refuses one recipient at RCPT (4xx) the first `times` transactions, another for good."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.messages: list[list[str]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == "gone@example.org":
            return "550 5.1.1 no such user"
        if address == "grey@example.org" and self.times > 0:
            self.times -= 1
            return "450 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(list(envelope.rcpt_tos))
        return "250 OK queued"


def test_a_recipient_refused_for_now_is_tried_again_alone(engine, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    handler = _Greylisting(times=1)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        url = f"smtp://127.0.0.1:{port}"
        people = ("a@example.org", "grey@example.org", "gone@example.org")
        row_id, _ = _enqueue(engine, recipients=people)
        first = deliver_pending(engine, smtp_url=url, outbox_dir=tmp_path, now=NOW)
        assert first.retried == 1 and handler.messages == [["a@example.org"]]
        row = _row(engine, row_id)
        assert row.status == "pending" and row.recipients == ["grey@example.org"]
        assert "refused for now: ['grey@example.org']" in (row.last_error or "")
        assert "refused: ['gone@example.org']" in (row.last_error or "")
        later = NOW + timedelta(hours=2)
        second = deliver_pending(engine, smtp_url=url, outbox_dir=tmp_path, now=later)
        assert second.sent == 1 and handler.messages[1] == ["grey@example.org"]
        assert _row(engine, row_id).status == "sent"
        # nobody got it twice
        assert [r for batch in handler.messages for r in batch].count("a@example.org") == 1
    finally:
        controller.stop()
