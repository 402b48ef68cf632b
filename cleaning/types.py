"""The result type of cleaning: the article, its comments and every removed span, kept apart."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CleanComment:
    author: str | None
    text: str
    published: str | None = None
    kind: str = "comment"  # comment | repost_commentary


@dataclass(frozen=True)
class RemovedText:
    rule: str
    text: str


@dataclass(frozen=True)
class CleanArticle:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601
    language: str | None = None  # ISO 639-1
    outlet: str | None = None
    body: str = ""  # paragraphs separated by a blank line
    comments: list[CleanComment] = field(default_factory=list)
    removed: list[RemovedText] = field(default_factory=list)
    syndicated_from: list[str] = field(default_factory=list)
    image_credits: list[str] = field(default_factory=list)
    canonical_url: str | None = None  # from <link rel=canonical> / og:url on HTML
    source: str | None = None

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.body.split("\n\n") if p.strip()]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
