"""The extraction drift alarm: fires once on a simulated redesign, never on ordinary variation."""

from __future__ import annotations

import email
import hashlib
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.drift import check_drift, compare, message_id, open_events
from storage.db import create_all, make_engine
from storage.models import Article, OpsEvent, OutboxMessage
from storage.quality import article_figures, leftover_suspected, outlet_quality

FIXTURES = Path(__file__).parent / "fixtures"
PARAGRAPHS = (FIXTURES / "good_paragraphs.txt").read_text().strip().splitlines()
REDESIGN = (FIXTURES / "redesign_body.txt").read_text()
NAV_ONLY = (FIXTURES / "nav_only_body.txt").read_text()
T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
OPS = "ops@example.org"
FROM = "newswatch <newswatch@example.org>"


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_db"))
    else:
        url = f"sqlite:///{tmp_path / 'quality.db'}"
    eng = make_engine(url)
    create_all(eng)
    yield eng
    eng.dispose()


class Outlet:
    """Stores articles for one outlet at a steady pace, as the pipeline would."""

    def __init__(self, engine: Engine, outlet_id: str, seed: int) -> None:
        self.engine = engine
        self.id = outlet_id
        self.rng = random.Random(seed)
        self.at = T0
        self.n = 0

    def good_body(self, *, low: int = 3, high: int = 9) -> str:
        paras = self.rng.sample(PARAGRAPHS, self.rng.randint(low, high))
        if self.rng.random() < 0.08:
            paras.append("Advertisement")  # one stray marker is ordinary, not a leftover
        return "\n\n".join(paras)

    def add(self, body: str, *, author: bool, date: bool) -> None:
        self.n += 1
        self.at += timedelta(minutes=20)
        url = f"https://{self.id}.example/news/{self.n}"
        with Session(self.engine) as s:
            s.add(
                Article(
                    outlet_id=self.id,
                    url=url,
                    canonical_url=url,
                    url_hash=hashlib.sha256(url.encode()).hexdigest(),
                    status="stored",
                    body=body,
                    authors=["A. Writer"] if author else [],
                    published=self.at - timedelta(minutes=30) if date else None,
                    first_seen_at=self.at - timedelta(minutes=2),
                    stored_at=self.at,
                )
            )
            s.commit()

    def ordinary(self, count: int, *, author_p: float = 0.85, brief_p: float = 0.2) -> None:
        for _ in range(count):
            brief = self.rng.random() < brief_p
            body = self.good_body(low=1, high=2) if brief else self.good_body()
            self.add(body, author=self.rng.random() < author_p, date=self.rng.random() < 0.95)

    def redesigned(self, count: int) -> None:
        for i in range(count):
            # The new layout: a teaser line, then comments glued on; or only navigation text.
            body = f"{PARAGRAPHS[i % len(PARAGRAPHS)]}\n{REDESIGN}" if i % 3 else NAV_ONLY
            self.add(body, author=False, date=i % 4 == 0)

    @property
    def now(self) -> datetime:
        return self.at + timedelta(minutes=1)


def check(engine: Engine, now: datetime) -> list[OpsEvent]:
    return check_drift(engine, now=now, ops_email=OPS, mail_from=FROM)


def outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage)).all())


def test_leftover_detector_on_fixture_bodies() -> None:
    assert leftover_suspected(REDESIGN)
    assert leftover_suspected(NAV_ONLY)
    good = "\n\n".join(PARAGRAPHS)
    assert not leftover_suspected(good)
    assert not leftover_suspected(good + "\n\nAdvertisement")
    # Sentences that merely mention comments or subscribers are article text, not leftovers.
    assert not leftover_suspected(
        "Readers left 300 comments under the post.\n\nThe paper lost subscribers, share prices fell."
    )


def test_compare_flags_each_figure_against_history() -> None:
    rng = random.Random(1)

    def fig(chars: int, author: bool = True, date: bool = True, leftover: bool = False):
        return article_figures(
            body_chars=chars,
            authors=["x"] if author else [],
            published=T0 if date else None,
            body_sample=REDESIGN if leftover else "text",
        )

    history = [fig(rng.randint(1500, 4000)) for _ in range(100)]
    same = [fig(rng.randint(1500, 4000)) for _ in range(20)]
    assert not compare(history, same).drifted
    assert compare(history, [fig(rng.randint(20, 200)) for _ in range(20)]).reasons == [
        "body length",
        "short or empty bodies",
    ]
    # Shorter pieces, but still in the outlet's usual range: no alarm.
    assert not compare(history, [fig(rng.randint(1000, 2000)) for _ in range(20)]).drifted
    assert compare(history, [fig(2000, author=False) for _ in range(20)]).reasons == [
        "authors missing"
    ]
    assert compare(history, [fig(2000, date=False) for _ in range(20)]).reasons == ["dates missing"]
    assert compare(history, [fig(2000, leftover=True) for _ in range(20)]).reasons == [
        "leftover comments or boilerplate"
    ]
    # Too little history or too small a window decides nothing.
    assert not compare(history[:10], [fig(10, False, False, True)] * 20).drifted
    assert not compare(history, [fig(10, False, False, True)] * 5).drifted


def test_redesign_fires_once_emails_once_and_closes_on_recovery(engine: Engine) -> None:
    site = Outlet(engine, "gazette", seed=7)
    calm = Outlet(engine, "calm", seed=8)
    site.ordinary(80)
    calm.ordinary(80)
    assert check(engine, site.now) == []

    opened: list[OpsEvent] = []
    fired_after = None
    for step in range(1, 41):  # the redesign: one bad article at a time, checked every time
        site.redesigned(1)
        calm.ordinary(1)
        new = check(engine, site.now)
        if new and fired_after is None:
            fired_after = step
        opened += new
    assert [(e.subject, e.closed_at) for e in opened] == [("gazette", None)]
    assert fired_after is not None and fired_after <= 12  # well inside one 20-article window
    event = opened[0]
    assert event.details["reasons"]
    assert event.details["baseline"]["share_with_author"] > 0.7
    base, recent = event.details["baseline"], event.details["recent"]
    assert recent["share_with_author"] <= base["share_with_author"] - 0.3

    sent = outbox(engine)
    assert len(sent) == 1
    msg = email.message_from_bytes(sent[0].raw)
    assert sent[0].kind == "ops" and sent[0].recipients == [OPS] and sent[0].status == "pending"
    assert msg["To"] == OPS and "gazette" in msg["Subject"]
    assert msg["Message-ID"] == sent[0].message_id == message_id("gazette", event.opened_at)
    assert "authors missing" in msg.get_payload()
    assert [e.subject for e in open_events(engine)] == ["gazette"]

    q = outlet_quality(engine)
    assert q["gazette"].share_leftover > 0.5 and q["calm"].share_leftover < 0.2

    closed: list[OpsEvent] = []
    for _ in range(25):  # the cleaning rules are fixed: good articles again
        site.ordinary(1)
        closed += check(engine, site.now)
    assert [(e.subject, e.id) for e in closed] == [("gazette", event.id)]
    assert closed[0].closed_at is not None
    assert open_events(engine) == []
    assert len(outbox(engine)) == 1  # recovery sends nothing


def test_event_stays_open_while_broken_even_when_history_fills_with_bad(engine: Engine) -> None:
    site = Outlet(engine, "stuck", seed=3)
    site.ordinary(60)
    site.redesigned(20)
    assert [e.subject for e in check(engine, site.now)] == ["stuck"]
    site.redesigned(300)  # long after: a moving baseline would call this "normal" by now
    assert check(engine, site.now) == []
    assert [e.subject for e in open_events(engine)] == ["stuck"]
    assert len(outbox(engine)) == 1


def test_ordinary_variation_never_fires(engine: Engine) -> None:
    outlets = [Outlet(engine, f"steady{i}", seed=100 + i) for i in range(3)]
    fired: list[OpsEvent] = []
    for round_ in range(50):
        for o in outlets:
            # Quieter days: shorter pieces, fewer bylines, more briefs; still the same layout.
            weekend = (round_ // 7) % 2 == 1
            o.ordinary(5, author_p=0.75 if weekend else 0.85, brief_p=0.3 if weekend else 0.2)
        fired += check(engine, outlets[0].now)
    assert fired == []
    assert outbox(engine) == []


def test_without_ops_email_the_event_opens_but_nothing_is_queued(engine: Engine) -> None:
    site = Outlet(engine, "quiet", seed=5)
    site.ordinary(60)
    site.redesigned(20)
    events = check_drift(engine, now=site.now, ops_email="", mail_from=FROM)
    assert [e.subject for e in events] == ["quiet"]
    assert events[0].details["emailed"] is False
    assert outbox(engine) == []


Factory = Callable[[], None]
