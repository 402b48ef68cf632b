"""Benchmark of the cleaner: seed documents against their gold answers, and the Scrapinghub
article-extraction benchmark (quality and speed) against plain trafilatura in the same run."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import trafilatura  # noqa: E402

from cleaning import clean  # noqa: E402

CORPUS = Path(os.environ.get("NEWSWATCH_CORPUS_DIR", REPO_ROOT / ".." / "shared" / "corpus"))
WORD_RE = re.compile(r"\w+", re.UNICODE)
# the Scrapinghub benchmark's own tokenisation (evaluate.py): \w+ runs, 4-token shingles
SHINGLE_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)


# ---------------------------------------------------------------- seeds


def _words(text: str) -> list[str]:
    return [w.casefold() for w in WORD_RE.findall(text)]


def word_f1(gold: list[str], pred: list[str]) -> float:
    g, p = Counter(gold), Counter(pred)
    tp = sum((g & p).values())
    if not tp:
        return 1.0 if not gold and not pred else 0.0
    prec, rec = tp / sum(p.values()), tp / sum(g.values())
    return 2 * prec * rec / (prec + rec)


def seed_row(txt: Path) -> dict[str, Any]:
    gold = json.loads(txt.with_name(txt.stem + ".gold.json").read_text(encoding="utf-8"))
    res = clean(txt.read_bytes())
    gold_body = _words("\n".join(gold["body"]))
    body = Counter(_words(res.body))
    gold_body_c = Counter(gold_body)
    comment_toks = Counter(_words("\n".join(c["text"] for c in gold.get("comments", []))))
    pred_comments = Counter(_words("\n".join(c.text for c in res.comments)))
    # a gold comment token counts as handled when it is in the comments and not (extra) in the body
    handled = sum(
        min(n, pred_comments[w], max(0, n - max(0, body[w] - gold_body_c[w])))
        for w, n in comment_toks.items()
    )
    boiler = Counter(_words("\n".join(gold.get("boilerplate", []))))
    left = sum(min(n, max(0, body[w] - gold_body_c[w])) for w, n in boiler.items())
    n_comment = sum(comment_toks.values())
    n_boiler = sum(boiler.values())
    return {
        "seed": txt.stem,
        "body_f1": round(word_f1(gold_body, _words(res.body)), 4),
        "comment_tokens_handled": round(handled / n_comment, 4) if n_comment else None,
        "boilerplate_left": round(left / n_boiler, 4) if n_boiler else 0.0,
        "title_exact": res.title == gold.get("title"),
        "authors_exact": res.authors == gold.get("authors", []),
        "language": res.language,
        "gold_language": gold.get("language"),
    }


# ---------------------------------------------------------------- scrapinghub


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    toks = SHINGLE_RE.findall(text or "")
    return Counter(
        tuple(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)) if toks[i : i + n]
    )


def shingle_tp_fp_fn(true: str, pred: str) -> tuple[float, float, float]:
    t, p = _shingles(true), _shingles(pred)
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (tp, fp, fn)


def aggregate(rows: list[tuple[float, float, float]]) -> dict[str, float]:
    """Per-page precision/recall averaged, as the benchmark's evaluate.py does."""

    def prec(tp: float, fp: float, fn: float) -> float:
        if fp == fn == 0:
            return 1.0
        return 0.0 if tp == fp == 0 else tp / (tp + fp)

    def rec(tp: float, fp: float, fn: float) -> float:
        if fp == fn == 0:
            return 1.0
        return 0.0 if tp == fn == 0 else tp / (tp + fn)

    p = statistics.mean([prec(*r) for r in rows if r[0] + r[1] > 0])
    r = statistics.mean([rec(*r) for r in rows if r[0] + r[2] > 0])
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def run_scrapinghub(limit: int | None = None) -> dict[str, Any]:
    base = CORPUS / "scrapinghub"
    truth = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    paths = sorted((base / "html").glob("*.html.gz"))[:limit]
    pages = [(p.name.split(".")[0], gzip.decompress(p.read_bytes()).decode("utf-8")) for p in paths]
    systems = {
        "newswatch clean": lambda h: clean(h).body,
        "trafilatura.extract(html)": lambda h: trafilatura.extract(h) or "",
        "trafilatura.extract(html, include_comments=False)": lambda h: (
            trafilatura.extract(h, include_comments=False) or ""
        ),
    }
    for fn in systems.values():  # warm-up: imports, caches, model loading
        fn(pages[0][1])
    rows: dict[str, list[tuple[float, float, float]]] = {k: [] for k in systems}
    secs: dict[str, float] = dict.fromkeys(systems, 0.0)
    names = list(systems)
    for i, (key, html) in enumerate(pages):
        # rotate the order per page so background load hits every system alike
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            t0 = time.perf_counter()
            pred = systems[name](html)
            secs[name] += time.perf_counter() - t0
            rows[name].append(shingle_tp_fp_fn(truth[key].get("articleBody", ""), pred))
    out: dict[str, Any] = {"pages": len(pages), "systems": {}}
    for name in names:
        m = aggregate(rows[name])
        m["pages_per_second"] = len(pages) / secs[name]
        out["systems"][name] = {k: round(v, 4) for k, v in m.items()}
    ours = out["systems"]["newswatch clean"]
    plain = out["systems"]["trafilatura.extract(html)"]
    out["speed_ratio_vs_plain"] = round(ours["pages_per_second"] / plain["pages_per_second"], 3)
    return out


# ---------------------------------------------------------------- report


def render(seeds: list[dict[str, Any]], sh: dict[str, Any] | None) -> str:
    lines = ["## Cleaning", "", "### Seeds (gold answers in `corpus/seeds/`)", ""]
    lines.append(
        "| seed | body F1 | comment tokens out of body, in comments | boilerplate left in body | title exact | authors exact | language |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for r in seeds:
        ct = "n/a" if r["comment_tokens_handled"] is None else f"{r['comment_tokens_handled']:.1%}"
        lines.append(
            f"| {r['seed']} | {r['body_f1']:.4f} | {ct} | {r['boilerplate_left']:.1%} | "
            f"{'yes' if r['title_exact'] else 'no'} | {'yes' if r['authors_exact'] else 'no'} | {r['language']} |"
        )
    lines += [
        "",
        "Targets: body F1 ≥ 0.98 each; ≥ 95% of comment tokens handled; ≤ 1% boilerplate left; titles and authors exact.",
        "",
    ]
    if sh:
        lines += [
            f"### Scrapinghub article-extraction benchmark ({sh['pages']} pages, one core)",
            "",
            "Metric as the benchmark's `evaluate.py`: 4-token shingles, per-page precision/recall averaged.",
            "",
            "| system | precision | recall | F1 | pages/s |",
            "|---|---|---|---|---|",
        ]
        for name, m in sh["systems"].items():
            lines.append(
                f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['pages_per_second']:.1f} |"
            )
        lines += [
            "",
            f"Speed of `clean` relative to plain `trafilatura.extract(html)`: **{sh['speed_ratio_vs_plain']:.2f}×** "
            "(target ≥ 0.85×). Quality target: F1 ≥ 0.975 and never below plain trafilatura.",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, help="write the Markdown table here too")
    ap.add_argument("--json", type=Path, default=REPO_ROOT / "bench" / "results" / "cleaning.json")
    ap.add_argument("--limit", type=int, help="only the first N Scrapinghub pages")
    ap.add_argument("--no-scrapinghub", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the issue asks
    seeds = [seed_row(p) for p in sorted((CORPUS / "seeds").glob("*.txt"))]
    sh = None if args.no_scrapinghub else run_scrapinghub(args.limit)
    md = render(seeds, sh)
    print(md)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"seeds": seeds, "scrapinghub": sh}, indent=2, ensure_ascii=False)
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
