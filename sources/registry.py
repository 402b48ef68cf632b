"""The outlet registry: one TOML file per outlet, validated into frozen `Outlet` records."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import tomli_w
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from sources.iso_codes import ISO_639_1, ISO_3166_1

MAX_OUTLET_FILE_BYTES = 256 * 1024
MAX_PATTERN_CHARS = 500
MAX_FEEDS_PER_OUTLET = 50


_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")


class OutletError(ValueError):
    """An outlet file (or a set of them) is invalid; the message names the file and the key."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --- field checks (each raises ValueError with a message meant for the person editing the file)


def _check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value) or len(value) > 64:
        raise ValueError(f"{value!r} is not a slug (lower-case letters, digits, '-' and '_')")
    return value


def _check_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if any(ch.isspace() for ch in value) or len(value) > 2048:
        raise ValueError(f"{value!r} is not a valid URL")
    return value


def _check_language(value: str) -> str:
    if value not in ISO_639_1:
        raise ValueError(f"{value!r} is not an ISO 639-1 language code (like 'en', 'de', 'ru')")
    return value


def _check_country(value: str) -> str:
    if value not in ISO_3166_1:
        raise ValueError(
            f"{value!r} is not an upper-case ISO 3166-1 alpha-2 country code (like 'GB', 'DE')"
        )
    return value


def _check_regex(value: str) -> str:
    if len(value) > MAX_PATTERN_CHARS:
        raise ValueError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from exc
    return value


def _check_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


Slug = Annotated[str, AfterValidator(_check_slug)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
Regex = Annotated[str, AfterValidator(_check_regex)]
Name = Annotated[str, AfterValidator(_check_name), Field(max_length=200)]


class OutletCleaning(BaseModel):
    """Per-outlet cleaning overrides, added to the cleaner's generic rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    boilerplate_patterns: tuple[Regex, ...] = ()
    comment_xpaths: tuple[Annotated[str, AfterValidator(_check_name)], ...] = ()
    # the outlet glues its drop cap to the first word ("IWarnings" for "Warnings")
    repair_glued_drop_cap: bool = False


class Outlet(BaseModel):
    """One news outlet: who it is, where its feeds are, and how its pages are filtered and cleaned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    name: Name
    language: Annotated[str, AfterValidator(_check_language)]
    country: Annotated[str, AfterValidator(_check_country)]
    homepage: HttpUrl
    feeds: tuple[HttpUrl, ...] = Field(min_length=1, max_length=MAX_FEEDS_PER_OUTLET)
    poll_interval_seconds: int | None = Field(None, ge=60, le=7 * 86400)
    url_include: tuple[Regex, ...] = ()
    url_exclude: tuple[Regex, ...] = ()
    cleaning: OutletCleaning = OutletCleaning()
    # Set by the loader, never read from TOML (extra="forbid" would refuse it only as an
    # unknown key, so the loader rejects it explicitly with a clearer message).
    source_file: Path | None = None


# --- error formatting


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _format_error(err: Mapping[str, Any]) -> str:
    # pydantic adds the element type to locations inside tagged/function validators
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    where = _format_loc(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key {where!r}"
    if kind == "missing":
        return f"missing required key {where!r}"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{where}: {msg}" if where else msg


def _validation_problems(label: str, exc: ValidationError) -> list[str]:
    return [f"{label}: {_format_error(err)}" for err in exc.errors()]


# --- loading


def _read_toml(path: Path) -> dict[str, Any]:
    label = path.name
    try:
        if not path.is_file():  # a FIFO named x.toml would block the loader on open()
            raise OutletError([f"{label}: not a regular file"])
        with path.open("rb") as fh:
            data = fh.read(MAX_OUTLET_FILE_BYTES + 1)
    except OSError as exc:
        raise OutletError([f"{label}: cannot read: {exc.strerror or exc}"]) from exc
    if len(data) > MAX_OUTLET_FILE_BYTES:
        raise OutletError([f"{label}: file larger than {MAX_OUTLET_FILE_BYTES} bytes"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OutletError([f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OutletError([f"{label}: TOML syntax error: {exc}"]) from exc


def outlet_from_dict(
    data: Mapping[str, Any], *, label: str, source_file: Path | None = None
) -> Outlet:
    """Validate one outlet's table; `label` (usually the file name) prefixes every error."""
    if "source_file" in data:
        raise OutletError([f"{label}: unknown key 'source_file' (set by the loader)"])
    try:
        outlet = Outlet.model_validate(dict(data))
    except ValidationError as exc:
        raise OutletError(_validation_problems(label, exc)) from exc
    return outlet.model_copy(update={"source_file": source_file})


def load_outlet_file(path: Path) -> Outlet:
    """Read and validate one outlet file; raises `OutletError` naming the file and the key."""
    path = Path(path)
    return outlet_from_dict(_read_toml(path), label=path.name, source_file=path)


def _feed_key(url: str) -> str:
    # Scheme and host are case-insensitive and a trailing slash is the same feed in practice.
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def check_unique(outlets: Iterable[Outlet]) -> list[str]:
    """Problems with duplicate ids or feed URLs across outlets (empty when all are unique)."""
    problems: list[str] = []
    seen_ids: dict[str, Outlet] = {}
    seen_feeds: dict[str, Outlet] = {}
    for outlet in outlets:
        label = outlet.source_file.name if outlet.source_file else outlet.id
        other = seen_ids.get(outlet.id)
        if other is not None:
            where = other.source_file.name if other.source_file else other.id
            problems.append(f"{label}: id: {outlet.id!r} is already used by {where}")
        else:
            seen_ids[outlet.id] = outlet
        for i, feed in enumerate(outlet.feeds):
            key = _feed_key(feed)
            other = seen_feeds.get(key)
            if other is not None:
                where = other.source_file.name if other.source_file else other.id
                problems.append(f"{label}: feeds[{i}]: {feed!r} is already listed by {where}")
            else:
                seen_feeds[key] = outlet
    return problems


def load_outlets(directory: Path) -> list[Outlet]:
    """Load every `*.toml` in `directory`, sorted by id; all problems are reported at once."""
    directory = Path(directory)
    if not directory.is_dir():
        raise OutletError([f"{directory}: not a directory of outlet files"])
    outlets: list[Outlet] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            outlets.append(load_outlet_file(path))
        except OutletError as exc:
            problems.extend(exc.problems)
    problems.extend(check_unique(outlets))
    if problems:
        raise OutletError(problems)
    return sorted(outlets, key=lambda o: o.id)


# --- writing and filtering


def outlet_to_dict(outlet: Outlet) -> dict[str, Any]:
    """The TOML-ready table of an outlet (no loader-only fields, no empty defaults)."""
    data = outlet.model_dump(exclude={"source_file"}, exclude_none=True)
    data["feeds"] = list(data["feeds"])
    for key in ("url_include", "url_exclude"):
        if data.get(key):
            data[key] = list(data[key])
        else:
            data.pop(key, None)
    cleaning = {k: list(v) for k, v in data.pop("cleaning", {}).items() if v}
    if cleaning:
        data["cleaning"] = cleaning
    return data


def dump_outlet_toml(data: Mapping[str, Any] | Outlet) -> str:
    """Serialise an outlet (or its table) as TOML text that `load_outlet_file` reads back."""
    if isinstance(data, Outlet):
        data = outlet_to_dict(data)
    plain = {k: v for k, v in data.items() if v is not None and k != "source_file"}
    return tomli_w.dumps(plain)


@lru_cache(maxsize=1024)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def accepts_url(outlet: Outlet, url: str) -> bool:
    """Whether an article URL passes the outlet's include (any matches) and exclude (none) filters."""
    if outlet.url_include and not any(p.search(url) for p in _compiled(outlet.url_include)):
        return False
    return not any(p.search(url) for p in _compiled(outlet.url_exclude))
