"""The `newswatch` command line: service processes, one-shot polling, outlets, articles, database."""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from workers.cli_output import cell, echo_json_lines, plural, table_console
from workers.cli_types import ArticleStatus, FormatOpt, TableOrJson

if TYPE_CHECKING:
    from sources.registry import OutletError
    from storage.models import Article
    from workers.settings import Settings

# The database, settings, Celery and the pipeline are imported inside the commands that use
# them: `newswatch --help` and quick commands must not pay for sqlmodel, trafilatura or scipy.

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="newswatch: news monitoring ingester."
)
outlets_app = typer.Typer(
    no_args_is_help=True, help="The outlet registry (one TOML file per outlet)."
)
articles_app = typer.Typer(no_args_is_help=True, help="Stored articles.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(outlets_app, name="outlets")
app.add_typer(articles_app, name="articles")
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)


def get_settings() -> Settings:
    """The process's settings (imported on first use: pydantic-settings is slow to load)."""
    from workers.settings import get_settings as load

    return load()


def _engine() -> Any:
    """The configured database; one that is not there yet is an error, not a new empty file."""
    from storage.health import missing_database

    missing = missing_database(get_settings().effective_database_url)
    if missing is not None:
        _fail(missing)
    return _any_engine()


def _any_engine() -> Any:
    """The configured database as it is (probes report a missing one themselves)."""
    from workers import runtime

    return runtime.get_engine(get_settings())


def _http_client() -> Any:
    from workers import runtime

    return runtime.get_http_client()


def _error(message: str) -> None:
    from rich.markup import escape

    # Not wrapped at the terminal's width, so that an error stays one line for scripts; escaped,
    # so that a value the user typed ("[x]") is shown as typed rather than read as Rich markup.
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)


def _fail(message: str, code: int = 2) -> None:
    _error(message)
    raise typer.Exit(code)


LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def _log_level(option: str | None, settings: Settings) -> str:
    """--loglevel, or NEWSWATCH_LOG_LEVEL without it, as a level name; exit 2 on anything else."""
    value = option if option is not None else settings.log_level
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        source = "--loglevel" if option is not None else "NEWSWATCH_LOG_LEVEL"
        _fail(f"{source}: {value!r} is not a log level; one of {', '.join(LOG_LEVELS)}")
    return level


# ---------------------------------------------------------------- service processes


# Beat keeps its schedule in memory: the default shelve file is pickle-based and two beats
# started by mistake would corrupt it. Missing a period at restart is harmless, because
# dispatch claims feeds in the database and alerts are idempotent.
MEMORY_SCHEDULER = "celery.beat:Scheduler"


def _worker_argv(*, beat: bool, queues: str, concurrency: int | None, loglevel: str) -> list[str]:
    settings = get_settings()
    if beat and settings.metrics_dir:
        from workers.metrics_files import reset_multiprocess_dir

        # `run` owns the whole service, so it wipes stale per-process files of a previous run;
        # scaled `worker` processes share the folder and must not wipe each other's.
        reset_multiprocess_dir(settings.metrics_dir)
    argv = [
        "worker",
        "--loglevel",
        loglevel,
        "-Q",
        queues,
        "--concurrency",
        str(concurrency or settings.worker_concurrency),
        "--pool",
        "prefork",
        "-E",
    ]
    if beat:
        argv += ["-B", "--scheduler", MEMORY_SCHEDULER]
    return argv


@app.command()
def run(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes; default NEWSWATCH_WORKER_CONCURRENCY."),
    ] = None,
    loglevel: Annotated[
        str | None, typer.Option(help="Log level; default NEWSWATCH_LOG_LEVEL.")
    ] = None,
) -> None:
    """The service: migrate, then a worker with embedded beat in one process."""
    settings = get_settings()
    loglevel = _log_level(loglevel, settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from storage.migrate import upgrade

    upgrade(settings.effective_database_url)
    from workers.celery_app import app as celery_app
    from workers.logs import setup_logging

    setup_logging(json_logs=settings.log_json, level=loglevel)
    where = (
        "embedded default (SQLite broker and store)"
        if settings.embedded_broker
        else "configured broker"
    )
    err.print(
        f"newswatch: starting worker + beat on the {where}; data in {settings.data_dir}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    celery_app.worker_main(
        _worker_argv(
            beat=True, queues="feeds,articles,alerts", concurrency=concurrency, loglevel=loglevel
        )
    )


@app.command()
def worker(
    queues: Annotated[
        str,
        typer.Option(
            "-Q", "--queues", help="Comma-separated queues to consume: feeds, articles, alerts."
        ),
    ] = "feeds,articles,alerts",
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes; default NEWSWATCH_WORKER_CONCURRENCY."),
    ] = None,
    loglevel: Annotated[
        str | None, typer.Option(help="Log level; default NEWSWATCH_LOG_LEVEL.")
    ] = None,
) -> None:
    """A Celery worker (scale these out)."""
    from workers.cli_ops import parse_queues

    try:
        # Celery would consume a misspelt queue that no task is ever routed to, silently.
        names = parse_queues(queues)
    except ValueError as exc:
        _fail(str(exc))
        return
    from workers.celery_app import app as celery_app
    from workers.logs import setup_logging

    settings = get_settings()
    loglevel = _log_level(loglevel, settings)
    setup_logging(json_logs=settings.log_json, level=loglevel)
    celery_app.worker_main(
        _worker_argv(beat=False, queues=",".join(names), concurrency=concurrency, loglevel=loglevel)
    )


@app.command()
def beat(
    loglevel: Annotated[
        str | None, typer.Option(help="Log level; default NEWSWATCH_LOG_LEVEL.")
    ] = None,
) -> None:
    """The scheduler; run exactly one."""
    from workers.celery_app import app as celery_app
    from workers.logs import setup_logging

    settings = get_settings()
    loglevel = _log_level(loglevel, settings)
    setup_logging(json_logs=settings.log_json, level=loglevel)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", "--loglevel", loglevel, "--scheduler", MEMORY_SCHEDULER])


@app.command()
def poll(
    once: Annotated[
        bool, typer.Option("--once", help="Poll due feeds and process their articles now.")
    ] = False,
    all_feeds: Annotated[
        bool, typer.Option("--all", help="Poll every enabled feed, due or not.")
    ] = False,
    format: FormatOpt = TableOrJson.table,
) -> None:
    """Synchronous polling for cron users and tests (no broker needed)."""
    if not once:
        _fail("only --once is supported; use `newswatch run` for the service")
    from sources.registry import OutletError
    from workers.oneshot import poll_once

    try:
        summary = poll_once(get_settings(), all_feeds=all_feeds, progress=format == "table")
    except OutletError as exc:
        # The registry is the user's files: name the problem as `outlets check` does.
        _fail_outlets(exc)
        raise
    if format == "json":
        typer.echo(json.dumps(summary))
    else:
        _print_kv("poll --once", summary)
    polled, failed = summary["feeds_polled"], summary["feed_errors"]
    if polled and failed >= polled:
        # Outlets are often down, so some failures are normal (exit 0); none polled is "nothing
        # due". Every feed failing is the network, the proxy or the SSRF guard: cron must see it.
        example = _latest_feed_error()
        which = "the only feed polled" if polled == 1 else f"all {polled} feeds polled"
        _fail(
            f"{which} failed{'; e.g. ' + example if example else ''}"
            " (newswatch feeds status shows each)",
            code=1,
        )


def _latest_feed_error() -> str:
    """`outlet: reason` of the feed that failed last (this run's, when every feed failed)."""
    from sqlmodel import Session, col, select

    from storage.models import Feed

    try:
        with Session(_engine()) as session:
            feed = session.exec(
                select(Feed)
                .where(col(Feed.last_error).is_not(None))
                .order_by(col(Feed.last_error_at).desc(), col(Feed.id))
                .limit(1)
            ).first()
    except Exception:  # only an example for the message: the failure itself is reported anyway
        return ""
    if feed is None:
        return ""
    return f"{feed.outlet_id}: {' '.join((feed.last_error or '').split())[:200]}"


def _print_kv(title: str, data: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for key, value in data.items():
        table.add_row(str(key), str(value))
    console.print(table)


# ---------------------------------------------------------------- outlets


@outlets_app.command("list")
def outlets_list(format: FormatOpt = TableOrJson.table) -> None:
    """The configured outlets."""
    outlets = _load_outlets_or_fail()
    if format == "json":
        echo_json_lines(o.model_dump(mode="json", exclude={"source_file"}) for o in outlets)
        return
    from rich.table import Table

    table = Table(title=f"{len(outlets)} outlets")
    for col in ("id", "name", "lang", "country", "feeds"):
        table.add_column(col)
    for o in outlets:
        table.add_row(
            cell(o.id), cell(o.name), cell(o.language), cell(o.country), str(len(o.feeds))
        )
    table_console().print(table)


@outlets_app.command("check")
def outlets_check() -> None:
    """Validate every outlet file; on errors, exit 2 naming the file and key of each one."""
    outlets = _load_outlets_or_fail()
    if not outlets:
        _fail(f"no outlet files (*.toml) in {get_settings().outlets_dir}")
    console.print(
        f"[green]ok[/green]: {len(outlets)} outlets, {sum(len(o.feeds) for o in outlets)} feeds"
    )


def _load_outlets_or_fail() -> list[Any]:
    # Straight to the registry, as runtime.load_outlets does, without importing runtime's
    # database modules: listing outlets should not pay for sqlmodel.
    from sources.registry import OutletError, load_outlets

    try:
        return load_outlets(Path(get_settings().outlets_dir))
    except OutletError as exc:
        _fail_outlets(exc)
        raise


def _fail_outlets(exc: OutletError) -> None:
    """Exit 2 with one `error:` line per problem (a message may name several files)."""
    for problem in exc.problems[:-1]:
        _error(problem)
    _fail(exc.problems[-1] if exc.problems else str(exc))


# ---------------------------------------------------------------- articles


def _article_row(a: Article) -> dict[str, Any]:
    from sources.schedule import utc  # stored times are UTC; SQLite returns them naive

    return {
        "id": a.id,
        "outlet": a.outlet_id,
        "status": a.status,
        "title": a.title or a.feed_title,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "authors": a.authors,
        "published": utc(a.published).isoformat() if a.published else None,
        "language": a.language,
        "syndicated_from": a.syndicated_from or [],
        "copy_of": a.copy_of_id,
        "copy_kind": a.copy_kind,
        "similarity": a.similarity,
        "story": a.story_id,
        "version": a.version,
        "stored_at": utc(a.stored_at).isoformat() if a.stored_at else None,
        "error": a.error,
    }


@articles_app.command("list")
def articles_list(
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 50,
    outlet: Annotated[str | None, typer.Option(help="Only this outlet's articles.")] = None,
    status: Annotated[ArticleStatus | None, typer.Option(help="pending | stored | failed")] = None,
    all: Annotated[bool, typer.Option("--all", help="Include copies of other articles.")] = False,
    format: FormatOpt = TableOrJson.table,
) -> None:
    """Most recently found articles first (highest id first); copies hidden unless --all."""
    from sqlmodel import Session, select

    from storage.models import Article

    with Session(_engine()) as session:
        q = select(Article).order_by(Article.id.desc()).limit(limit)  # type: ignore[union-attr]
        if outlet:
            q = q.where(Article.outlet_id == outlet)
        if status:
            q = q.where(Article.status == status.value)
        if not all:
            q = q.where(Article.copy_of_id.is_(None))  # type: ignore[union-attr]
        rows = session.exec(q).all()
        if outlet and not rows:
            # As `reclean`: a typo is an error, not an empty table. An outlet removed from the
            # registry keeps its stored articles, so any row of it (whatever --status or --all
            # say) makes it known; so does the registry, for an outlet with nothing stored yet.
            any_row = session.exec(select(Article.id).where(Article.outlet_id == outlet).limit(1))
            if any_row.first() is None and not _in_registry(outlet):
                _fail(
                    f"unknown outlet {outlet!r}: not in the outlet registry and no stored "
                    "articles; `newswatch outlets list` shows the outlets"
                )
    _print_articles(rows, format)


def _in_registry(outlet_id: str) -> bool:
    """Whether the registry has this outlet; True when the registry cannot be read, because
    then a listing cannot tell a typo from a real outlet and must not refuse it."""
    from sources.registry import OutletError, load_outlets

    try:
        return any(o.id == outlet_id for o in load_outlets(Path(get_settings().outlets_dir)))
    except OutletError:
        return True


def _print_articles(rows: Any, format: str) -> None:
    if format == "json":
        echo_json_lines(_article_row(a) for a in rows)
        return
    from rich.table import Table

    from sources.schedule import utc

    table = Table()
    for col in ("id", "outlet", "status", "published (UTC)", "title"):
        table.add_column(col)
    for a in rows:
        # Titles come from the web: cell() shows "[/b]" as text instead of parsing it as markup.
        table.add_row(
            str(a.id),
            cell(a.outlet_id),
            a.status,
            utc(a.published).strftime("%Y-%m-%d %H:%M") if a.published else "",
            cell((a.title or a.feed_title or "")[:80]),
        )
    table_console().print(table)


@articles_app.command("search")
def articles_search(
    words: Annotated[
        list[str], typer.Argument(help="Words that must all appear in title or body.")
    ],
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 50,
    format: FormatOpt = TableOrJson.table,
) -> None:
    """Articles whose title or body contains every word (case-insensitive)."""
    from sqlalchemy import func, or_
    from sqlmodel import Session, select

    from storage.models import Article

    with Session(_engine()) as session:
        q = (
            select(Article)
            .where(Article.status == "stored")
            .order_by(Article.id.desc())
            .limit(limit)
        )  # type: ignore[union-attr]
        for word in words:
            # `lower` is Unicode-aware on both databases (storage.db gives SQLite Python's);
            # autoescape makes % and _ in a word plain characters.
            needle = word.lower()
            q = q.where(
                or_(
                    func.lower(Article.title).contains(needle, autoescape=True),
                    func.lower(Article.body).contains(needle, autoescape=True),
                )
            )
        rows = session.exec(q).all()
    _print_articles(rows, format)


@articles_app.command("show")
def articles_show(
    article_id: Annotated[
        int, typer.Argument(help="Article id (the first column of `articles list`).")
    ],
    removed: Annotated[
        bool, typer.Option("--removed", help="Show what cleaning removed and why.")
    ] = False,
    format: FormatOpt = TableOrJson.table,
) -> None:
    """One article with its comments, versions, copies and story."""
    from sqlmodel import Session, select

    from storage.models import Article, Comment, RemovedSpan

    with Session(_engine()) as session:
        article = session.get(Article, article_id)
        if article is None:
            _fail(f"no article {article_id}")
            return
        comments = session.exec(
            select(Comment).where(Comment.article_id == article_id).order_by(Comment.position)
        ).all()  # type: ignore[arg-type]
        spans = session.exec(
            select(RemovedSpan)
            .where(RemovedSpan.article_id == article_id)
            .order_by(RemovedSpan.position)
        ).all()  # type: ignore[arg-type]
        from workers.cli_stories import article_relations

        relations = article_relations(session, article_id)
    data = _article_row(article) | {
        "body": article.body,
        "comments": [{"author": c.author, "text": c.text, "kind": c.kind} for c in comments],
        "relations": relations,
    }
    if removed:
        data["removed"] = [{"rule": s.rule, "text": s.text} for s in spans]
    if format == "json":
        typer.echo(json.dumps(data, ensure_ascii=False, default=str))
        return
    from rich.markup import escape

    # Web text is escaped (a "[/]" in a title is not Rich markup), and lines are not wrapped
    # when stdout is a pipe or a file: a URL broken across lines cannot be copied or grepped.
    wrap = not console.is_terminal
    console.rule(f"[bold]{escape(data['title'] or '(untitled)')}")
    for key in (
        "id",
        "outlet",
        "url",
        "authors",
        "published",
        "language",
        "status",
        "version",
    ):
        value = data[key]
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        console.print(f"[dim]{key}:[/dim] {escape(shown)}", soft_wrap=True, highlight=False)
    from workers.cli_stories import describe_relations

    if data["syndicated_from"]:
        console.print(
            f"[dim]names as original:[/dim] {escape(', '.join(data['syndicated_from']))}",
            soft_wrap=True,
            highlight=False,
        )
    # `--format json` has the whole structure; people get one line per relation.
    for line in describe_relations(relations):
        key, _, rest = line.partition(": ")
        console.print(f"[dim]{key}:[/dim] {escape(rest)}", soft_wrap=True, highlight=False)
    console.print()
    console.print(article.body or "", markup=False, highlight=False, soft_wrap=wrap)
    if comments:
        console.rule(plural(len(comments), "comment"))
        for c in comments:
            console.print(f"[bold]{escape(c.author or '(no author)')}[/bold]: ", end="")
            console.print(c.text, markup=False, highlight=False, soft_wrap=wrap)
    if removed:
        console.rule(plural(len(spans), "removed span"))
        for s in spans:
            console.print(f"[yellow]{escape(s.rule)}[/yellow]: ", end="")
            console.print(s.text, markup=False, highlight=False, soft_wrap=wrap)


class ExportFormat(StrEnum):
    """`articles export --format`: a choice, so --help lists it and a typo is refused."""

    jsonl = "jsonl"
    csv = "csv"


@articles_app.command("export")
def articles_export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write; '-' for stdout.")
    ] = Path("-"),
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="jsonl | csv")
    ] = ExportFormat.jsonl,
    all: Annotated[bool, typer.Option("--all", help="Include copies.")] = False,
) -> None:
    """Export stored articles as JSON Lines (exact text) or CSV (for spreadsheets: a cell that
    would start a formula gets a leading apostrophe)."""
    fields = [
        "id",
        "outlet",
        "title",
        "url",
        "canonical_url",
        "authors",
        "published",
        "language",
        "copy_of",
        "story",
        "body",
    ]
    from sqlmodel import Session, select

    from storage.models import Article

    engine = _engine()  # before the output is touched: a failed export leaves it as it was
    out, partial = (sys.stdout, "") if str(output) == "-" else _open_output(output)
    count = 0
    done = False
    try:
        writer = csv.DictWriter(out, fieldnames=fields) if format == "csv" else None
        if writer:
            writer.writeheader()
        with Session(engine) as session:
            q = select(Article).where(Article.status == "stored").order_by(Article.id)  # type: ignore[arg-type]
            if not all:
                q = q.where(Article.copy_of_id.is_(None))  # type: ignore[union-attr]
            for a in session.exec(q.execution_options(yield_per=500)):
                row = _article_row(a) | {"body": a.body}
                row = {k: row[k] for k in fields}
                if writer:
                    row = row | {"authors": "; ".join(row["authors"] or [])}
                    writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
                else:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        done = True
    finally:
        if out is not sys.stdout:
            out.close()
            # Written beside the target and moved over it only when complete.
            if done:
                os.replace(partial, output)
            else:
                Path(partial).unlink(missing_ok=True)
    err.print(f"exported {plural(count, 'article')}")


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets; web
# text such as a title "=HYPERLINK(…)" must not run when someone opens the export.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell as text a spreadsheet shows rather than evaluates (OWASP's leading "'")."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _open_output(path: Path) -> tuple[Any, str]:
    """A temporary file beside `path` and its name; the caller moves it over `path` once
    complete, so a failed export never replaces an earlier one with a fragment."""
    if path.is_dir():
        _fail(f"--output: {path} is a folder; give a file name")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # the mode a plain open() would give, not mkstemp's 0600
        return open(fd, "w", encoding="utf-8", newline=""), name  # noqa: SIM115
    except OSError as exc:
        _fail(f"--output: cannot write {path}: {exc.strerror or exc}")
        raise


@app.command()
def reclean(
    outlet: Annotated[str | None, typer.Option(help="Only this outlet's articles.")] = None,
) -> None:
    """Re-run cleaning on stored raw pages after rules changed (no fetching)."""
    from rich.progress import Progress
    from sqlmodel import Session, select

    from sources.registry import OutletError
    from storage.models import Article
    from workers import runtime
    from workers.pipeline import reclean_article

    engine = _engine()
    try:
        outlets = runtime.outlets_by_id(get_settings())
    except OutletError as exc:
        # Recleaning without the outlets' rules would store different bodies than ingest does.
        _fail(str(exc))
        return
    with Session(engine) as session:
        # An outlet dropped from the registry still has its stored pages to reclean, so the
        # database counts as knowing it too; a typo is known to neither and would "reclean 0".
        if outlet and outlet not in outlets:
            known = session.exec(select(Article.id).where(Article.outlet_id == outlet).limit(1))
            if known.first() is None:
                _fail(
                    f"unknown outlet {outlet!r}: not in the outlet registry and no stored "
                    "articles; `newswatch outlets list` shows the outlets"
                )
        q = select(Article.id).where(Article.raw_page.is_not(None))  # type: ignore[union-attr]
        if outlet:
            q = q.where(Article.outlet_id == outlet)
        ids = [int(i) for i in session.exec(q).all()]
    from alerts.watches import WatchError
    from storage.db import session_scope

    # Mentions follow the new text (dated when each article was stored, so no spike now).
    try:
        watches = runtime.current_watches(get_settings())
    except WatchError as exc:
        _fail(str(exc))
        return
    done = 0
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("recleaning", total=len(ids))
        for article_id in ids:
            with session_scope(engine) as session:
                article = session.get(Article, article_id)
                if article is not None:
                    reclean_article(
                        session, article, outlets=outlets, now=datetime.now(UTC), watches=watches
                    )
                    done += 1
            progress.advance(task)
    console.print(f"recleaned {done} articles")


# ---------------------------------------------------------------- database


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations (alembic) to the configured database, up to REVISION (default head)."""
    from storage.migrate import upgrade

    upgrade(get_settings().effective_database_url, revision)
    console.print("database at", revision)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (base drops every table).")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask; required when stdin is not a terminal.")
    ] = False,
) -> None:
    """Revert migrations down to REVISION (e.g. base). This DELETES DATA: the tables and columns
    of the reverted migrations are dropped with their contents. Asks first unless --yes."""
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url

    from storage.migrate import ALEMBIC_DIR, downgrade

    url = get_settings().effective_database_url
    # A misspelt revision is reported (as `migration: ...`) before anyone is asked to confirm.
    ScriptDirectory(str(ALEMBIC_DIR)).get_revisions(revision)
    if not yes:
        where = make_url(url).render_as_string(hide_password=True)
        if not sys.stdin.isatty():
            # Nobody can answer: a script must say --yes to drop tables.
            _fail(f"db downgrade deletes data in {where}; pass --yes to confirm")
        typer.confirm(
            f"Downgrading {where} to {revision} drops tables and deletes their data. Continue?",
            abort=True,
        )
    downgrade(url, revision)
    console.print("database at", revision)


# ---------------------------------------------------------------- demo


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the demo's data in this folder.")
    ] = None,
    format: FormatOpt = TableOrJson.table,
) -> None:
    """The whole pipeline against built-in local outlets on 127.0.0.1; no network, no servers."""
    if keep is not None and keep.exists():
        if not keep.is_dir():
            _fail(f"--keep: {keep} is a file; give a new folder")
        if any(keep.iterdir()):
            # A second demo in the same folder would serve its outlets on new ports, so every
            # article would be stored again under a new URL: the data would double.
            _fail(f"--keep: {keep} is not empty (a previous demo?); give a new folder")
    from workers.demo_run import run_demo

    summary = run_demo(keep=keep, progress=format == "table")
    if format == "json":
        typer.echo(json.dumps(summary))
    else:
        _print_kv("newswatch demo", summary)
    if keep is not None:
        # The kept store belongs with the demo's own outlets, not the shipped registry: without
        # them `reclean` would clean its articles without their outlet rules.
        err.print(
            "explore it with: "
            f"NEWSWATCH_DATA_DIR={keep} NEWSWATCH_OUTLETS_DIR={keep / 'outlets'} "
            "newswatch articles list",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )


def _register_extensions() -> None:
    """Commands that live beside their feature (cleaning, feeds, stories, alerts, operations)."""
    import importlib

    for module, kwargs in (
        ("workers.cli_clean", {}),
        (
            "workers.cli_feeds",
            {"get_engine": _engine, "get_client": _http_client},
        ),
        ("workers.cli_stories", {"get_engine": _engine}),
        ("workers.cli_alerts", {"get_settings": get_settings, "get_engine": _engine}),
        ("workers.cli_ops", {"get_settings": get_settings, "get_engine": _any_engine}),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(app, **kwargs)


_register_extensions()


def _settings_problems(exc: Exception) -> list[str] | None:
    """One line per problem of an invalid NEWSWATCH_* setting, or None for any other error."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError) or exc.title != "Settings":
        return None
    lines = []
    # Neither the input nor its context is shown: a rejected URL may carry a password.
    for problem in exc.errors(include_url=False, include_context=False, include_input=False):
        message = " ".join(str(problem["msg"]).split())
        if problem["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        if problem["loc"]:
            var = f"NEWSWATCH_{str(problem['loc'][0]).upper()}"
            if not message.startswith(var):
                message = f"{var}: {message}"
        lines.append(message)
    return lines


def main() -> None:
    try:
        app()
    except Exception as exc:
        # A store that is not created, not migrated or not reachable, and a migration that
        # cannot run, are one line with the way out rather than a traceback. Matched by module
        # so quick commands do not import SQLAlchemy; only the type is shown (a driver message
        # may name the server and the user).
        package = type(exc).__module__.split(".")[0]
        if package == "sqlalchemy":
            _error(
                f"cannot use the database ({type(exc).__name__}); is it running and migrated? "
                "(newswatch db upgrade)"
            )
            raise SystemExit(2) from None
        if package == "alembic":
            _error(f"migration: {' '.join(str(exc).split())}")
            raise SystemExit(2) from None
        # Settings are read on first use, inside whichever command runs (get_settings() caches
        # only a success, so every attempt raises again and ends here).
        problems = _settings_problems(exc) if package.startswith("pydantic") else None
        if problems is not None:
            for line in problems or ["invalid NEWSWATCH_* settings"]:
                _error(line)
            raise SystemExit(2) from None
        if isinstance(exc, OSError):
            # The last resort for a file the user named that cannot be read or written.
            what = exc.strerror or type(exc).__name__
            _error(f"{what}: {exc.filename}" if exc.filename else what)
            raise SystemExit(2) from None
        raise
