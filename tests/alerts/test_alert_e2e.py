"""End to end on SQLite: weeks of ordinary articles, then a burst on a watched term → exactly one
email at a real SMTP server, with the right subject, stories and sparkline; quiet days send none."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from alerts.delivery import deliver_pending
from alerts.service import _ArticleCounts, evaluate_watches, record_mentions
from alerts.watches import parse_watch
from storage.models import Alert, Article, Mention, OutboxMessage, Watch
from tests.alerts.conftest import SmtpServer

START = datetime(2024, 3, 1, tzinfo=UTC)
OUTLETS = ["tass", "ria", "spiegel", "welt", "telegraph", "inosmi"]


class Feeder:
    """Stores articles as the pipeline would (cleaned title/body) and records mentions."""

    def __init__(self, engine, watches) -> None:
        self.engine = engine
        self.watches = watches
        self.n = 0

    def add(self, s: Session, when: datetime, outlet: str, title: str, body: str, **kw) -> Article:
        self.n += 1
        url = f"https://{outlet}.example/{self.n}"
        a = Article(
            outlet_id=outlet,
            url=url,
            canonical_url=url,
            url_hash=hashlib.sha256(url.encode()).hexdigest(),
            status="stored",
            title=title,
            body=body,
            first_seen_at=when,
            stored_at=when,
            **{"language": "en", **kw},
        )
        s.add(a)
        s.flush()
        record_mentions(s, article=a, watches=self.watches, now=when)
        return a

    def ordinary_hours(self, start: datetime, hours: int, rng: random.Random) -> None:
        with Session(self.engine) as s:
            for h in range(hours):
                t = start + timedelta(hours=h)
                for k in range(rng.randint(2, 5)):
                    mention = rng.random() < 0.04
                    body = (
                        "Officials discussed the Sarmat programme."
                        if mention
                        else "Markets were calm."
                    )
                    self.add(
                        s, t + timedelta(minutes=7 * k), rng.choice(OUTLETS), "Daily news", body
                    )
            s.commit()


def _sent(server: SmtpServer):
    return [message_from_bytes(raw, policy=default) for _, _, raw in server.handler.messages]


def test_burst_sends_exactly_one_email(engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    watch = parse_watch(
        {"id": "sarmat", "terms": ["Sarmat*", "Сармат*"], "recipients": ["desk@example.org"]}
    )
    muted = parse_watch(
        {
            "id": "muted",
            "terms": ["Sarmat"],
            "recipients": ["m@example.org"],
            "muted_until": "2099-01-01T00:00:00Z",
        }
    )
    watches = [watch, muted]
    feeder = Feeder(engine, watches)
    rng = random.Random(7)
    days = 18
    feeder.ordinary_hours(START, days * 24, rng)
    now = START + timedelta(days=days)

    # Ordinary days: evaluate the whole history, then hour by hour — nothing is sent.
    assert (
        evaluate_watches(
            engine, now=now - timedelta(hours=6), interval_seconds=3600, watches=watches
        )
        == []
    )
    for h in range(-5, 1):
        assert (
            evaluate_watches(
                engine, now=now + timedelta(hours=h), interval_seconds=3600, watches=watches
            )
            == []
        )
    assert deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=now).sent == 0

    # The burst: a dozen stories across outlets, plus a syndicated copy that must not count twice.
    with Session(engine) as s:
        for k in range(12):
            a = feeder.add(
                s,
                now + timedelta(minutes=4 * k),
                OUTLETS[k % len(OUTLETS)],
                f"Russia tests Sarmat missile, report {k}",
                "The RS-28 Sarmat <ICBM> was launched from Plesetsk. Officials confirmed the "
                "test of the «Сармата» system on Tuesday.",
            )
            if k == 0:
                first = a
        feeder.add(
            s,
            now + timedelta(minutes=50),
            "inosmi",
            first.title,
            first.body,
            copy_of_id=first.id,
            copy_kind="exact",
        )
        for k in range(4):
            feeder.add(
                s,
                now + timedelta(minutes=5 + 9 * k),
                OUTLETS[k],
                "Daily news",
                "Markets were calm.",
            )
        s.commit()
        assert (
            s.exec(
                select(Mention).where(Mention.watch_id == "sarmat").where(Mention.seen_at >= now)
            )
            .all()
            .__len__()
            == 12
        )

    alerts = evaluate_watches(
        engine, now=now + timedelta(hours=1), interval_seconds=3600, watches=watches
    )
    kinds = sorted((a.watch_id, a.kind) for a in alerts)
    assert kinds == [("muted", "fired"), ("sarmat", "fired")]
    with Session(engine) as s:
        row = s.get(Watch, "sarmat")
        assert row.state == "firing" and row.burst_started_at is not None
        st = row.detector_state
        assert st["t0"] + len(st["m"]) * 3600 == int((now + timedelta(hours=1)).timestamp())
    # Re-running the same evaluation is harmless.
    assert (
        evaluate_watches(
            engine, now=now + timedelta(hours=1), interval_seconds=3600, watches=watches
        )
        == []
    )

    report = deliver_pending(
        engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=now + timedelta(hours=1)
    )
    assert report.sent == 1
    mails = _sent(smtp_server)
    assert len(mails) == 1
    mail = mails[0]
    assert mail["To"] == "desk@example.org"
    assert mail["Subject"].startswith("Sarmat: 12 articles in 1 h, ")
    assert mail["Subject"].endswith("× usual")
    html = mail.get_body(preferencelist=("html",)).get_content()
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Russia tests Sarmat missile, report 11" in text
    assert "&lt;ICBM&gt;" in html and "<strong>Sarmat</strong>" in html
    assert "(+1 copy)" in text  # the syndicated copy is merged into its story
    pngs = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert len(pngs) == 1 and pngs[0].get_content()[:8] == b"\x89PNG\r\n\x1a\n"

    # The burst goes on a little, then dies down: no second email, a "resolved" decision later.
    with Session(engine) as s:
        for k in range(5):
            feeder.add(
                s,
                now + timedelta(hours=1, minutes=5 * k),
                OUTLETS[k],
                f"More on Sarmat {k}",
                "Sarmat again.",
            )
        s.commit()
    feeder.ordinary_hours(now + timedelta(hours=2), 30, rng)
    for h in range(2, 33):
        evaluate_watches(
            engine, now=now + timedelta(hours=h), interval_seconds=3600, watches=watches
        )
    deliver_pending(
        engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=now + timedelta(hours=40)
    )
    subjects = [m["Subject"] for m in _sent(smtp_server)]
    assert len([x for x in subjects if "articles in" in x]) == 1
    with Session(engine) as s:
        decided = s.exec(
            select(Alert).where(Alert.watch_id == "sarmat").order_by(Alert.interval_start)
        ).all()
        assert [a.kind for a in decided] == ["fired", "resolved"]
        assert all("m@example.org" not in r.recipients for r in s.exec(select(OutboxMessage)).all())

    # `newswatch alerts list` shows the decisions.
    import typer

    from workers.cli_alerts import register

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """root"""

    register(app, get_settings=lambda: None, get_engine=lambda: engine)
    out = CliRunner().invoke(app, ["alerts", "list", "--watch", "sarmat"])
    assert out.exit_code == 0 and "sarmat fired" in out.output and "sarmat resolved" in out.output


def test_quiet_hours_hold_then_release_as_digest(engine, tmp_path: Path) -> None:
    watch = parse_watch(
        {
            "id": "kgd",
            "terms": ["Kaliningrad"],
            "recipients": ["desk@example.org"],
            "quiet_hours": "22:00-07:00",
        }
    )
    feeder = Feeder(engine, [watch])
    rng = random.Random(3)
    days = 10
    with Session(engine) as s:
        for h in range(days * 24):
            t = START + timedelta(hours=h)
            for k in range(3):
                body = "Kaliningrad port news." if rng.random() < 0.04 else "Nothing much."
                feeder.add(s, t + timedelta(minutes=10 * k), OUTLETS[k], "News", body)
        s.commit()
    night = START + timedelta(days=days, hours=1)  # 01:00 UTC: inside quiet hours
    evaluate_watches(engine, now=night, interval_seconds=3600, watches=[watch])
    with Session(engine) as s:
        for k in range(10):
            feeder.add(
                s,
                night + timedelta(minutes=5 * k),
                OUTLETS[k % 6],
                f"Kaliningrad blockade {k}",
                "Kaliningrad.",
            )
        s.commit()
    alerts = evaluate_watches(
        engine, now=night + timedelta(hours=1), interval_seconds=3600, watches=[watch]
    )
    assert [a.kind for a in alerts] == ["fired"]
    with Session(engine) as s:
        rows = s.exec(select(OutboxMessage)).all()
        assert [r.status for r in rows] == ["held"]
    # Nothing goes out while quiet.
    assert (
        deliver_pending(
            engine, smtp_url=None, outbox_dir=tmp_path, now=night + timedelta(hours=1)
        ).written
        == 0
    )
    morning = START + timedelta(days=days, hours=8)
    evaluate_watches(engine, now=morning, interval_seconds=3600, watches=[watch])
    report = deliver_pending(engine, smtp_url=None, outbox_dir=tmp_path, now=morning)
    assert report.written >= 1
    assert any("Kaliningrad" in p.read_text() for p in tmp_path.glob("*.eml"))
    with Session(engine) as s:
        assert "held" not in [r.status for r in s.exec(select(OutboxMessage)).all()]


def test_mentions_once_per_story_and_filters(engine) -> None:
    watch = parse_watch(
        {"id": "ns", "terms": ["Nord Stream"], "outlets": ["welt", "spiegel"], "languages": ["de"]}
    )
    feeder = Feeder(engine, [watch])
    now = START
    with Session(engine) as s:
        a = feeder.add(s, now, "welt", "Nord Stream", "x", language="de")
        # The same story again (a copy) and a different outlet outside the filter.
        b = feeder.add(s, now, "spiegel", "Nord-Stream Lecks", "y", copy_of_id=a.id, language="de")
        c = feeder.add(s, now, "tass", "Nord Stream", "z", language="de")
        d = feeder.add(s, now, "welt", "Nord Stream", "english text", language="en")
        s.commit()
        rows = s.exec(select(Mention)).all()
        assert [(m.article_id, m.story_key) for m in rows] == [(a.id, f"a{a.id}")]
        assert b.id and c.id and d.id


def test_a_latin_watch_counts_russian_coverage(engine) -> None:
    # `Sarmat*` alone counts an article that spells the missile only in Cyrillic.
    watch = parse_watch({"id": "sarmat", "terms": ["Sarmat*"], "languages": ["ru", "en"]})
    feeder = Feeder(engine, [watch])
    with Session(engine) as s:
        ru = feeder.add(s, START, "tass", "Испытание", "Пуск «Сармата» прошёл", language="ru")
        feeder.add(s, START, "ria", "Погода", "Тепло и сухо", language="ru")
        s.commit()
        assert [m.article_id for m in s.exec(select(Mention)).all()] == [ru.id]


def test_a_norwegian_watch_takes_bokmal_and_nynorsk(engine) -> None:
    """py3langid says "no" for most Bokmål, pages declare "nb": a "no" or "nb" watch takes both,
    and the articles it is measured against (its expected volume) follow the same filter."""
    watches = [
        parse_watch({"id": "no", "terms": ["Equinor"], "languages": ["no"]}),
        parse_watch({"id": "nb", "terms": ["Equinor"], "languages": ["nb"]}),
        parse_watch({"id": "nn", "terms": ["Equinor"], "languages": ["nn"]}),
    ]
    feeder = Feeder(engine, watches)
    with Session(engine) as s:
        ids = {
            lang: feeder.add(s, START, f"o-{lang}", f"Equinor {lang}", "tekst", language=lang).id
            for lang in ("no", "nb", "nn", "da")
        }
        s.commit()
        taken = {
            w.id: sorted(m.article_id for m in s.exec(select(Mention)).all() if m.watch_id == w.id)
            for w in watches
        }
        counts = _ArticleCounts(s)
        hi = START + timedelta(hours=1)
        volume = {w.id: sum(counts.counts(w, START, hi, 3600).values()) for w in watches}
    assert taken == {
        "no": sorted([ids["no"], ids["nb"], ids["nn"]]),
        "nb": sorted([ids["no"], ids["nb"]]),
        "nn": [ids["nn"]],
    }
    assert volume == {"no": 3, "nb": 2, "nn": 1}


def test_a_new_watch_gets_its_history_in_committed_batches_that_resume(engine, monkeypatch) -> None:
    # A month of a large store takes minutes to scan: inside the evaluation's one transaction it
    # held SQLite's write lock throughout, and a run cut by the time limit lost all of it.
    import alerts.service as service

    monkeypatch.setattr(service, "BACKFILL_BATCH", 10)
    feeder = Feeder(engine, [])  # stored before the watch existed: no mentions recorded yet
    with Session(engine) as s:
        ids = [
            feeder.add(
                s, START + timedelta(hours=h), OUTLETS[h % 6], "News", f"Sarmat report {h}."
            ).id
            for h in range(45)
        ]
        s.commit()
    watch = parse_watch({"id": "sarmat", "terms": ["Sarmat"]})
    now = START + timedelta(days=3)
    # A run that stopped after 20 articles left its progress behind (as a cut-off run does).
    with Session(engine) as s:
        service.sync_watches(s, [watch], now)
        row = s.get(Watch, "sarmat")
        assert row is not None
        row.detector_state = {**service.new_state(), "backfill_after": ids[19]}
        s.add(row)
        s.commit()
    evaluate_watches(engine, now=now, interval_seconds=3600, watches=[watch])
    with Session(engine) as s:
        keys = {m.article_id for m in s.exec(select(Mention)).all()}
        state = s.get(Watch, "sarmat").detector_state
    # the next run resumed after the last article scanned, and finished the period
    assert keys == set(ids[20:])
    assert state["backfilled"] is True and state["t0"] is not None


def test_an_interval_is_counted_only_after_its_late_mentions_can_commit(engine) -> None:
    # An article being processed as 12:00 passes is dated (seen_at) 11:59:30 but commits its
    # mention a little later. Counted at 12:00:30, the 11:00 interval would miss it for good.
    watch = parse_watch({"id": "sarmat", "terms": ["Sarmat"]})
    feeder = Feeder(engine, [watch])
    noon = START + timedelta(days=2, hours=12)

    def evaluated_until(now: datetime) -> datetime:
        evaluate_watches(
            engine, now=now, interval_seconds=3600, watches=[watch], settle_seconds=180
        )
        with Session(engine) as s:
            state = s.get(Watch, "sarmat").detector_state
        return datetime.fromtimestamp(state["t0"] + 3600 * len(state["m"]), UTC)

    assert evaluated_until(noon + timedelta(seconds=30)) == noon - timedelta(hours=1)
    with Session(engine) as s:  # the late commit
        feeder.add(s, noon - timedelta(seconds=30), "tass", "Sarmat", "Sarmat test.")
        s.commit()
    assert evaluated_until(noon + timedelta(minutes=3, seconds=30)) == noon
    with Session(engine) as s:
        state = s.get(Watch, "sarmat").detector_state
    assert state["m"][-1] == 1  # the 11:00 interval has its mention


def test_alerts_held_overnight_go_out_as_one_digest_with_their_charts(
    engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    from alerts.render import ArticleSummary, render_alert
    from alerts.service import release_held

    watch = parse_watch(
        {
            "id": "kgd",
            "terms": ["Kaliningrad"],
            "recipients": ["desk@example.org"],
            "quiet_hours": "22:00-07:00 UTC",
        }
    )
    night = datetime(2024, 3, 5, 23, tzinfo=UTC)
    with Session(engine) as s:
        for h, ratio in ((0, 6.0), (2, 13.0)):
            start = night + timedelta(hours=h)
            note = {"kind": "fired" if h == 0 else "escalated", "observed": 30 + h, "ratio": ratio}
            note |= {"expected": 5.0, "window_seconds": 3600 * 6, "p_value": 1e-9}
            rendered = render_alert(
                watch_id="kgd",
                label="Kaliningrad",
                note=note,
                series=[1, 1, 2, 9 + h],
                expected=None,
                articles=[ArticleSummary("Kaliningrad port", "https://a.example/1", "tass", start)],
                recipients=watch.recipients,
                mail_from="newswatch <alerts@news.example>",
                matcher=watch.matcher,
                interval_start=start,
                now=start,
            )
            s.add(
                OutboxMessage(
                    message_id=rendered.message_id,
                    recipients=list(watch.recipients),
                    subject=rendered.subject,
                    raw=rendered.as_bytes(),
                    status="held",
                    created_at=start,
                )
            )
        s.commit()
        morning = datetime(2024, 3, 6, 7, 30, tzinfo=UTC)
        assert release_held(s, watches=[watch], now=night + timedelta(hours=3)) == 0  # still quiet
        assert release_held(s, watches=[watch], now=morning) == 1
        s.commit()
        assert sorted(r.status for r in s.exec(select(OutboxMessage)).all()) == [
            "merged",
            "merged",
            "pending",
        ]
    report = deliver_pending(engine, smtp_url=smtp_server.url, outbox_dir=tmp_path, now=morning)
    assert report.sent == 1
    (mail,) = _sent(smtp_server)
    assert mail["Subject"] == "Kaliningrad: 2 alerts held during quiet hours"
    page = mail.get_body(preferencelist=("html",)).get_content()
    assert page.count("<section>") == 2 and "Kaliningrad port" in page
    charts = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert len(charts) == 2 and {p["Content-ID"] for p in charts} == {
        "<sparkline-1>",
        "<sparkline-2>",
    }
