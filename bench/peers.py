"""Extraction quality and speed of newswatch against its peers on the same pages, one core each.

Peers (newspaper4k, news-please, readability-lxml and plain trafilatura) are installed by this
script into its own virtual environment `bench/.peers/`, never into the project's; each runs
there as a subprocess pinned to one core, on HTML given as a string (no network). newswatch's
`cleaning.clean` runs the same way in the project's environment, beside plain trafilatura, so
every speed is a ratio to plain trafilatura measured in the same process. Quality is the
Scrapinghub benchmark's metric (4-token shingles, `bench/common.py`).

Run: .venv/bin/python bench/peers.py [--limit N]   -> bench/results/peers.json
The same file is the measuring worker (`--worker`), run by the peers' or the project's Python.
"""

from __future__ import annotations

import argparse
import contextlib
import html as html_lib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402

PEERS_DIR = common.BENCH_DIR / ".peers"
PEERS_PYTHON = PEERS_DIR / "bin" / "python"
# Pinned so two runs compare the same peers; bump deliberately.
PEER_REQUIREMENTS = [
    "newspaper4k==0.9.6",
    "news-please==1.6.16",
    "readability-lxml==0.9",
    "trafilatura==2.3.1",
    "lxml_html_clean==0.4.6",
]
PEER_SYSTEMS = ["trafilatura", "newspaper4k", "news-please", "readability-lxml"]
PROJECT_SYSTEMS = ["newswatch", "trafilatura"]
SEED_SYSTEMS = ["newswatch", "trafilatura", "raw text"]
PER_PAGE_SECONDS = 30  # a page that takes longer counts as an empty prediction

# ---------------------------------------------------------------- worker side (any venv)


def _block_text(fragment: str) -> str:
    """Text of an HTML fragment with a line break after every block, so words never fuse."""
    import lxml.html

    if not fragment.strip():
        return ""
    root = lxml.html.fromstring(fragment)
    blocks = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "pre"}
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in blocks:
            el.tail = "\n" + (el.tail or "")
    return root.text_content()


def _text_as_html(text: str) -> str:
    """Plain text as the minimal HTML an HTML extractor needs: one paragraph a line."""
    paras = "".join(
        f"<p>{html_lib.escape(line)}</p>\n" for line in text.splitlines() if line.strip()
    )
    return (
        f"<html><head><meta charset='utf-8'></head><body><article>{paras}</article></body></html>"
    )


def make_system(name: str) -> Any:
    """A function (html_or_text, url, kind) -> extracted body text, for one system."""
    if name == "trafilatura":
        import trafilatura

        def run(doc: str, url: str, kind: str) -> str:
            return trafilatura.extract(_text_as_html(doc) if kind == "text" else doc) or ""

        return run
    if name == "newswatch":
        from cleaning import clean

        return lambda doc, url, kind: clean(doc, url=url or None).body or ""
    if name == "raw text":
        return lambda doc, url, kind: doc
    if name == "newspaper4k":
        import warnings

        warnings.filterwarnings("ignore")
        from newspaper import Article

        def run_np(doc: str, url: str, kind: str) -> str:
            # fetch_images=False: newspaper4k would otherwise download images to rank them.
            article = Article(url or "https://example.invalid/article", fetch_images=False)
            article.download(input_html=doc)
            article.parse()
            return article.text or ""

        return run_np
    if name == "news-please":
        import logging

        logging.disable(logging.CRITICAL)  # news-please logs every page it cannot date
        from newsplease import NewsPlease

        def run_npl(doc: str, url: str, kind: str) -> str:
            found = NewsPlease.from_html(doc, url=None, fetch_images=False)
            return (found.maintext or "") if found is not None else ""

        return run_npl
    if name == "readability-lxml":
        from readability import Document

        return lambda doc, url, kind: _block_text(Document(doc).summary(html_partial=True))
    raise ValueError(f"unknown system {name!r}")


class _PageTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _PageTimeout


def worker(
    systems: list[str], input_path: Path, out_path: Path, seconds: float | None = None
) -> None:
    """Run `systems` on every document of a JSONL file; order rotates per page against drift."""
    docs = [json.loads(line) for line in input_path.read_text(encoding="utf-8").split("\n") if line]
    fns: dict[str, Any] = {}
    import_seconds: dict[str, float] = {}
    for name in systems:
        started = time.perf_counter()
        fns[name] = make_system(name)
        import_seconds[name] = time.perf_counter() - started
    signal.signal(signal.SIGALRM, _on_alarm)
    for name, fn in fns.items():  # warm-up: lazy imports, caches, compiled regexes
        with contextlib.suppress(Exception):  # a failing warm-up shows up in the real run
            fn(docs[0]["doc"], docs[0].get("url", ""), docs[0].get("kind", "html"))
    result: dict[str, Any] = {
        n: {"seconds": 0.0, "errors": 0, "timeouts": 0, "texts": {}} for n in systems
    }
    names = list(systems)
    stop_at = time.monotonic() + seconds if seconds else None
    done = 0
    for i, d in enumerate(docs):
        if stop_at is not None and time.monotonic() > stop_at:
            break  # out of time: the pages done so far, the same ones for every system
        done += 1
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            signal.alarm(PER_PAGE_SECONDS)
            started = time.perf_counter()
            try:
                text = fns[name](d["doc"], d.get("url", ""), d.get("kind", "html"))
            except _PageTimeout:
                text = ""
                result[name]["timeouts"] += 1
            except Exception:
                text = ""
                result[name]["errors"] += 1
            finally:
                elapsed = time.perf_counter() - started
                signal.alarm(0)
            result[name]["seconds"] += elapsed
            result[name]["texts"][d["key"]] = text
    for name in systems:
        result[name]["import_seconds"] = round(import_seconds[name], 3)
        result[name]["pages"] = done
    out_path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------- driver side (project venv)


def ensure_peers_venv(timeout: float = 600) -> dict[str, Any]:
    """Create bench/.peers and install the pinned peers unless it already holds exactly them."""
    marker = PEERS_DIR / ".newswatch-peers"
    wanted = "\n".join(PEER_REQUIREMENTS)
    if PEERS_PYTHON.exists() and marker.exists() and marker.read_text() == wanted:
        return {"installed_now": False, "seconds": 0.0, "tool": "existing"}
    started = time.monotonic()
    base_python = _base_python()
    uv_ok = (
        subprocess.run(
            [base_python, "-m", "uv", "--version"], capture_output=True, timeout=60
        ).returncode
        == 0
    )
    if uv_ok:
        steps = [
            [
                base_python,
                "-m",
                "uv",
                "venv",
                "--quiet",
                "--clear",
                "--python",
                base_python,
                str(PEERS_DIR),
            ],
            [
                base_python,
                "-m",
                "uv",
                "pip",
                "install",
                "--quiet",
                "--python",
                str(PEERS_PYTHON),
                *PEER_REQUIREMENTS,
            ],
        ]
        tool = "uv"
    else:
        steps = [
            [base_python, "-m", "venv", "--clear", str(PEERS_DIR)],
            [str(PEERS_PYTHON), "-m", "pip", "install", "--quiet", *PEER_REQUIREMENTS],
        ]
        tool = "venv+pip"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")
    }
    for step in steps:
        left = timeout - (time.monotonic() - started)
        proc = subprocess.run(step, capture_output=True, text=True, timeout=max(10, left), env=env)
        if proc.returncode != 0:
            raise RuntimeError(
                f"installing the peers failed: {' '.join(step[:4])}…: {proc.stderr[-800:]}"
            )
    marker.write_text(wanted)
    return {"installed_now": True, "seconds": round(time.monotonic() - started, 1), "tool": tool}


def _base_python() -> str:
    """A system interpreter for the peers' venv (never the project venv's own site-packages)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return base if Path(base).exists() else "python3"


def run_worker(
    python: Path,
    systems: list[str],
    docs: list[dict[str, Any]],
    tag: str,
    timeout: float,
    work_seconds: float | None = None,
) -> dict[str, Any]:
    common.WORK_DIR.mkdir(parents=True, exist_ok=True)
    inp = common.WORK_DIR / f"peers-{tag}-in.jsonl"
    out = common.WORK_DIR / f"peers-{tag}-out.json"
    inp.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out.unlink(missing_ok=True)
    cmd = [
        *common.one_core_prefix(),
        str(python),
        str(Path(__file__).resolve()),
        "--worker",
        "--systems",
        ",".join(systems),
        "--input",
        str(inp),
        "--output",
        str(out),
        *(["--seconds", str(round(work_seconds, 1))] if work_seconds else []),
    ]
    # A dead local proxy: any request a library still tries fails at once instead of leaving the box.
    dead = "http://127.0.0.1:9"
    env = dict(
        os.environ,
        PYTHONHASHSEED="0",
        OMP_NUM_THREADS="1",
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        http_proxy=dead,
        https_proxy=dead,
        ALL_PROXY=dead,
        NO_PROXY="",
        no_proxy="",
    )
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=common.REPO_ROOT, env=env
    )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"{tag} worker exited {proc.returncode}: {proc.stderr[-1500:]}")
    data = json.loads(out.read_text(encoding="utf-8"))
    inp.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    return data


def score(raw: dict[str, Any], truth: dict[str, str], baseline: str | None) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, r in raw.items():
        keys = list(r["texts"])
        m = common.aggregate([common.tp_fp_fn(truth[k], r["texts"][k]) for k in keys])
        m["pages"] = r["pages"]
        m["pages_per_second"] = r["pages"] / r["seconds"] if r["seconds"] else None
        m["errors"] = r["errors"]
        m["timeouts"] = r["timeouts"]
        m["import_seconds"] = r["import_seconds"]
        rows[name] = m
    if baseline and baseline in rows and rows[baseline]["pages_per_second"]:
        for m in rows.values():
            if m["pages_per_second"]:
                m["speed_vs_trafilatura"] = (
                    m["pages_per_second"] / rows[baseline]["pages_per_second"]
                )
    return {
        k: {kk: (round(vv, 4) if isinstance(vv, float) else vv) for kk, vv in v.items()}
        for k, v in rows.items()
    }


def run(limit: int | None, budget: float) -> dict[str, Any]:
    deadline = common.Deadline(budget)
    started = time.monotonic()
    pages = common.scrapinghub_pages(limit)
    truth = common.scrapinghub_truth()
    docs = [{"key": k, "url": url, "doc": html, "kind": "html"} for k, url, html in pages]
    out: dict[str, Any] = {
        "pages": len(docs),
        "pinned": " ".join(common.one_core_prefix()) or "no taskset",
    }

    # Peers first, with a time limit (news-please alone runs ~5 pages/s on a quiet core); newswatch
    # then runs on exactly the pages the peers got through, so every F1 is over the same pages.
    try:
        out["install"] = ensure_peers_venv(timeout=max(30, deadline.left() - 90))
        out["peer_versions"] = common.package_versions(
            ["newspaper4k", "news-please", "readability-lxml", "trafilatura", "lxml"], PEERS_PYTHON
        )
        work = max(20.0, deadline.left() - 75)
        peers = run_worker(PEERS_PYTHON, PEER_SYSTEMS, docs, "peers", work + 60, work_seconds=work)
        out["peers_process"] = score(peers, truth, "trafilatura")
        done = next(iter(peers.values()))["pages"]
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        out["peers_error"] = str(exc)[-1500:]
        done = len(docs)
    out["pages_scored"] = done
    project = run_worker(
        common.PROJECT_PYTHON, PROJECT_SYSTEMS, docs[:done], "project", max(30, deadline.left())
    )
    out["project_process"] = score(project, truth, "trafilatura")

    seeds = common.seed_docs()
    seed_truth = {name: gold for name, _, gold in seeds}
    seed_docs = [{"key": name, "url": "", "doc": text, "kind": "text"} for name, text, _ in seeds]
    seed_raw = run_worker(
        common.PROJECT_PYTHON, SEED_SYSTEMS, seed_docs, "seeds", max(30, deadline.left())
    )
    out["seeds"] = score(seed_raw, seed_truth, None)
    out["seeds_per_doc"] = {
        name: {
            k: round(common.page_f1(common.tp_fp_fn(seed_truth[k], t)), 4)
            for k, t in r["texts"].items()
        }
        for name, r in seed_raw.items()
    }
    out["seconds"] = round(time.monotonic() - started, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--systems", help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help="only the first N Scrapinghub pages")
    ap.add_argument("--budget", type=float, default=420, help="seconds for the whole section")
    ap.add_argument("--install-only", action="store_true", help="create bench/.peers and exit")
    args = ap.parse_args()
    common.exit_on_sigterm()
    if args.worker:
        worker(args.systems.split(","), args.input, args.output, args.seconds)
        return 0
    if args.install_only:
        print(json.dumps(ensure_peers_venv()))
        return 0
    result = run(args.limit, args.budget)
    path = common.write_result("peers", result)
    for section in ("project_process", "peers_process", "seeds"):
        for name, m in result.get(section, {}).items():
            pps = m.get("pages_per_second")
            print(
                f"{section:16} {name:18} F1 {m['f1']:.4f}  P {m['precision']:.4f}  R {m['recall']:.4f}  "
                f"{pps or 0:.1f} pages/s  x{m.get('speed_vs_trafilatura', float('nan')):.2f}"
            )
    if "peers_error" in result:
        print("peers:", result["peers_error"], file=sys.stderr)
    print(f"wrote {path} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
