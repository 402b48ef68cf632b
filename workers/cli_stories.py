"""`newswatch stories …` and the relations of one article (versions, copies, story) for `articles show`."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workers.cli_output import echo_json_lines, plural, table_console
from workers.cli_types import FormatOpt, TableOrJson

if TYPE_CHECKING:
    from sqlmodel import Session

    from storage.models import Article

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_STORIES = 1000


def parse_since(value: str, *, now: datetime) -> datetime:
    """`2d`, `12h`, `30m`, `1w` before now, or an ISO 8601 time (UTC when no zone is given)."""
    m = _DURATION.match(value)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(
            f"--since: {value!r} is neither a duration (2d, 12h) nor ISO 8601"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def _brief(a: Article) -> dict[str, Any]:
    return {
        "id": a.id,
        "outlet": a.outlet_id,
        "title": a.title or a.feed_title,
        "url": a.url,
        "published": _iso(a.published),
        "copy_of": a.copy_of_id,
        "copy_kind": a.copy_kind,
        "similarity": a.similarity,
    }


def list_stories(session: Session, *, since: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """Stories active since a time, newest first, with their articles, outlets and first publisher."""
    # Database modules load on use, so that the command line starts quickly.
    from sqlmodel import col, select

    from storage.models import Article, Story

    stories = session.exec(
        select(Story)
        .where(Story.updated_at >= since)
        .order_by(col(Story.updated_at).desc(), col(Story.id).desc())
        .limit(min(limit, MAX_STORIES))
    ).all()
    ids = [s.id for s in stories]
    members: dict[int, list[Article]] = defaultdict(list)
    if ids:
        for a in session.exec(
            select(Article).where(col(Article.story_id).in_(ids)).order_by(col(Article.id))
        ).all():
            members[a.story_id or 0].append(a)
    out = []
    for s in stories:
        arts = members.get(s.id or 0, [])
        outlets = sorted({a.outlet_id for a in arts})
        out.append(
            {
                "id": s.id,
                "title": s.title,
                "first_outlet": s.first_outlet_id,
                "first_article_id": s.first_article_id,
                "first_published": _iso(s.first_published),
                "updated_at": _iso(s.updated_at),
                "outlets": outlets,
                "articles": len(arts),
                "copies": sum(1 for a in arts if a.copy_of_id is not None),
            }
        )
    return out


def article_relations(session: Session, article_id: int) -> dict[str, Any]:
    """Versions, copy links and the story (with its articles) of one article."""
    from sqlmodel import col, select

    from storage.models import Article, ArticleVersion, Story

    a = session.get(Article, article_id)
    if a is None:
        return {}
    versions = session.exec(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article_id)
        .order_by(col(ArticleVersion.version))
    ).all()
    copies = session.exec(
        select(Article).where(Article.copy_of_id == article_id).order_by(col(Article.id))
    ).all()
    original = session.get(Article, a.copy_of_id) if a.copy_of_id is not None else None
    story: dict[str, Any] | None = None
    if a.story_id is not None:
        s = session.get(Story, a.story_id)
        arts = session.exec(
            select(Article)
            .where(Article.story_id == a.story_id)
            .order_by(col(Article.id))
            .limit(500)
        ).all()
        if s is not None:
            story = {
                "id": s.id,
                "title": s.title,
                "first_outlet": s.first_outlet_id,
                "first_article_id": s.first_article_id,
                "first_published": _iso(s.first_published),
                "articles": [_brief(x) for x in arts],
            }
    return {
        "id": a.id,
        "version": a.version,
        "versions": [
            {
                "version": v.version,
                "title": v.title,
                "body_hash": v.body_hash,
                "fetched_at": _iso(v.fetched_at),
                "chars": len(v.body or ""),
            }
            for v in versions
        ]
        + [{"version": a.version, "title": a.title, "body_hash": a.body_hash, "current": True}],
        "copy_of": _brief(original) if original is not None else None,
        "copy_kind": a.copy_kind,
        "similarity": a.similarity,
        "copies": [_brief(c) for c in copies],
        "story": story,
    }


def describe_relations(rel: dict[str, Any]) -> list[str]:
    """article_relations for people: one line each for its original, copies, versions, story."""

    def who(a: dict[str, Any]) -> str:
        return f"#{a['id']} {a['outlet']}"

    lines: list[str] = []
    if rel.get("copy_of"):
        how = rel.get("copy_kind") or "copy"
        sim = rel.get("similarity")
        sim_text = f", similarity {sim:.2f}" if isinstance(sim, int | float) else ""
        lines.append(f"copy of: {who(rel['copy_of'])} ({how}{sim_text}) {rel['copy_of']['url']}")
    if rel.get("copies"):
        shown = ", ".join(f"{who(c)} ({c['copy_kind']})" for c in rel["copies"][:10])
        more = len(rel["copies"]) - 10
        lines.append(f"copies: {shown}" + (f" and {more} more" if more > 0 else ""))
    versions = rel.get("versions") or []
    if len(versions) > 1:
        lines.append(f"versions: {len(versions)} (this text is version {rel.get('version')})")
    story = rel.get("story")
    if story:
        first = story.get("first_published") or "?"
        articles = plural(len(story["articles"]), "article")
        lines.append(
            f"story: #{story['id']}, {articles}; first published by "
            f"{story['first_outlet']} (#{story['first_article_id']}) at {first}"
        )
    return lines


def register(app: typer.Typer, *, get_engine: Callable[[], Any]) -> None:
    """Add the `stories` command group to the main CLI."""
    stories_app = typer.Typer(no_args_is_help=True, help="Stories: one event across outlets.")
    app.add_typer(stories_app, name="stories")

    @stories_app.command("list")
    def stories_list(
        since: Annotated[
            str, typer.Option("--since", help="Duration (2d, 12h, 1w) or ISO 8601 time.")
        ] = "2d",
        format: FormatOpt = TableOrJson.table,
        limit: Annotated[
            int, typer.Option("--limit", min=1, max=MAX_STORIES, help="Most stories to show.")
        ] = 100,
    ) -> None:
        """Stories with their outlets and first publisher, most recently active first."""
        try:
            start = parse_since(since, now=datetime.now(UTC))
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        from sqlmodel import Session

        with Session(get_engine()) as session:
            rows = list_stories(session, since=start, limit=limit)
        if format == "json":
            echo_json_lines(rows)
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"stories since {start.isoformat(timespec='minutes')}")
        for name in ("id", "title", "first publisher", "first published", "outlets", "articles"):
            table.add_column(name)
        for r in rows:
            # Text(...) never interprets markup, so titles from the web cannot style the output.
            table.add_row(
                str(r["id"]),
                Text((r["title"] or "")[:80]),
                Text(r["first_outlet"] or "-"),
                Text((r["first_published"] or "-")[:16]),
                Text(", ".join(r["outlets"])),
                f"{r['articles']} ({r['copies']} copies)",
            )
        table_console().print(table)
