"""Operations commands: `flower`, `metrics-serve`, `status`, `health` and `drift` for the newswatch CLI."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from workers.cli_output import table_console
from workers.cli_types import FormatOpt, TableOrJson
from workers.settings import PLACEHOLDER_SECRET

err = Console(stderr=True)
HEALTH_CHECKS = ("worker", "beat", "db", "redis")


def _fail(message: str, code: int = 2) -> None:
    from rich.markup import escape

    # One line whatever the width (Rich wraps at 80 columns when stderr is not a terminal).
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _warn(message: str) -> None:
    from rich.markup import escape

    err.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True, highlight=False)


def validate_basic_auth(value: str) -> list[str]:
    """Flower's credential list "user:password[,user2:password2]"; raises ValueError on nonsense."""
    pairs = [p for p in value.split(",") if p]
    if not pairs:
        raise ValueError("empty (expected user:password)")
    for pair in pairs:
        user, sep, password = pair.partition(":")
        if not sep or not user or not password:
            raise ValueError("each credential must be user:password")
        if password == PLACEHOLDER_SECRET:
            raise ValueError(
                f"the password is .env.example's placeholder {PLACEHOLDER_SECRET!r}, which is "
                "refused; choose a real password"
            )
    return pairs


def parse_queues(value: str) -> list[str]:
    """A --queues list ("feeds,alerts") as names; ValueError naming the valid ones otherwise."""
    from workers.celery_app import QUEUES

    names = [q.strip() for q in value.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUEUES]
    # A queue no task is routed to would make a worker that idles, or a probe that never passes.
    if unknown or not names:
        what = f"unknown queue {', '.join(map(repr, unknown))}" if unknown else "no queue given"
        raise ValueError(f"--queues: {what}; valid queues: {', '.join(QUEUES)}")
    return names


def metrics_dir(settings: Any) -> Path | None:
    """The folder the workers write their metric files to, or None.

    The same choice as workers.metrics (and so the workers and `metrics-serve`) makes:
    PROMETHEUS_MULTIPROC_DIR when set, otherwise NEWSWATCH_METRICS_DIR.
    """
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        return Path(multiproc)
    return Path(settings.metrics_dir) if settings.metrics_dir else None


def flower_environment(
    environ: dict[str, str], *, credentials: str, insecure_no_auth: bool
) -> dict[str, str]:
    """The environment Flower runs with: credentials passed by FLOWER_BASIC_AUTH, never argv."""
    env = dict(environ)
    # Flower's own /metrics must not write into the workers' multiprocess directory.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("prometheus_multiproc_dir", None)
    env.pop("FLOWER_UNAUTHENTICATED_API", None)
    credentials = credentials or env.get("FLOWER_BASIC_AUTH", "")
    if credentials:
        validate_basic_auth(credentials)
        env["FLOWER_BASIC_AUTH"] = credentials
    elif not insecure_no_auth:
        raise PermissionError("no credentials")
    else:
        env.pop("FLOWER_BASIC_AUTH", None)
    return env


def register(
    app: typer.Typer, *, get_settings: Callable[[], Any], get_engine: Callable[[], Any]
) -> None:
    def existing_engine() -> Any:
        """The database, when it is there: connecting would leave an empty file behind, which
        later looks like a database. A missing one is an error (exit 2)."""
        from storage.health import missing_database

        missing = missing_database(get_settings().effective_database_url)
        if missing is not None:
            _fail(missing)
        return get_engine()

    if sys.argv[1:2] and sys.argv[1] in ("worker", "run"):
        # A worker must register `newswatch.health_ping` and the consumption mark that
        # `health worker` relies on. The Celery app's includes load the module too; importing it
        # here as well registers both before the worker starts. Only worker processes pay for it.
        import workers.health_tasks  # noqa: F401

    @app.command()
    def flower(
        port: Annotated[int, typer.Option(help="HTTP port.")] = 5555,
        address: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
        url_prefix: Annotated[str, typer.Option(help="Serve under this path prefix.")] = "",
        insecure_no_auth: Annotated[
            bool, typer.Option("--insecure-no-auth", help="Local development only: no login.")
        ] = False,
    ) -> None:
        """Flower (task monitor) on the Redis broker, behind basic auth from NEWSWATCH_FLOWER_BASIC_AUTH."""
        settings = get_settings()
        broker = settings.effective_broker_url
        if settings.embedded_broker or not broker.startswith(("redis://", "rediss://")):
            _fail(
                "Flower needs the Redis broker (set NEWSWATCH_BROKER_URL=redis://...). The embedded "
                "SQLite broker has no broadcast, so Flower could not see workers; use "
                "`newswatch status` instead."
            )
        try:
            env = flower_environment(
                dict(os.environ),
                credentials=settings.flower_basic_auth.get_secret_value(),
                insecure_no_auth=insecure_no_auth,
            )
        except PermissionError:
            _fail(
                "refusing to start Flower without credentials: set NEWSWATCH_FLOWER_BASIC_AUTH="
                "user:password (or pass --insecure-no-auth for local development)"
            )
            return
        except ValueError as exc:
            # The reason says what is wrong: the format, or the refused placeholder password.
            _fail(f"NEWSWATCH_FLOWER_BASIC_AUTH: {exc}")
            return
        if insecure_no_auth and "FLOWER_BASIC_AUTH" not in env:
            _warn("Flower runs WITHOUT authentication")
        os.environ.clear()
        os.environ.update(env)
        from workers.celery_app import app as celery_app
        from workers.logs import setup_logging

        setup_logging(json_logs=settings.log_json, level=settings.log_level)
        argv = ["flower", f"--port={port}", f"--address={address}"]
        if url_prefix:
            argv.append(f"--url_prefix={url_prefix}")
        celery_app.start(argv)

    @app.command("metrics-reset")
    def metrics_reset() -> None:
        """Remove the previous run's per-process metric files; run before any worker starts."""
        folder = metrics_dir(get_settings())
        if folder is None:
            _fail(
                "NEWSWATCH_METRICS_DIR is not set (nor PROMETHEUS_MULTIPROC_DIR): there are no "
                "metric files to remove"
            )
            return
        from workers.metrics_files import reset_multiprocess_dir

        removed = reset_multiprocess_dir(folder)
        typer.echo(f"removed {removed} metric files from {folder}")

    @app.command("metrics-serve")
    def metrics_serve(
        port: Annotated[int, typer.Option(help="HTTP port of /metrics.")] = 9100,
        address: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    ) -> None:
        """Prometheus exporter: worker counters (from NEWSWATCH_METRICS_DIR), queue depths, quality."""
        settings = get_settings()
        from workers import metrics, runtime

        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            _warn(
                "NEWSWATCH_METRICS_DIR is not set: worker counters and latency histograms are "
                "not visible here, only queue depths and quality"
            )
        registry = metrics.build_registry(engine=get_engine(), depths=_depths(settings, runtime))
        metrics.serve(registry, port=port, address=address)
        err.print(
            f"serving Prometheus metrics on http://{address}:{port}/metrics",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    @app.command()
    def status(
        format: FormatOpt = TableOrJson.table,
    ) -> None:
        """Workers, queues, feed freshness, the last hour's ingest, latency and degraded outlets."""
        from workers import runtime
        from workers.status import collect_status, render

        settings = get_settings()
        engine = existing_engine()
        celery_app = None
        if not settings.embedded_broker:
            from workers.celery_app import app as celery_app
        from sqlalchemy.exc import SQLAlchemyError

        try:
            data = collect_status(
                settings,
                engine,
                now=datetime.now(UTC),
                celery_app=celery_app,
                redis=runtime.redis_client(settings),
            )
        except SQLAlchemyError as exc:
            _fail(
                f"cannot read the database ({type(exc).__name__}); is it running and migrated? "
                "(newswatch db upgrade)"
            )
            return
        if format == "json":
            typer.echo(json.dumps(data, default=str, ensure_ascii=False))
        else:
            # Not cut to 80 columns in a pipe (`status | cat`), like every other table.
            render(data, table_console(fit=True))

    @app.command()
    def health(
        check: Annotated[str, typer.Argument(help="worker | beat | db | redis")],
        timeout: Annotated[
            float, typer.Option(min=0.1, help="Seconds to wait for the worker probe.")
        ] = 10.0,
        queues: Annotated[
            str, typer.Option("-Q", "--queues", help="Queues the worker must consume.")
        ] = "feeds,articles,alerts",
        max_age: Annotated[
            float, typer.Option(min=1, help="Oldest acceptable beat heartbeat (s).")
        ] = 90.0,
    ) -> None:
        """Exit 0 when healthy, 1 when not (compose healthcheck), 2 on a usage error."""
        from workers import health as probes

        settings = get_settings()
        if check == "worker":
            try:
                names = parse_queues(queues)
            except ValueError as exc:
                _fail(str(exc))
                return
            from workers.celery_app import app as celery_app

            probe = probes.check_worker(settings, celery_app, queues=names, timeout=timeout)
        elif check == "beat":
            from storage.health import missing_database

            missing = missing_database(settings.effective_database_url)
            if missing is not None:
                # Unhealthy (exit 1), not a usage error; and no empty database file left behind.
                probe = probes.Probe(False, missing)
            else:
                probe = probes.check_beat(
                    get_engine(), now=datetime.now(UTC), max_age=timedelta(seconds=max_age)
                )
        elif check == "db":
            probe = probes.check_db(get_engine())
        elif check == "redis":
            probe = probes.check_redis(settings)
        else:
            _fail(f"unknown check {check!r}; one of {', '.join(HEALTH_CHECKS)}")
            return
        typer.echo(f"{'ok' if probe.ok else 'unhealthy'}: {check}: {probe.message}")
        raise typer.Exit(0 if probe.ok else 1)

    @app.command()
    def drift(
        format: FormatOpt = TableOrJson.table,
        check: Annotated[bool, typer.Option("--check", help="Run the drift check now.")] = False,
    ) -> None:
        """Per-outlet extraction quality of the newest articles, and open drift alarms."""
        from alerts.drift import check_drift, open_events
        from storage.quality import outlet_quality

        settings = get_settings()
        engine = existing_engine()
        changed = []
        if check:
            changed = check_drift(
                engine,
                now=datetime.now(UTC),
                ops_email=settings.ops_email,
                mail_from=settings.mail_from,
            )
        quality = outlet_quality(engine)
        drifted = {e.subject: e for e in open_events(engine)}
        rows = [
            {"outlet": o, **q.as_dict(), "drift": o in drifted} for o, q in sorted(quality.items())
        ]
        if format == "json":
            typer.echo(json.dumps({"outlets": rows, "changed": [e.subject for e in changed]}))
            return
        from rich.table import Table

        table = Table(title="extraction quality (newest 20 articles per outlet)")
        for col in ("outlet", "n", "median chars", "author", "date", "leftover", "drift"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["outlet"],
                str(r["articles"]),
                f"{r['median_body_chars']:.0f}",
                f"{r['share_with_author']:.0%}",
                f"{r['share_with_date']:.0%}",
                f"{r['share_leftover']:.0%}",
                "[red]DRIFT[/red]" if r["drift"] else "",
            )
        table_console().print(table)


def _depths(settings: Any, runtime: Any) -> Callable[[], dict[str, int]]:
    return lambda: runtime.queue_depths(settings)
