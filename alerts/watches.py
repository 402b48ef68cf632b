"""Keyword watches: load, validate and save the watches TOML file, and mirror it into the DB."""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomlkit
import tomlkit.items

from alerts.terms import Matcher, compile_terms
from sources.iso_codes import ISO_639_1

if TYPE_CHECKING:
    # Only sync_watches touches the database; `newswatch watches list` must not load sqlmodel.
    from sqlmodel import Session

    from storage.models import Watch as WatchRow

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# ASCII only: smtplib sends addresses as ASCII, and a non-ASCII one would fail the whole message.
EMAIL_RE = re.compile(r"^[A-Za-z0-9!#$%&*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,253}$")
QUIET_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})(?:\s+(\S+))?$")
ALLOWED_KEYS = {
    "id",
    "terms",
    "outlets",
    "languages",
    "recipients",
    "sensitivity",
    "quiet_hours",
    "muted_until",
}
MAX_WATCHES = 10_000
MAX_FILE_BYTES = 8 * 1024 * 1024


class WatchError(ValueError):
    """A watches file or watch definition that cannot be used; the message names the key."""


@dataclass(frozen=True)
class QuietHours:
    """A daily window (in a time zone, UTC by default) during which alerts are held."""

    start: time
    end: time
    tz: str = "UTC"

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        m = QUIET_RE.match(text.strip())
        if not m:
            raise ValueError('expected "HH:MM-HH:MM" optionally followed by a time zone')
        h1, m1, h2, m2, tz = m.groups()
        try:
            start, end = time(int(h1), int(m1)), time(int(h2), int(m2))
        except ValueError as exc:
            raise ValueError(f"bad clock time: {exc}") from None
        if start == end:
            # an empty window (never quiet) or a whole day (every email held for ever)
            raise ValueError("start and end are the same time; give the hours to hold emails")
        tz = tz or "UTC"
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        return cls(start, end, tz)

    def __str__(self) -> str:
        base = f"{self.start:%H:%M}-{self.end:%H:%M}"
        return base if self.tz == "UTC" else f"{base} {self.tz}"

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.tz)).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # wraps midnight

    def ends_after(self, now: datetime) -> datetime:
        """The first moment after `now` outside the window (UTC)."""
        if not self.contains(now):
            return now
        zone = ZoneInfo(self.tz)
        local = now.astimezone(zone)
        candidate = local.replace(
            hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0
        )
        if candidate <= local:
            candidate += timedelta(days=1)
        return candidate.astimezone(UTC)


# A watch language that also takes these article languages. Norwegian: "no" is the
# macrolanguage of Bokmål ("nb") and Nynorsk ("nn"); py3langid answers "no" for most Bokmål
# text, while pages declare "nb", so a "no" or "nb" watch must take both. A Nynorsk watch stays
# Nynorsk only: it would otherwise take every Bokmål article.
LANGUAGE_ALSO_MATCHES: dict[str, tuple[str, ...]] = {"no": ("nb", "nn"), "nb": ("no",)}


def languages_matched(languages: tuple[str, ...]) -> tuple[str, ...]:
    """Watch languages expanded to every article language they take, in a stable order."""
    out: list[str] = []
    for lang in languages:
        for code in (lang, *LANGUAGE_ALSO_MATCHES.get(lang, ())):
            if code not in out:
                out.append(code)
    return tuple(out)


@dataclass(frozen=True)
class WatchSpec:
    """One watch as defined in the TOML file."""

    id: str
    terms: tuple[str, ...]
    recipients: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sensitivity: float = 1.0
    quiet_hours: QuietHours | None = None
    muted_until: datetime | None = None
    matcher: Matcher = field(compare=False, repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.matcher is None:
            object.__setattr__(self, "matcher", compile_terms(self.terms))

    @property
    def label(self) -> str:
        return self.terms[0].rstrip("*").strip() if self.terms else self.id

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now

    @property
    def matched_languages(self) -> tuple[str, ...]:
        """The article languages this watch's language filter takes (empty = any)."""
        return languages_matched(self.languages)

    def applies_to(self, *, outlet_id: str | None, language: str | None) -> bool:
        if self.outlets and outlet_id not in self.outlets:
            return False
        return not (self.languages and (language or "").lower() not in self.matched_languages)

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "terms": list(self.terms)}
        if self.recipients:
            out["recipients"] = list(self.recipients)
        if self.outlets:
            out["outlets"] = list(self.outlets)
        if self.languages:
            out["languages"] = list(self.languages)
        if self.sensitivity != 1.0:
            out["sensitivity"] = self.sensitivity
        if self.quiet_hours is not None:
            out["quiet_hours"] = str(self.quiet_hours)
        if self.muted_until is not None:
            out["muted_until"] = self.muted_until.astimezone(UTC)
        return out


def _str_list(where: str, key: str, value: Any, *, check: Any = None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WatchError(f"{where}: key '{key}' must be a list of strings")
    out = []
    for v in value:
        v = v.strip()
        if not v or "\r" in v or "\n" in v:
            raise WatchError(f"{where}: key '{key}' has an empty or multi-line entry")
        if check is not None and not check(v):
            raise WatchError(f"{where}: key '{key}' has an invalid entry {v!r}")
        out.append(v)
    return tuple(dict.fromkeys(out))


def parse_watch(data: Any, *, where: str = "watch") -> WatchSpec:
    """Validate one watch table; errors name the watch and the key."""
    if not isinstance(data, dict):
        raise WatchError(f"{where}: must be a table")
    wid = data.get("id")
    if not isinstance(wid, str) or not ID_RE.match(wid):
        raise WatchError(f"{where}: key 'id' must match {ID_RE.pattern} (got {wid!r})")
    where = f"{where} '{wid}'"
    unknown = sorted(set(data) - ALLOWED_KEYS)
    if unknown:
        raise WatchError(f"{where}: unknown key '{unknown[0]}'")
    if "terms" not in data:
        raise WatchError(f"{where}: key 'terms' is required")
    terms = _str_list(where, "terms", data["terms"])
    if not terms:
        raise WatchError(f"{where}: key 'terms' must not be empty")
    try:
        matcher = compile_terms(terms)
    except ValueError as exc:
        raise WatchError(f"{where}: key 'terms': {exc}") from None
    recipients = _str_list(
        where, "recipients", data.get("recipients", []), check=lambda v: EMAIL_RE.match(v)
    )
    outlets = _str_list(where, "outlets", data.get("outlets", []))
    languages = tuple(
        v.lower()
        for v in _str_list(
            where, "languages", data.get("languages", []), check=lambda v: len(v) <= 8
        )
    )
    sens = data.get("sensitivity", 1.0)
    if isinstance(sens, bool) or not isinstance(sens, int | float) or not 0.1 <= sens <= 10:
        raise WatchError(f"{where}: key 'sensitivity' must be a number in [0.1, 10]")
    quiet = None
    if data.get("quiet_hours") not in (None, ""):
        if not isinstance(data["quiet_hours"], str):
            raise WatchError(f"{where}: key 'quiet_hours' must be a string like \"22:00-07:00\"")
        try:
            quiet = QuietHours.parse(data["quiet_hours"])
        except ValueError as exc:
            raise WatchError(f"{where}: key 'quiet_hours': {exc}") from None
    muted = data.get("muted_until")
    if isinstance(muted, str) and muted:
        try:
            muted = datetime.fromisoformat(muted.replace("Z", "+00:00"))
        except ValueError:
            raise WatchError(f"{where}: key 'muted_until' is not an ISO 8601 datetime") from None
    if muted in ("", None):
        muted = None
    elif not isinstance(muted, datetime) or muted.tzinfo is None:
        raise WatchError(f"{where}: key 'muted_until' must be a datetime with a UTC offset")
    else:
        try:
            muted = muted.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00 is past the last UTC datetime
            raise WatchError(
                f"{where}: key 'muted_until' is out of range once converted to UTC"
            ) from None
    return WatchSpec(
        id=wid,
        terms=terms,
        recipients=recipients,
        outlets=outlets,
        languages=languages,
        sensitivity=float(sens),
        quiet_hours=quiet,
        muted_until=muted,
        matcher=matcher,
    )


def unreachable(spec: WatchSpec, *, outlet_ids: Collection[str] | None) -> list[str]:
    """Why no article can ever match this watch: its languages and outlets nothing carries.

    `outlet_ids` None means the registry could not be read: outlets go unchecked.
    """
    problems = [
        f"key 'languages': {lang!r} is not an ISO 639-1 code (two letters, like 'en', 'de', "
        "'ru'), which is what articles carry"
        for lang in spec.languages
        if lang not in ISO_639_1
    ]
    known = outlet_ids if outlet_ids is not None else spec.outlets
    for outlet in spec.outlets:
        if outlet not in known:
            close = difflib.get_close_matches(outlet.lower(), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"key 'outlets': no outlet {outlet!r} in the registry{hint}; "
                "`newswatch outlets list` shows them"
            )
    return problems


def check_reachable(
    spec: WatchSpec, *, outlet_ids: Collection[str] | None, where: str = "watch"
) -> None:
    """Refuse a language or outlet no article can carry: the watch would never match.

    For new watches (`watches add`) only, not in parse_watch: the worker loads the file for
    every article, and a file that loaded before must not stop ingestion because an outlet left
    the registry; `watches list` reports such watches instead.
    """
    problems = unreachable(spec, outlet_ids=outlet_ids)
    if problems:
        raise WatchError(f"{where} '{spec.id}': {problems[0]}")


def parse_watches(text: str, *, source: str = "watches") -> list[WatchSpec]:
    """Parse a whole watches TOML document: `[[watch]]` tables, unique ids."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WatchError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"watch"})
    if unknown:
        raise WatchError(f"{source}: unknown key '{unknown[0]}' (watches are [[watch]] tables)")
    tables = doc.get("watch", [])
    if not isinstance(tables, list):
        raise WatchError(f"{source}: key 'watch' must be an array of tables ([[watch]])")
    if len(tables) > MAX_WATCHES:
        raise WatchError(f"{source}: more than {MAX_WATCHES} watches")
    seen: set[str] = set()
    out = []
    for i, table in enumerate(tables):
        spec = parse_watch(table, where=f"{source}: watch #{i + 1}")
        if spec.id in seen:
            raise WatchError(f"{source}: key 'id': duplicate watch id '{spec.id}'")
        seen.add(spec.id)
        out.append(spec)
    return out


def load_watches(path: Path) -> list[WatchSpec]:
    """Load and validate the watches file; a missing file means no watches.

    Errors name the file as given (not only its base name: two folders may each hold a
    watches.toml), and a file that cannot be read is a WatchError, never an OSError.
    """
    text = _read_text(Path(path))
    return [] if text is None else parse_watches(text, source=str(path))


def _read_text(path: Path) -> str | None:
    """The watches file's text, or None when there is none."""
    try:
        if not path.exists():
            return None
        if not path.is_file():
            raise WatchError(f"{path}: not a file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise WatchError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        # Read at most one byte past the cap: a file that reports size 0 (/proc) may still
        # stream without end.
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise WatchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise WatchError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise WatchError(f"{path}: not UTF-8") from None


def _write_text(path: Path, text: str) -> None:
    """Write the file atomically (temp file + rename) so a reader never sees half of it.

    The file keeps its permissions, and a symlink keeps pointing at the file it names (the
    target is what gets replaced).
    """
    given = path
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    parse_watches(text, source=str(given))  # never write what we could not read back
    fd, tmp = tempfile.mkstemp(prefix=".watches-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            # mkstemp makes 0600: a worker running as another user must still read the file.
            # An existing file keeps its mode, a new one gets what a plain open() would give.
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except FileNotFoundError:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.fchmod(fh.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock from reading the file to replacing it: two edits at once would
    otherwise both read the old file and the later rename would drop the earlier change."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_name(f".{target.name}.lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _editing(path: Path) -> Iterator[None]:
    """Lock the file for an edit; an OSError of the lock or the write is a one-line WatchError."""
    try:
        with _locked(path):
            yield
    except OSError as exc:
        raise _write_error(Path(path), exc) from None


def _write_error(path: Path, exc: OSError) -> WatchError:
    if isinstance(exc, FileExistsError | NotADirectoryError):
        # mkdir of the folder met a file on the way (`--file notes.txt/watches.toml`).
        for parent in path.parents:
            if parent.exists() or parent.is_symlink():
                if not parent.is_dir():
                    return WatchError(f"cannot write {path}: {parent} is not a folder")
                break
    return WatchError(f"cannot write {path}: {exc.strerror or exc}")


# Edits change the parsed document in place (tomlkit), so the operator's comments, ordering
# and layout survive `watches add|remove|mute`; only the watch concerned is touched.


@contextlib.contextmanager
def _document(path: Path) -> Iterator[tuple[list[WatchSpec], tomlkit.TOMLDocument]]:
    """The file's watches and its editable document, under the edit lock; written on exit."""
    with _editing(path):
        text = _read_text(Path(path)) or ""
        watches = parse_watches(text, source=str(path))
        doc = tomlkit.parse(text)
        yield watches, doc
        _write_text(path, tomlkit.dumps(doc))


def _tables(doc: tomlkit.TOMLDocument) -> Any:
    """The document's `watch` array ([[watch]] tables, or an inline array), created if absent."""
    if "watch" not in doc:
        doc.append("watch", tomlkit.aot())
    return doc["watch"]


def _index(tables: Any, watch_id: str, path: Path) -> int:
    for i, table in enumerate(tables):
        if str(table.get("id", "")).strip() == watch_id:
            return i
    raise WatchError(f"{path}: no watch with id '{watch_id}'")


def add_watch(path: Path, spec: WatchSpec) -> list[WatchSpec]:
    with _document(path) as (watches, doc):
        if any(w.id == spec.id for w in watches):
            raise WatchError(f"{path}: key 'id': watch '{spec.id}' already exists")
        tables = _tables(doc)
        if isinstance(tables, tomlkit.items.AoT):
            table = tomlkit.table()
            table.update(spec.to_toml())
            tables.append(table)
        else:
            inline = tomlkit.inline_table()
            inline.update(spec.to_toml())
            tables.append(inline)
        return [*watches, spec]


def remove_watch(path: Path, watch_id: str) -> list[WatchSpec]:
    with _document(path) as (watches, doc):
        tables = _tables(doc)
        del tables[_index(tables, watch_id, path)]
        return [w for w in watches if w.id != watch_id]


def mute_watch(path: Path, watch_id: str, until: datetime | None) -> WatchSpec:
    """Mute until a moment (None unmutes)."""
    with _document(path) as (watches, doc):
        table = _tables(doc)[_index(_tables(doc), watch_id, path)]
        muted = until.astimezone(UTC) if until else None
        if muted is not None:
            table["muted_until"] = muted
        elif "muted_until" in table:
            del table["muted_until"]
        return next(replace(w, muted_until=muted) for w in watches if w.id == watch_id)


DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """ "30m", "6h", "3d", "1w" → timedelta."""
    m = DURATION_RE.match(text.lower())
    if not m:
        raise ValueError(f"bad duration {text!r}; use e.g. 30m, 6h, 3d, 1w")
    value = float(m.group(1))
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    if value <= 0 or value * unit > 366 * 86400:
        raise ValueError("duration must be positive and at most a year")
    return timedelta(seconds=value * unit)


def sync_watches(session: Session, watches: list[WatchSpec], now: datetime) -> dict[str, WatchRow]:
    """Mirror watch definitions into the `watches` table, keeping each row's detector state.

    Rows of watches no longer in the file are left alone: mentions and alerts refer to them.
    """
    from storage.models import Watch as WatchRow

    rows: dict[str, WatchRow] = {}
    for spec in watches:
        row = session.get(WatchRow, spec.id)
        if row is None:
            row = WatchRow(id=spec.id, updated_at=now, detector_state={})
        changed = (
            list(row.terms) != list(spec.terms)
            or list(row.outlets) != list(spec.outlets)
            or list(row.languages) != list(spec.languages)
            or list(row.recipients) != list(spec.recipients)
            or row.sensitivity != spec.sensitivity
            or row.quiet_hours != (str(spec.quiet_hours) if spec.quiet_hours else None)
            or _aware(row.muted_until) != spec.muted_until
        )
        if changed or row.updated_at is None:
            row.terms = list(spec.terms)
            row.outlets = list(spec.outlets)
            row.languages = list(spec.languages)
            row.recipients = list(spec.recipients)
            row.sensitivity = spec.sensitivity
            row.quiet_hours = str(spec.quiet_hours) if spec.quiet_hours else None
            row.muted_until = spec.muted_until
            row.updated_at = now
            session.add(row)
        rows[spec.id] = row
    session.flush()
    return rows


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive; they were stored as UTC.
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt
