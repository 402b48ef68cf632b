"""Dedup benchmark: near-copy quality on a generated labelled set, and index cost at 10k-1M articles.

Run: .venv/bin/python bench/dedup.py [--sizes 10000,100000,1000000] [--probes 200]
Writes bench/results/dedup.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sqlmodel import Session  # noqa: E402

from sources.urls import canonical_url, url_hash  # noqa: E402
from storage import minhash as mh  # noqa: E402
from storage.db import create_all, make_engine, session_scope  # noqa: E402
from storage.dedup import (  # noqa: E402
    STORY_BAND_OFFSET,
    apply_dedup,
    ensure_article,
    index_insert,
    index_lookup,
    story_index_insert,
    story_index_lookup,
)
from storage.models import Article  # noqa: E402

CORPUS = Path(os.environ.get("NEWSWATCH_CORPUS_DIR", REPO_ROOT / ".." / "shared" / "corpus"))
EVENTS = REPO_ROOT / "tests" / "fixtures" / "dedup" / "events.json"
RESULTS = REPO_ROOT / "bench" / "results" / "dedup.json"
T0 = datetime(2024, 6, 1, tzinfo=UTC)

OUTLETS = [
    (
        "herald",
        "By {name} | Herald staff",
        "Copyright 2024 The Herald. All rights reserved. "
        "Sign up for our morning newsletter to get the day's top stories in your inbox. "
        "Read more: Ten things to know today; Weather; Markets; Opinion.",
    ),
    (
        "review",
        "GLOBAL REVIEW — reposted. Author: {name}",
        "Support independent journalism: "
        "donate today. Follow Global Review on Telegram and VK. Comments are moderated. "
        "Views: 1,204. Tags: world, politics, analysis.",
    ),
    (
        "tribune",
        "{name}, Tribune wire desk",
        "This article was provided by a news agency. "
        "(c) Tribune Media Group. You may also like: How the markets closed; "
        "The week in pictures; Letters to the editor.",
    ),
    (
        "zeitung",
        "Von {name}",
        "Alle Rechte vorbehalten. Mehr zum Thema lesen Sie in unserem "
        "Newsletter. Anzeige. Weitere Artikel aus dem Ressort Politik.",
    ),
]
NAMES = ["Maria Lopez", "John Smith", "Anna Petrova", "Karl Weber", "Li Wei", "Sara Cohen"]


# ---------------------------------------------------------------- labelled set


def load_bases(limit: int) -> list[dict[str, str]]:
    gt = json.loads((CORPUS / "scrapinghub" / "ground-truth.json").read_text(encoding="utf-8"))
    bases = []
    for key in sorted(gt):
        body = gt[key].get("articleBody") or ""
        if len(body.split()) >= 80:
            title = body.split(".")[0][:120]
            bases.append(
                {
                    "key": key[:12],
                    "url": gt[key].get("url") or f"https://x.example/{key}",
                    "title": title,
                    "body": body,
                }
            )
    return bases[:limit]


def edit(body: str, fraction: float, rng: random.Random, vocab: list[str]) -> str:
    """Change `fraction` of the words: word swaps, deletions, insertions and rewritten spans."""
    words = body.split(" ")
    budget = max(1, round(len(words) * fraction))
    while budget > 0:
        op = rng.random()
        i = rng.randrange(len(words))
        if op < 0.45:
            words[i] = rng.choice(vocab)
            budget -= 1
        elif op < 0.6 and len(words) > 20:
            del words[i]
            budget -= 1
        elif op < 0.75:
            words.insert(i, rng.choice(vocab))
            budget -= 1
        else:  # a rewritten clause
            n = min(budget, rng.randint(3, 8))
            words[i : i + n] = [rng.choice(vocab) for _ in range(n)]
            budget -= n
    return " ".join(words)


def wrap(body: str, outlet: int, rng: random.Random) -> str:
    _, byline, footer = OUTLETS[outlet]
    return f"{byline.format(name=rng.choice(NAMES))}\n\n{body}\n\n{footer}"


def quality(limit: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    bases = load_bases(limit)
    vocab = [w for b in bases for w in b["body"].split()]
    tmp = Path(tempfile.mkdtemp(prefix="nw-dedup-q-"))
    engine = make_engine(f"sqlite:///{tmp / 'q.db'}")
    create_all(engine)
    clock = [T0]

    def ingest(
        url: str,
        outlet: str,
        title: str,
        body: str,
        published: datetime | None = None,
        synd: list[str] | None = None,
    ) -> tuple[int, Any]:
        clock[0] += timedelta(seconds=30)
        canon = canonical_url(url)
        with session_scope(engine) as s:
            a = ensure_article(
                s, url=url, canonical=canon, url_key=url_hash(canon), outlet_id=outlet, now=clock[0]
            )
            if published is not None:
                a.published = published
            res = apply_dedup(
                s,
                article=a,
                title=title,
                body=body,
                syndicated_from=synd or [],
                page_canonical_url=None,
                now=clock[0],
                canonicalize=canonical_url,
            )
            assert a.id is not None
            return a.id, res

    originals: dict[int, int] = {}  # base index -> article id
    for i, b in enumerate(bases):  # each outlet wraps its own articles in its own boilerplate
        originals[i], _ = ingest(b["url"], "wire", b["title"], b["body"])
    false_merge_originals = 0
    with Session(engine) as s:
        linked = [s.get(Article, aid) for aid in originals.values()]
        false_merge_originals = len([a for a in linked if a is not None and a.copy_of_id])

    # URL variants of the originals must resolve to the same article
    url_ok = url_total = 0
    for i, b in enumerate(bases):
        for variant in (
            b["url"] + ("&" if "?" in b["url"] else "?") + "utm_source=rss&fbclid=7",
            b["url"] + "#comments",
        ):
            canon = canonical_url(variant)
            with session_scope(engine) as s:
                a = ensure_article(
                    s,
                    url=variant,
                    canonical=canon,
                    url_key=url_hash(canon),
                    outlet_id="wire",
                    now=clock[0],
                )
                url_ok += a.id == originals[i]
                url_total += 1

    # near copies: syndicated with other boilerplate and bylines, 1-10% edits, added paragraphs
    copies = []
    for i, b in enumerate(bases):
        for kind, frac in (
            ("syndicated", 0.0),
            ("edit", 0.01),
            ("edit", 0.03),
            ("edit", 0.05),
            ("edit", 0.10),
            ("added_paragraph", 0.02),
        ):
            body = edit(b["body"], frac, rng, vocab) if frac else b["body"]
            if kind == "added_paragraph":
                other = bases[(i + 7) % len(bases)]["body"].split("\n")[0]
                body = body + "\n\n" + " ".join(other.split()[:60])
            copies.append((i, kind, frac, body))
    rng.shuffle(copies)
    tp = wrong = missed = 0
    by_level: dict[str, list[int]] = {}
    for n, (i, kind, frac, body) in enumerate(copies):
        o = n % len(OUTLETS)
        url = f"https://{OUTLETS[o][0]}.example/{bases[i]['key']}/{kind}-{frac}"
        _, res = ingest(url, OUTLETS[o][0], bases[i]["title"], wrap(body, o, rng))
        label = f"{kind}" if kind != "edit" else f"edit {int(frac * 100)}%"
        hit = res.copy_of_id == originals[i]
        by_level.setdefault(label, []).append(int(hit))
        if hit:
            tp += 1
        elif res.copy_of_id is not None:
            wrong += 1
        else:
            missed += 1

    # updated versions at the same URL
    version_ok = 0
    for i, b in enumerate(bases):
        updated = edit(b["body"], 0.02, rng, vocab) + "\n\nThis article has been updated."
        _, res = ingest(b["url"], "wire", b["title"], updated)
        version_ok += res.kind == "version"

    # different articles on the same topic, sharing one outlet's boilerplate: must not merge
    events = json.loads(EVENTS.read_text(encoding="utf-8"))["articles"]
    same_topic_merges = 0
    story_of: dict[str, int | None] = {}
    for a in sorted(events, key=lambda a: a["published"]):
        pub = datetime.fromisoformat(a["published"])
        clock[0] = max(clock[0], pub)
        aid, res = ingest(
            f"https://{a['outlet']}.example/{a['key']}",
            a["outlet"],
            a["title"],
            wrap(a["body"], 0, rng),
            published=pub,
        )
        same_topic_merges += res.copy_of_id is not None or bool(res.relinked)
        story_of[a["key"]] = res.story_id
    pairs = same_story_ok = 0
    for x in events:
        for y in events:
            if x["key"] < y["key"]:
                pairs += 1
                same_story_ok += (x["event"] == y["event"]) == (
                    story_of[x["key"]] == story_of[y["key"]]
                )
    engine.dispose()
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    fp = wrong + false_merge_originals
    return {
        "bases": len(bases),
        "near_copies": len(copies),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / len(copies),
        "wrong_links": wrong,
        "missed": missed,
        "recall_by_kind": {k: sum(v) / len(v) for k, v in sorted(by_level.items())},
        "url_variants_ok": f"{url_ok}/{url_total}",
        "versions_ok": f"{version_ok}/{len(bases)}",
        "same_topic_articles": len(events),
        "same_topic_false_merges": same_topic_merges,
        "story_pairs_correct": f"{same_story_ok}/{pairs}",
    }


# ---------------------------------------------------------------- cost growth
#
# The index is loaded in bulk straight into the product's schema (created by `create_all`), with
# the journal and fsyncs off for this synthetic load only; the probes then run through the
# product's own engine (`storage.db.make_engine`: WAL, synchronous=NORMAL, foreign keys, BEGIN
# IMMEDIATE) and the product's functions, so what is measured is what runs.

STORY_DAYS = 3  # the story index holds about this many days of articles (pruned daily)
DAY0 = 20_000  # day number of the probes' articles


def _rss_bytes() -> int:
    """Resident set size now (Linux /proc; the peak from getrusage elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _random_sigs(rng: np.random.Generator, n: int) -> np.ndarray:
    sigs = rng.integers(0, 2**32 - 1, size=(n, mh.NUM_PERM + 1), dtype=np.uint32)
    sigs[:, -1] = rng.integers(100, 1500, size=n)  # shingle counts
    return sigs


def _load_sorted(conn: sqlite3.Connection, keys: np.ndarray, first_id: int) -> None:
    """Insert an (articles x bands) key array in primary-key order: B-tree appends only."""
    ids = np.arange(first_id, first_id + len(keys), dtype=np.int64)
    for b in range(keys.shape[1]):  # the band is the key's top bits: band-major order is sorted
        order = np.argsort(keys[:, b], kind="stable")
        conn.executemany(
            "INSERT INTO lsh_buckets(key, article_id) VALUES (?, ?)",
            zip(keys[order, b].tolist(), ids[order].tolist(), strict=True),
        )


def _bulk_load(
    path: Path, n: int, story_per_day: int, rng: np.random.Generator, chunk: int = 50_000
) -> np.ndarray:
    """Fill the index with n synthetic articles (and a steady-state story index); return a sample.

    One transaction, executemany, keys pre-sorted; journal and fsync off for this load only.
    The tables have no secondary indexes to build afterwards: the primary keys are the tables.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=OFF")  # synthetic index rows need no article rows
    conn.execute("PRAGMA cache_size=-200000")
    conn.execute("BEGIN")
    body = np.empty((n, mh.BANDS), dtype=np.int64)
    keep = np.empty((0, mh.NUM_PERM + 1), dtype=np.uint32)
    for start in range(0, n, chunk):
        sigs = _random_sigs(rng, min(chunk, n - start))
        if start == 0:
            keep = sigs[:1000].copy()
        conn.executemany(
            "INSERT INTO minhash_signatures(article_id, signature) VALUES (?, ?)",
            zip(range(start + 1, start + 1 + len(sigs)), map(mh.to_bytes, sigs), strict=True),
        )
        body[start : start + len(sigs)] = mh.band_keys_many(sigs)
    _load_sorted(conn, body, 1)
    del body
    # The story index: only the newest articles, a few days' worth, as after the daily prune.
    newest = min(n, story_per_day * STORY_DAYS)
    per_day = -(-newest // STORY_DAYS) if newest else 0
    story = []
    for d in range(STORY_DAYS):
        m = min(per_day, newest - d * per_day)
        if m > 0:
            lead = rng.integers(0, 2**32 - 1, size=(m, mh.LEAD_PERM), dtype=np.uint32)
            story.append(
                mh.band_keys_many(
                    lead,
                    bands=mh.LEAD_BANDS,
                    rows=mh.LEAD_ROWS,
                    first_band=STORY_BAND_OFFSET,
                    salt=DAY0 - d,
                )
            )
    if story:
        # story rows of article ids n - newest + 1 .. n, grouped by day, sorted by key
        keys = np.concatenate(story)
        ids = np.arange(n - newest + 1, n + 1, dtype=np.int64)
        flat_k, flat_i = keys.ravel(), np.repeat(ids, keys.shape[1])
        order = np.argsort(flat_k, kind="stable")
        conn.executemany(
            "INSERT OR IGNORE INTO lsh_buckets(key, article_id) VALUES (?, ?)",
            zip(flat_k[order].tolist(), flat_i[order].tolist(), strict=True),
        )
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")  # as the product engine will open it
    conn.close()
    return keep


def _probe_sig(k: int, sample: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if k % 4 == 0:  # a near copy of an indexed article: the verification path runs
        sig = sample[k % len(sample)].copy()
        idx = rng.choice(mh.NUM_PERM, size=mh.NUM_PERM // 10, replace=False)
        sig[idx] = rng.integers(0, 2**32 - 1, size=len(idx), dtype=np.uint32)
        return sig
    sig = rng.integers(0, 2**32 - 1, size=mh.NUM_PERM + 1, dtype=np.uint32)
    sig[-1] = 600
    return sig


def _probe(
    engine: Any, article_id: int, sig: np.ndarray, lead: np.ndarray | None
) -> tuple[float, ...]:
    """One article through the index as apply_dedup runs it; seconds per step and in total.

    Without `lead`, the body index only (the operation the issue's target is about); with it,
    also the story index step that an original article adds.
    """
    t0 = time.perf_counter()
    with Session(engine, expire_on_commit=False) as s:
        hits = index_lookup(s, sig)  # check: body buckets, candidates' signatures, scores
        t1 = time.perf_counter()
        index_insert(s, article_id, sig)  # insert: signature and body buckets
        t2 = time.perf_counter()
        if lead is not None:  # story index: coverage of the window's days, then its own rows
            story_index_lookup(s, lead, DAY0, exclude=article_id)
            story_index_insert(s, article_id, lead, DAY0)
        t3 = time.perf_counter()
        s.commit()
    t4 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0, float(bool(hits))


def cost(
    sizes: list[int], probes: int, seed: int, story_per_day: int, warmup: int = 10
) -> list[dict[str, Any]]:
    """Build one index per size, then probe them in rotation so machine noise hits all alike."""
    rng = np.random.default_rng(seed)
    work = REPO_ROOT / "bench" / ".work"
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="nw-dedup-c-", dir=work))
    built: list[dict[str, Any]] = []
    try:
        for n in sizes:
            db = tmp / f"cost-{n}.db"
            engine = make_engine(f"sqlite:///{db}")
            create_all(engine)
            engine.dispose()
            t0 = time.perf_counter()
            sample = _bulk_load(db, n, story_per_day, rng)
            build_s = time.perf_counter() - t0
            size = sum(f.stat().st_size for f in tmp.glob(f"cost-{n}.db*"))
            built.append({"n": n, "db": db, "sample": sample, "build_s": build_s, "bytes": size})
        base_id = 10_000_000
        rss_before = _rss_bytes()
        for b in built:
            b["engine"] = make_engine(f"sqlite:///{b['db']}")
            with session_scope(b["engine"]) as s:  # probe articles exist (foreign keys are on)
                for k in range(2 * (probes + warmup)):
                    s.add(
                        Article(
                            id=base_id + k,
                            outlet_id="bench",
                            url=f"https://b.example/{k}",
                            canonical_url=f"https://b.example/{k}",
                            url_hash=f"{k:064d}",
                            first_seen_at=T0,
                        )
                    )
            b["times"], b["times_story"] = [], []
            b["found"] = 0
        for k in range(probes + warmup):
            for b in built:  # body only, then body + story, each article in its transaction
                sig = _probe_sig(k, b["sample"], rng)
                t = _probe(b["engine"], base_id + 2 * k, sig, None)
                lead = rng.integers(0, 2**32 - 1, size=mh.LEAD_PERM, dtype=np.uint32)
                sig2 = _probe_sig(k, b["sample"], rng)
                t2 = _probe(b["engine"], base_id + 2 * k + 1, sig2, lead)
                if k >= warmup:  # the first probes compile statements and warm the caches
                    b["times"].append(t)
                    b["times_story"].append(t2)
                    b["found"] += int(t[-1]) if k % 4 == 0 else 0
        rss_probes = _rss_bytes() - rss_before
        rows = []
        for b in built:
            b["engine"].dispose()
            cols = list(zip(*b["times"], strict=True))
            total = sorted(cols[4])
            scols = list(zip(*b["times_story"], strict=True))
            stotal = sorted(scols[4])
            n = b["n"]
            rows.append(
                {
                    "indexed": n,
                    "build_seconds": round(b["build_s"], 1),
                    "median_ms": round(statistics.median(total) * 1000, 3),
                    "p95_ms": round(total[int(len(total) * 0.95) - 1] * 1000, 3),
                    "median_ms_by_step": {
                        "check": round(statistics.median(cols[0]) * 1000, 3),
                        "insert": round(statistics.median(cols[1]) * 1000, 3),
                        "commit": round(statistics.median(cols[3]) * 1000, 3),
                    },
                    "with_story_median_ms": round(statistics.median(stotal) * 1000, 3),
                    "with_story_p95_ms": round(stotal[int(len(stotal) * 0.95) - 1] * 1000, 3),
                    "story_step_median_ms": round(statistics.median(scols[2]) * 1000, 3),
                    "disk_bytes_per_article": round(b["bytes"] / n),
                    "story_index_articles": min(n, story_per_day * STORY_DAYS),
                    "near_probes_found": f"{b['found']}/{len(range(warmup, probes + warmup, 4))}",
                }
            )
        if rows:
            rows[-1]["rss_growth_probing_mb"] = round(rss_probes / 2**20, 1)
        return rows
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--bases", type=int, default=1000, help="at most this many corpus articles")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument(
        "--story-per-day",
        type=int,
        default=20_000,
        help="articles a day in the (pruned, steady-state) story index",
    )
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    started = time.perf_counter()
    q = {} if args.skip_quality else quality(args.bases, args.seed)
    sizes = [] if args.skip_cost else [int(x) for x in args.sizes.split(",") if x.strip()]
    c = cost(sizes, args.probes, args.seed, args.story_per_day)
    ratio = c[-1]["median_ms"] / c[0]["median_ms"] if len(c) > 1 else None
    ratio_story = (
        c[-1]["with_story_median_ms"] / c[0]["with_story_median_ms"] if len(c) > 1 else None
    )
    result = {
        "quality": q,
        "cost": c,
        "ratio_largest_to_smallest": round(ratio, 2) if ratio else None,
        "ratio_largest_to_smallest_with_story": round(ratio_story, 2) if ratio_story else None,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "params": {
            "num_perm": mh.NUM_PERM,
            "bands": mh.BANDS,
            "rows": mh.ROWS,
            "shingle_k": mh.SHINGLE_K,
            "threshold": 0.8,
            "story_bands": mh.LEAD_BANDS,
            "story_index_days": STORY_DAYS,
            "story_per_day": args.story_per_day,
        },
        "command": " ".join([".venv/bin/python", "bench/dedup.py", *sys.argv[1:]]),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    if q:
        print("## dedup quality\n")
        print("| metric | value | target |\n|---|---|---|")
        print(f"| near-copy precision | {q['precision']:.4f} | >= 0.99 |")
        print(f"| near-copy recall | {q['recall']:.4f} | >= 0.95 |")
        print(f"| same-topic false merges | {q['same_topic_false_merges']} | 0 |")
        for k, v in q["recall_by_kind"].items():
            print(f"| recall: {k} | {v:.3f} | |")
        print(f"| URL variants resolved | {q['url_variants_ok']} | all |")
        print(f"| updated versions detected | {q['versions_ok']} | all |")
        print(f"| story pairs correct (same-topic set) | {q['story_pairs_correct']} | all |")
    if c:
        print(
            "\n## dedup index cost (SQLite via the product engine; body index check + insert + "
            "commit per article; with story = plus the story index step of an original)\n"
        )
        print(
            "| indexed | build s | median ms | p95 ms | check / insert / commit ms "
            "| with story: median / p95 ms | disk B/article | near probes found |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for r in c:
            st = r["median_ms_by_step"]
            steps = " / ".join(f"{st[k]:.3f}" for k in ("check", "insert", "commit"))
            print(
                f"| {r['indexed']:,} | {r['build_seconds']} | {r['median_ms']} | {r['p95_ms']} | "
                f"{steps} | {r['with_story_median_ms']} / {r['with_story_p95_ms']} | "
                f"{r['disk_bytes_per_article']} | {r['near_probes_found']} |"
            )
        if ratio and ratio_story:
            print(
                f"\nlargest/smallest median ratio: {ratio:.2f} (target <= 2); "
                f"with story {ratio_story:.2f}"
            )
        print(
            f"RSS growth while probing all indexes: {c[-1]['rss_growth_probing_mb']} MB "
            "(the index lives in the database; SQLite's page cache is bounded)"
        )
    print(f"max RSS {result['max_rss_mb']} MB; total {result['seconds']} s")


if __name__ == "__main__":
    main()
