"""Per-process resources built from settings: the database engine, the HTTP client, outlet rules."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from storage.db import make_engine
from workers.settings import Settings, get_settings

log = logging.getLogger("newswatch.runtime")
_lock = threading.RLock()  # re-entrant: one factory may ask for another (http → redis)
_per_process: dict[tuple[int, str], Any] = {}


def _cached(name: str, factory: Any) -> Any:
    # Keyed by pid: a prefork child must never reuse a parent's sockets or connection pool.
    key = (os.getpid(), name)
    with _lock:
        if key not in _per_process:
            _per_process[key] = factory()
        return _per_process[key]


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    return _cached(
        f"engine:{settings.effective_database_url}",
        lambda: make_engine(settings.effective_database_url),
    )


def redis_client(settings: Settings | None = None) -> Any | None:
    """A Redis client on the broker's server, or None on the embedded default."""
    settings = settings or get_settings()
    url = settings.effective_broker_url
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    return _cached(
        "redis", lambda: redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    )


def get_http_client(settings: Settings | None = None) -> Any:
    settings = settings or get_settings()

    def build() -> Any:
        from sources.http import HttpClient
        from sources.politeness import RedisHostLimiter
        from sources.politeness_files import FileHostLimiter

        rc = redis_client(settings)
        limiter: Any
        if rc is not None:
            limiter = RedisHostLimiter(
                rc, concurrency=settings.per_host_concurrency, spacing=settings.per_host_spacing
            )
        else:
            # No Redis: the worker's pool processes share the limits through files in the
            # data folder (per-process limiters would multiply them).
            limiter = FileHostLimiter(
                settings.data_dir / "politeness",
                concurrency=settings.per_host_concurrency,
                spacing=settings.per_host_spacing,
            )
        return HttpClient(
            user_agent=settings.user_agent,
            allowed_networks=settings.allowed_networks,
            max_bytes=settings.max_body_bytes,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            deadline=settings.request_deadline,
            respect_robots=settings.respect_robots,
            limiter=limiter,
        )

    return _cached("http", build)


def load_outlets(settings: Settings | None = None) -> list[Any]:
    from sources.registry import load_outlets as _load

    settings = settings or get_settings()
    return _load(Path(settings.outlets_dir))


REGISTRY_RECHECK_SECONDS = 5.0
_registry_checked: dict[str, tuple[float, float]] = {}


@lru_cache(maxsize=8)
def _outlets_by_id_cached(directory: str, mtime: float) -> dict[str, Any]:
    from sources.registry import load_outlets as _load

    return {o.id: o for o in _load(Path(directory))}


_registry_good: dict[str, dict[str, Any]] = {}  # folder → the last registry that loaded
_registry_broken: dict[tuple[str, float], Exception] = {}  # (folder, version) → its error


def outlets_by_id(settings: Settings | None = None) -> dict[str, Any]:
    """Outlets keyed by id, reloaded when a file in the folder changes.

    A registry that no longer loads (a typo, an editor's half-written save) does not stop the
    service: the last one that loaded stays in use, and the problem is logged once per version
    of the folder. Without a good one (a worker started on a broken folder) the error is raised.
    """
    from sources.registry import OutletError

    settings = settings or get_settings()
    directory = str(Path(settings.outlets_dir))
    checked = _registry_checked.get(directory)
    now = time.monotonic()
    # Stat the folder at most every few seconds: with thousands of outlets, a stat of every
    # file for every article would cost more than the article itself.
    if checked is None or now - checked[0] > REGISTRY_RECHECK_SECONDS:
        files = list(Path(directory).glob("*.toml"))
        key = max((f.stat().st_mtime for f in files), default=0.0) + len(files)
        checked = (now, key)
        _registry_checked[directory] = checked
    version = (directory, checked[1])
    error = _registry_broken.get(version)
    if error is None:
        try:
            outlets = _outlets_by_id_cached(directory, checked[1])
        except OutletError as exc:
            error = _registry_broken[version] = exc
            good = _registry_good.get(directory)
            if good is not None:  # without one the error is raised, and its caller reports it
                log.error(
                    "the outlet registry does not load (%s); still using the last good one "
                    "(%d outlets)",
                    "; ".join(exc.problems[:5]),
                    len(good),
                )
        else:
            _registry_good[directory] = outlets
            return outlets
    good = _registry_good.get(directory)
    if good is None:
        raise error
    return good


@lru_cache(maxsize=4)
def _watches_cached(path: str, mtime_ns: int, size: int) -> list[Any]:
    from alerts.watches import load_watches

    return load_watches(Path(path))


_watches_warned: dict[str, tuple[int, int]] = {}  # path → the version last checked


def _warn_never_matching(specs: list[Any], settings: Settings) -> None:
    """Log, once per version of the file, each watch no article can match (a hand edit)."""
    from alerts.watches import unreachable
    from sources.registry import OutletError

    outlet_ids: set[str] | None = None
    if any(w.outlets for w in specs):
        try:
            outlet_ids = set(outlets_by_id(settings))
        except OutletError:
            outlet_ids = None  # ingest reports the registry itself; outlets go unchecked
    for w in specs:
        for problem in unreachable(w, outlet_ids=outlet_ids):
            log.warning("watch %r never matches: %s", w.id, problem)


def current_watches(settings: Settings | None = None) -> list[Any]:
    """The watches file, parsed again only when it changes (one stat per call)."""
    settings = settings or get_settings()
    path = settings.effective_watches_file
    try:
        st = path.stat()
    except FileNotFoundError:
        return []
    # A file rewritten within the same mtime tick is still caught by its size; `watches add`
    # replaces the file atomically, so a reader never parses half of it.
    specs = list(_watches_cached(str(path), st.st_mtime_ns, st.st_size))
    if _watches_warned.get(str(path)) != (st.st_mtime_ns, st.st_size):
        _watches_warned[str(path)] = (st.st_mtime_ns, st.st_size)
        _warn_never_matching(specs, settings)
    return specs


def queue_depths(settings: Settings | None = None, queues: Any = None) -> dict[str, int]:
    """Messages waiting per queue, from whichever broker the settings name."""
    from workers import metrics

    settings = settings or get_settings()
    names = tuple(queues or metrics.QUEUES)
    if settings.embedded_broker:
        return metrics.sql_queue_depths(settings.effective_broker_url, names)
    return metrics.redis_queue_depths(redis_client(settings), names)


def reset() -> None:
    """Forget cached resources (tests change settings between runs)."""
    with _lock:
        for value in _per_process.values():
            close = getattr(value, "close", None) or getattr(value, "dispose", None)
            if close:
                with contextlib.suppress(Exception):  # best-effort cleanup
                    close()
        _per_process.clear()
    _outlets_by_id_cached.cache_clear()
    _watches_cached.cache_clear()
    _watches_warned.clear()
    _registry_checked.clear()
    _registry_good.clear()
    _registry_broken.clear()
    get_settings.cache_clear()
