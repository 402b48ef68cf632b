"""Text made storable in every database: no NUL, no lone surrogates, no control characters."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

# C0 controls except tab, newline and carriage return; DEL; and UTF-16 surrogates, which
# PostgreSQL refuses and SQLite stores but cannot encode back to UTF-8. sources/feeds.py keeps
# its own copy for feed text, because the folder rules forbid either importing the other.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

T = TypeVar("T")


def storable(text: str) -> str:
    return _UNSTORABLE.sub("", text)


def storable_deep(value: T) -> T:
    """The same value with every string inside (lists, dicts, dataclasses) made storable."""
    result: Any
    if isinstance(value, str):
        result = storable(value)
    elif isinstance(value, list):
        result = [storable_deep(v) for v in value]
    elif isinstance(value, tuple):
        result = tuple(storable_deep(v) for v in value)
    elif isinstance(value, dict):
        result = {storable_deep(k): storable_deep(v) for k, v in value.items()}
    elif is_dataclass(value) and not isinstance(value, type):
        result = replace(
            value, **{f.name: storable_deep(getattr(value, f.name)) for f in fields(value)}
        )
    else:
        result = value
    return result  # type: ignore[no-any-return]
