"""Helpers of the dedup tests: ingest one article the way the pipeline does, and make copies."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sources.urls import canonical_url, url_hash
from storage import minhash as mh
from storage.db import make_engine, session_scope, with_db_retry
from storage.dedup import DedupResult, apply_dedup, ensure_article

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dedup"
T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)


def events() -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / "events.json").read_text(encoding="utf-8"))
    for a in data["articles"]:
        a["published"] = datetime.fromisoformat(a["published"])
    return data["articles"]


def article(key: str) -> dict[str, Any]:
    return next(a for a in events() if a["key"] == key)


def create(engine, url: str, outlet: str, *, now: datetime = T0) -> int:
    """Poll step: the article row for a link (its own short transaction)."""
    canon = canonical_url(url)
    with session_scope(engine) as s:
        a = ensure_article(
            s, url=url, canonical=canon, url_key=url_hash(canon), outlet_id=outlet, now=now
        )
        assert a.id is not None
        return a.id


def process(
    engine,
    article_id: int,
    title: str | None,
    body: str,
    *,
    syndicated_from: list[str] | None = None,
    page_canonical: str | None = None,
    published: datetime | None = None,
    now: datetime = T0,
) -> DedupResult:
    """Process step: dedup inside the transaction that stores the cleaned article."""
    from storage.models import Article

    def run() -> DedupResult:
        with session_scope(engine) as s:
            a = s.get(Article, article_id)
            assert a is not None
            if published is not None:
                a.published = published
            res = apply_dedup(
                s,
                article=a,
                title=title,
                body=body,
                syndicated_from=syndicated_from or [],
                page_canonical_url=page_canonical,
                now=now,
                canonicalize=canonical_url,
            )
            a.syndicated_from = list(syndicated_from or [])
            a.status = "stored"
            return res

    return with_db_retry(run, attempts=8, base_delay=0.2)


def ingest(engine, url: str, outlet: str, title: str | None, body: str, **kw: Any):
    now = kw.pop("now", T0)
    aid = create(engine, url, outlet, now=now)
    return aid, process(engine, aid, title, body, now=now, **kw)


def syndicate(body: str, *, byline: str, footer: str) -> str:
    """The same text as another outlet prints it: its byline above, its boilerplate below."""
    return f"{byline}\n\n{body}\n\n{footer}"


def edit(body: str, fraction: float, seed: int) -> str:
    """Change about `fraction` of the words: substitutions, deletions and insertions."""
    rng = random.Random(seed)
    words = body.split(" ")
    pool = [
        "officials",
        "reported",
        "nearly",
        "several",
        "regional",
        "announced",
        "according",
        "later",
        "however",
    ]
    for _ in range(max(1, round(len(words) * fraction))):
        i = rng.randrange(len(words))
        op = rng.random()
        if op < 0.6:
            words[i] = rng.choice(pool)
        elif op < 0.8 and len(words) > 10:
            del words[i]
        else:
            words.insert(i, rng.choice(pool))
    return " ".join(words)


def concurrent_worker(db_url: str, items: list[dict[str, Any]], seed: int, start) -> int:
    """One of N processes ingesting the same entries in its own order (multiprocessing spawn)."""
    engine = make_engine(db_url)
    order = list(items)
    random.Random(seed).shuffle(order)
    mh.body_signature("warm up")  # import datasketch now, so the processes really start together
    start.wait()
    done = 0
    for i, it in enumerate(order):
        now = T0 + timedelta(seconds=seed * 0.001 + i)
        aid = with_db_retry(lambda it=it, now=now: create(engine, it["url"], it["outlet"], now=now))
        process(engine, aid, it["title"], it["body"], syndicated_from=it.get("synd"), now=now)
        done += 1
    engine.dispose()
    return done
