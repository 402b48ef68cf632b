"""The metrics folder's housekeeping, kept apart from `workers.metrics`, whose import turns on
multiprocess mode and writes this process's own files into the folder."""

from __future__ import annotations

import re
from pathlib import Path

# The files prometheus_client writes in multiprocess mode: one per metric type and process id.
# "counter_<host>-<pid>.db" (see workers.metrics._process_identifier); plain pids too
_MULTIPROCESS_FILE = re.compile(r"[a-z]+(?:_[a-z]+)?_(?:[A-Za-z0-9-]+-)?\d+\.db")


def reset_multiprocess_dir(path: Path) -> int:
    """Remove the previous run's per-process metric files; call once before any worker starts.

    Only prometheus_client's own files go: the folder is configured by hand and may be shared
    with anything, so it is never removed wholesale. Returns how many files were removed.
    """
    path.mkdir(parents=True, exist_ok=True)
    removed = 0
    for entry in path.iterdir():
        if entry.is_file() and not entry.is_symlink() and _MULTIPROCESS_FILE.fullmatch(entry.name):
            entry.unlink(missing_ok=True)
            removed += 1
    return removed
