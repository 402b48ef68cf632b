"""Shared helpers for the benchmarks: corpus paths, the Scrapinghub shingle metric, machine facts, CPU time.

Standard library only: `bench/peers.py` imports this module inside the peers' own virtual
environment, where none of the project's packages are installed.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = BENCH_DIR / ".work"  # scratch space, ignored by git
CORPUS = Path(os.environ.get("NEWSWATCH_CORPUS_DIR", REPO_ROOT / ".." / "shared" / "corpus"))
PROJECT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
NEWSWATCH = REPO_ROOT / ".venv" / "bin" / "newswatch"

# ---------------------------------------------------------------- the benchmark's metric
#
# As the Scrapinghub article-extraction benchmark's evaluate.py: \w+ tokens (its regex carries
# IGNORECASE, which does not change what \w+ matches, so tokens keep their case), shingles of 4
# tokens, tp/fp/fn over shingle multisets normalised per page so long pages weigh no more than
# short ones, precision averaged over pages with tp+fp > 0 and recall over pages with tp+fn > 0,
# and F1 from those two averages. An empty prediction therefore scores recall 0 on its page.

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE = 4


def tokenize(text: str | None, *, casefold: bool = False) -> list[str]:
    tokens = _TOKEN_RE.findall(text or "")
    return [t.casefold() for t in tokens] if casefold else tokens


def shingles(
    text: str | None, n: int = SHINGLE, *, casefold: bool = False
) -> Counter[tuple[str, ...]]:
    toks = tokenize(text, casefold=casefold)
    return Counter(
        tuple(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)) if toks[i : i + n]
    )


def tp_fp_fn(
    true: str | None, pred: str | None, *, casefold: bool = False
) -> tuple[float, float, float]:
    """Normalised shingle tp/fp/fn of one page (they sum to 1 unless both texts are empty)."""
    t, p = shingles(true, casefold=casefold), shingles(pred, casefold=casefold)
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def page_precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def page_recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def page_f1(row: tuple[float, float, float]) -> float:
    p, r = page_precision(*row), page_recall(*row)
    return 2 * p * r / (p + r) if p + r else 0.0


def aggregate(rows: Sequence[tuple[float, float, float]]) -> dict[str, float]:
    """precision, recall and F1 as evaluate.py computes them, plus the mean of per-page F1."""
    precs = [page_precision(*r) for r in rows if r[0] + r[1] > 0]
    recs = [page_recall(*r) for r in rows if r[0] + r[2] > 0]
    p = statistics.mean(precs) if precs else 0.0
    r = statistics.mean(recs) if recs else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "mean_page_f1": statistics.mean(page_f1(x) for x in rows) if rows else 0.0,
        "empty_predictions": float(sum(1 for x in rows if x[0] == x[1] == 0 and x[2] > 0)),
    }


# ---------------------------------------------------------------- corpus


def scrapinghub_pages(limit: int | None = None) -> list[tuple[str, str, str]]:
    """(file hash, url, html) of the Scrapinghub benchmark pages, sorted by hash."""
    base = CORPUS / "scrapinghub"
    truth = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for path in sorted((base / "html").glob("*.html.gz"))[:limit]:
        key = path.name.split(".")[0]
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        out.append((key, truth.get(key, {}).get("url") or "", html))
    return out


def scrapinghub_truth() -> dict[str, str]:
    truth = json.loads((CORPUS / "scrapinghub" / "ground-truth.json").read_text(encoding="utf-8"))
    return {k: v.get("articleBody", "") for k, v in truth.items()}


def seed_docs() -> list[tuple[str, str, str]]:
    """(name, text, gold body) of the seed documents; gold body paragraphs joined by a blank line."""
    out = []
    for txt in sorted((CORPUS / "seeds").glob("*.txt")):
        gold = json.loads(txt.with_name(txt.stem + ".gold.json").read_text(encoding="utf-8"))
        body = gold.get("body", "")
        out.append(
            (
                txt.stem,
                txt.read_text(encoding="utf-8"),
                "\n\n".join(body) if isinstance(body, list) else body,
            )
        )
    return out


# ---------------------------------------------------------------- processes


def one_core_prefix() -> list[str]:
    """`taskset -c N` on the last core we may use, so a measured process gets one core to itself."""
    if shutil.which("taskset") and hasattr(os, "sched_getaffinity"):
        return ["taskset", "-c", str(sorted(os.sched_getaffinity(0))[0])]
    return []


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a live process from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may contain spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


class CpuMeter:
    """CPU seconds of process trees, sampled from /proc; a child's last sample is kept after it exits."""

    def __init__(self, roots: Iterable[int]) -> None:
        self.roots = set(roots)
        self.seen: dict[int, float] = {}

    def sample(self) -> float:
        stats: dict[int, tuple[int, float]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                st = _stat(int(entry.name))
                if st is not None:
                    stats[int(entry.name)] = st
        members = set(self.roots) & set(stats)
        grew = True
        while grew:
            extra = {
                pid for pid, (ppid, _) in stats.items() if ppid in members and pid not in members
            }
            grew = bool(extra)
            members |= extra
        for pid in members:
            self.seen[pid] = stats[pid][1]
        return self.total

    @property
    def total(self) -> float:
        return sum(self.seen.values())


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop the servers and workers we started."""
    import signal

    def _raise(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# ---------------------------------------------------------------- facts and results


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def package_versions(
    names: Iterable[str], python: Path | str | None = None
) -> dict[str, str | None]:
    """Installed versions of distributions, in this interpreter or in another one."""
    names = list(names)
    if python is None or Path(python).absolute() == Path(sys.executable).absolute():
        from importlib import metadata

        out: dict[str, str | None] = {}
        for name in names:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = None
        return out
    code = (
        "import json,sys\nfrom importlib import metadata\nout={}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n]=metadata.version(n)\n"
        "    except metadata.PackageNotFoundError: out[n]=None\n"
        "print(json.dumps(out))"
    )
    proc = subprocess.run(
        [str(python), "-c", code, *names], capture_output=True, text=True, timeout=60
    )
    return json.loads(proc.stdout) if proc.returncode == 0 else dict.fromkeys(names)


def machine_facts() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": memory_gib(),
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    data = {
        "benchmark": name,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **data,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class Deadline:
    """A time budget: `left()` seconds remain, `over()` once spent."""

    seconds: float
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def over(self) -> bool:
        return self.left() <= 0
