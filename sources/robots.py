"""robots.txt rules per host, cached, with RFC 9309's answers for missing or unreachable files."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from protego import Protego

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB
FRESH_SECONDS = 24 * 3600
UNREACHABLE_SECONDS = 600
# Unanswered seconds (see RobotsUnanswered) older than this are forgotten: evidence from a
# burst of pages adds up, while a rare slow moment is not held against the origin for hours.
UNANSWERED_WINDOW_SECONDS = UNREACHABLE_SECONDS


@dataclass(frozen=True)
class RobotsRules:
    """What one host's robots.txt said: allow all, disallow all, or the parsed rules."""

    # protego, not urllib.robotparser: RFC 9309's longest match wins (Allow on a tie) and `*`
    # and `$` patterns count; the stdlib takes the first matching line and ignores wildcards.
    parser: Protego | None
    allow_all: bool
    fetched_at: float
    ttl: float

    def allows(self, agent: str, url: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, agent))


def rules_from_response(status: int | None, body: bytes, *, now: float) -> RobotsRules:
    """Turn a robots.txt answer into rules (status None = network error)."""
    if status is not None and 200 <= status < 300:
        parser = Protego.parse(body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace"))
        return RobotsRules(parser, True, now, FRESH_SECONDS)
    # 429 is the site asking us to slow down: treated as unreachable (as 5xx), not as "no
    # rules", so pages are not fetched at once from a host that is rate-limiting us.
    if status is not None and 400 <= status < 500 and status != 429:
        # "Unavailable": the site has no rules for us, so everything is allowed.
        return RobotsRules(None, True, now, FRESH_SECONDS)
    # "Unreachable" (5xx, network trouble): assume a complete disallow, but only briefly.
    return RobotsRules(None, False, now, UNREACHABLE_SECONDS)


RobotsFetch = Callable[[str], tuple[int | None, bytes]]


class RobotsUnanswered(Exception):
    """Raised by a fetcher when robots.txt gave no answer within the `seconds` it was allowed.

    One such attempt may have been short (the page it was read for had little time left), so
    it says little on its own: the cache adds the seconds up per origin and calls robots.txt
    unreachable once they reach its `unreachable_after`. Until then `error` is re-raised.
    """

    def __init__(self, seconds: float, error: Exception) -> None:
        super().__init__(str(error))
        self.seconds = seconds
        self.error = error


class RobotsCache:
    """Per-origin cache of robots.txt rules; `fetch(robots_url)` returns (status or None, body)."""

    def __init__(self, fetch: RobotsFetch, *, agent: str, unreachable_after: float = 0.0) -> None:
        self._fetch = fetch
        self._agent = agent
        self._unreachable_after = unreachable_after
        self._lock = threading.Lock()
        self._rules: dict[str, RobotsRules] = {}
        self._unanswered: dict[str, tuple[float, float]] = {}  # origin -> (since, seconds)

    def allows(self, origin: str, url: str, *, fetch: RobotsFetch | None = None) -> bool:
        """Whether `url` may be fetched; `fetch` replaces the cache's own fetcher for this call.

        Any other exception from the fetcher propagates and caches nothing: the caller decides
        that the answer is unknown rather than "unreachable" (the request never went out, say).
        RobotsUnanswered caches "unreachable" once enough unanswered time has added up.
        """
        now = time.monotonic()
        with self._lock:
            rules = self._rules.get(origin)
        if rules is None or now - rules.fetched_at > rules.ttl:
            try:
                status, body = (fetch or self._fetch)(origin.rstrip("/") + "/robots.txt")
            except RobotsUnanswered as exc:
                if not self._add_unanswered(origin, exc.seconds):
                    raise exc.error from None
                status, body = None, b""
            rules = rules_from_response(status, body, now=now)
            with self._lock:
                if len(self._rules) > 10_000:
                    self._rules.clear()
                self._rules[origin] = rules
                self._unanswered.pop(origin, None)  # any answer, or the verdict, starts afresh
        return rules.allows(self._agent, url)

    def _add_unanswered(self, origin: str, seconds: float) -> bool:
        """Add to the origin's unanswered time; True once it has reached `unreachable_after`."""
        now = time.monotonic()
        with self._lock:
            since, total = self._unanswered.get(origin, (now, 0.0))
            if now - since > UNANSWERED_WINDOW_SECONDS:
                since, total = now, 0.0
            total += max(0.0, seconds)
            if total >= self._unreachable_after:
                self._unanswered.pop(origin, None)
                return True
            if len(self._unanswered) > 10_000:
                self._unanswered.clear()
            self._unanswered[origin] = (since, total)
            return False

    def unreachable(self, origin: str) -> bool:
        """Whether the cached refusal for this origin is only "robots.txt could not be read".

        That refusal lasts minutes, so a page refused for it is worth fetching again later.
        """
        with self._lock:
            rules = self._rules.get(origin)
        return rules is not None and rules.parser is None and not rules.allow_all
