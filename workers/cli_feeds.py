"""`newswatch feeds status|enable` and `newswatch outlets add URL`: feed health and new outlets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from workers.cli_output import echo_json_lines, table_console
from workers.cli_types import FormatOpt, TableOrJson


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")


def feed_status_rows(engine: Any) -> list[dict[str, Any]]:
    """One dict per feed: what `feeds status` shows (also its JSON output)."""
    # Database modules load in the command, not at start-up (`newswatch --help` stays quick).
    from storage import feed_repo
    from storage.db import session_scope

    with session_scope(engine) as session:
        feeds = feed_repo.list_feeds(session)
        return [
            {
                "id": f.id,
                "outlet": f.outlet_id,
                "url": f.url,
                "title": f.title,
                "enabled": f.disabled_at is None,
                "last_success": _iso(f.last_success_at),
                "last_checked": _iso(f.last_checked_at),
                "last_status": f.last_status,
                "last_error": f.last_error,
                "last_error_kind": f.last_error_kind,
                "last_error_at": _iso(f.last_error_at),
                "next_check": _iso(f.next_check_at),
                "interval_seconds": f.interval_seconds,
                "error_count": f.error_count,
                "disabled_at": _iso(f.disabled_at),
                "disabled_reason": f.disabled_reason,
            }
            for f in feeds
        ]


def _human_interval(seconds: int | None) -> str:
    if not seconds:
        return "-"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds / 3600:.1f}h"


def register(
    app: typer.Typer, *, get_engine: Callable[[], Any], get_client: Callable[[], Any]
) -> None:
    """Add the `feeds` sub-app, and `add` to the existing `outlets` sub-app."""
    feeds_app = typer.Typer(no_args_is_help=True, help="Feed polling health.")
    app.add_typer(feeds_app, name="feeds")

    @feeds_app.command("status")
    def status(
        format: FormatOpt = TableOrJson.table,
    ) -> None:
        """Per feed: last success, last error, next check, interval, errors, why disabled."""
        rows = feed_status_rows(get_engine())
        if format == "json":
            echo_json_lines(rows)
            return
        from rich.table import Table

        table = Table(title=f"{len(rows)} feeds")
        for col in (
            "id",
            "outlet",
            "state",
            "last success",
            "next check",
            "every",
            "errors",
            "last error / reason",
        ):
            table.add_column(col)
        for r in rows:
            state = (
                "[green]ok[/green]"
                if r["enabled"] and not r["error_count"]
                else ("[yellow]failing[/yellow]" if r["enabled"] else "[red]disabled[/red]")
            )
            why = r["disabled_reason"] or r["last_error"] or ""
            table.add_row(
                str(r["id"]),
                escape(r["outlet"]),
                state,
                r["last_success"] or "never",
                r["next_check"] or "-",
                _human_interval(r["interval_seconds"]),
                str(r["error_count"]),
                escape(why[:120]),
            )
        table_console().print(table)

    @feeds_app.command("enable")
    def enable(
        feed_id: Annotated[
            int, typer.Argument(help="Feed id (the first column of `feeds status`).")
        ],
    ) -> None:
        """Bring a disabled or failing feed back: errors cleared, polled at the next dispatch."""
        from storage import feed_repo
        from storage.db import session_scope

        with session_scope(get_engine()) as session:
            outcome = feed_repo.enable_feed(session, feed_id=feed_id, now=datetime.now(UTC))
        if outcome == "missing":
            typer.echo(
                f"error: no feed with id {feed_id} (newswatch feeds status lists them)", err=True
            )
            raise typer.Exit(2)
        if outcome == "healthy":
            typer.echo(f"feed {feed_id} is enabled and has no errors; nothing changed")
            return
        typer.echo(f"feed {feed_id} enabled; polled at the next dispatch")

    outlets_app = _find_group(app, "outlets")
    if outlets_app is None:
        outlets_app = typer.Typer(no_args_is_help=True, help="The outlet registry.")
        app.add_typer(outlets_app, name="outlets")

    @outlets_app.command("add")
    def add(
        url: Annotated[str, typer.Argument(help="The site's homepage URL.")],
        outlet_id: Annotated[str | None, typer.Option("--id", help="Outlet id (slug).")] = None,
        language: Annotated[str | None, typer.Option("--language", help="ISO 639-1.")] = None,
        country: Annotated[
            str | None, typer.Option("--country", help="ISO 3166-1 alpha-2.")
        ] = None,
        outlets_dir: Annotated[Path | None, typer.Option("--dir", help="Where to write.")] = None,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing file for this outlet.")
        ] = False,
    ) -> None:
        """Discover a site's feeds from its homepage and write its outlet TOML file for review."""
        from sources.discover import DiscoveryError, add_outlet_from_homepage
        from sources.registry import OutletError
        from workers.settings import get_settings

        target = outlets_dir or Path(get_settings().outlets_dir)
        try:
            path = add_outlet_from_homepage(
                url,
                client=get_client(),
                outlets_dir=target,
                outlet_id=outlet_id,
                language=language,
                country=country,
                overwrite=overwrite,
            )
        except OutletError as exc:
            for problem in exc.problems or [str(exc)]:
                typer.echo(f"error: {' '.join(problem.split())}", err=True)
            raise typer.Exit(2) from None
        except (DiscoveryError, OSError) as exc:
            # OSError: the file exists (without --overwrite), or --dir cannot be written.
            typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
            raise typer.Exit(2) from None
        typer.echo(str(path))


def _find_group(app: typer.Typer, name: str) -> typer.Typer | None:
    for group in app.registered_groups:
        if group.name == name and group.typer_instance is not None:
            return group.typer_instance
    return None
