"""`newswatch watches …` and `newswatch alerts …`: manage keyword watches, replay and list alerts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from workers.cli_output import echo_json_lines
from workers.cli_types import FormatOpt, TableOrJson

# The alerts modules (the detector loads scipy, watches load the database models) are imported
# inside the commands, so that `newswatch --help` and unrelated commands start quickly.

MAX_CSV_BYTES = 200 * 1024 * 1024
FileOpt = Annotated[
    Path | None, typer.Option("--file", help="Watches TOML (default from settings).")
]
WatchIdArg = Annotated[str, typer.Argument(help="Watch id (as `watches list` shows it).")]


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def register(
    app: typer.Typer, *, get_settings: Callable[[], Any], get_engine: Callable[[], Any]
) -> None:
    """Add the `watches` and `alerts` command groups to the main CLI."""
    watches_app = typer.Typer(no_args_is_help=True, help="Keyword watches (the watches TOML file).")
    alerts_app = typer.Typer(no_args_is_help=True, help="Spike alerts: backtest and history.")
    app.add_typer(watches_app, name="watches")
    app.add_typer(alerts_app, name="alerts")

    def watches_file(path: Path | None) -> Path:
        return path or get_settings().effective_watches_file

    def existing_watches_file(path: Path | None) -> Path:
        """The file to read: a --file that does not exist is a typo, not an empty file.

        Without --file, a missing default file still means no watches yet.
        """
        if path is not None:
            try:
                path.stat()
            except (FileNotFoundError, NotADirectoryError):
                _fail(f"no such file: {path}")
            except OSError:
                pass  # load_watches names the reason (e.g. permission denied)
        return watches_file(path)

    def watch_known(watch_id: str) -> bool:
        """Whether the watches file has this watch; True when it cannot be read, because then a
        listing cannot tell a typo from a real watch and must not refuse it."""
        from alerts.watches import WatchError, load_watches

        try:
            return any(w.id == watch_id for w in load_watches(watches_file(None)))
        except WatchError:
            return True

    @watches_app.command("add")
    def watches_add(
        watch_id: Annotated[str, typer.Argument(help="Watch id, e.g. sarmat.")],
        term: Annotated[
            list[str], typer.Option("--term", "-t", help="Term (repeatable); Sarmat* = prefix.")
        ],
        recipient: Annotated[
            list[str] | None, typer.Option("--to", "-r", help="Recipient (repeatable).")
        ] = None,
        outlet: Annotated[
            list[str] | None, typer.Option("--outlet", help="Only these outlets.")
        ] = None,
        language: Annotated[
            list[str] | None,
            typer.Option(
                "--language",
                help="Only articles in these languages (ISO 639-1; no also takes nb and nn).",
            ),
        ] = None,
        sensitivity: Annotated[float, typer.Option(help="1 = default; 2 = more alerts.")] = 1.0,
        quiet_hours: Annotated[
            str | None, typer.Option(help='e.g. "22:00-07:00 Europe/Berlin".')
        ] = None,
        file: FileOpt = None,
    ) -> None:
        """Add a watch."""
        from alerts.watches import WatchError, add_watch, check_reachable, parse_watch

        data: dict[str, Any] = {"id": watch_id, "terms": term, "sensitivity": sensitivity}
        if recipient:
            data["recipients"] = recipient
        if outlet:
            data["outlets"] = outlet
        if language:
            data["languages"] = language
        if quiet_hours:
            data["quiet_hours"] = quiet_hours
        try:
            spec = parse_watch(data, where="watch")
            check_reachable(spec, outlet_ids=registry_ids() if spec.outlets else None)
            add_watch(watches_file(file), spec)
        except WatchError as exc:
            _fail(str(exc))
        typer.echo(f"added watch {watch_id}")

    def registry_ids(what: str = "--outlet") -> set[str] | None:
        """The registry's outlet ids, or None (with a warning) when it cannot be read."""
        from sources.registry import OutletError, load_outlets

        try:
            return {o.id for o in load_outlets(Path(get_settings().outlets_dir))}
        except OutletError as exc:
            # Which outlets exist cannot be known: ingest stops on this registry too, and the
            # watch is kept for when it is fixed, with a word that it went unchecked.
            typer.echo(
                f"warning: {what} not checked, the outlet registry cannot be read "
                f"({exc.problems[0]}); `newswatch outlets check` shows why",
                err=True,
            )
            return None

    @watches_app.command("list")
    def watches_list(
        file: FileOpt = None,
        format: FormatOpt = TableOrJson.table,
    ) -> None:
        """List watches; any that can never match (e.g. after a hand edit) are named on stderr."""
        from alerts.watches import WatchError, load_watches, unreachable

        try:
            specs = load_watches(existing_watches_file(file))
        except WatchError as exc:
            _fail(str(exc))
            return
        now = datetime.now(UTC)
        checked = any(w.outlets for w in specs)
        outlet_ids = registry_ids("outlets") if checked else None
        for w in specs:
            for problem in unreachable(w, outlet_ids=outlet_ids):
                typer.echo(f"warning: watch '{w.id}' never matches: {problem}", err=True)
        if format == "json":
            echo_json_lines(
                w.to_toml() | ({"muted_until": w.muted_until.isoformat()} if w.muted_until else {})
                for w in specs
            )
            return
        if not specs:
            typer.echo("no watches")
        for w in specs:
            # Every filter that decides what is counted is shown: a watch limited to "en" that
            # misses Russian coverage must be visible here, not only in the file.
            extras = [
                f"languages {', '.join(w.languages)}" if w.languages else "",
                f"outlets {', '.join(w.outlets)}" if w.outlets else "",
                f"sensitivity {w.sensitivity:g}" if w.sensitivity != 1.0 else "",
                f"quiet {w.quiet_hours}" if w.quiet_hours else "",
                f"muted until {w.muted_until:%Y-%m-%d %H:%M} UTC" if w.muted(now) else "",
            ]
            shown = "".join(f"  {x}" for x in extras if x)
            typer.echo(f"{w.id}: {', '.join(w.terms)} → {', '.join(w.recipients) or '-'}{shown}")

    @watches_app.command("remove")
    def watches_remove(watch_id: WatchIdArg, file: FileOpt = None) -> None:
        """Remove a watch (its past mentions and alerts stay in the database)."""
        from alerts.watches import WatchError, remove_watch

        try:
            remove_watch(existing_watches_file(file), watch_id)
        except WatchError as exc:
            _fail(str(exc))
        typer.echo(f"removed watch {watch_id}")

    @watches_app.command("mute")
    def watches_mute(
        watch_id: WatchIdArg,
        for_: Annotated[
            str | None, typer.Option("--for", help="How long: 30m, 6h, 3d, 1w (default 1d).")
        ] = None,
        off: Annotated[bool, typer.Option("--off", help="Unmute.")] = False,
        file: FileOpt = None,
    ) -> None:
        """Mute a watch's emails for a while (alerts are still recorded)."""
        from alerts.watches import WatchError, mute_watch, parse_duration

        if off and for_ is not None:
            _fail("--for cannot be combined with --off (unmuting takes no duration)")
        try:
            # `--for ''` is a mistake, not the default: only a missing option means one day
            until = (
                None if off else datetime.now(UTC) + parse_duration("1d" if for_ is None else for_)
            )
            mute_watch(existing_watches_file(file), watch_id, until)
        except (WatchError, ValueError) as exc:
            _fail(str(exc))
            return
        typer.echo(
            f"unmuted {watch_id}"
            if until is None
            else f"muted {watch_id} until {until:%Y-%m-%d %H:%M} UTC"
        )

    @alerts_app.command("backtest")
    def alerts_backtest(
        csv_path: Annotated[
            Path, typer.Argument(help="CSV with time,mentions,articles ('-' = stdin).")
        ],
        interval: Annotated[
            int | None, typer.Option(help="Interval seconds (default: inferred).")
        ] = None,
        sensitivity: Annotated[float, typer.Option(help="Watch sensitivity.")] = 1.0,
    ) -> None:
        """Replay a mention series; one JSON line per notification the live system would send.

        A file with no data rows is an error (exit 2). A series too short for the detector to
        fire prints nothing, with a note on stderr saying why (exit 0).
        """
        from alerts.backtest import BacktestError, History, read_series, run_backtest

        try:
            if str(csv_path) == "-":
                data = sys.stdin.buffer.read(MAX_CSV_BYTES + 1)
            else:
                # At most one byte past the cap, whatever stat says: /dev/zero or a pipe
                # (`<(...)`) reports size 0 and may never end.
                with csv_path.open("rb") as fh:
                    data = fh.read(MAX_CSV_BYTES + 1)
            if len(data) > MAX_CSV_BYTES:
                _fail(f"{csv_path}: larger than {MAX_CSV_BYTES} bytes")
            # Bytes decoded here, the same way for a file and stdin (a BOM is dropped).
            text = data.decode("utf-8-sig")
        except OSError as exc:
            _fail(f"{csv_path}: {exc.strerror or exc}")
            return
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            _fail(f"{csv_path}: not UTF-8 (line {line})")
            return
        if not 0.1 <= sensitivity <= 10:
            _fail("--sensitivity must be in [0.1, 10]")
        if interval is not None and interval < 60:
            _fail("--interval must be at least 60 seconds")
        try:
            series = read_series(text)
            history = History()
            sent = 0
            for note in run_backtest(
                series, interval_seconds=interval, sensitivity=sensitivity, history=history
            ):
                typer.echo(json.dumps(note, ensure_ascii=False))
                sent += 1
        except BacktestError as exc:
            _fail(f"{csv_path}: {exc}")
            return
        why = None if sent else history.why_silent()
        if why:
            # stdout stays empty: a program reading the JSON lines sees "no notifications".
            typer.echo(f"note: {csv_path}: {why}", err=True)

    @alerts_app.command("list")
    def alerts_list(
        watch: Annotated[str | None, typer.Option("--watch", help="Only this watch.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 50,
        format: FormatOpt = TableOrJson.table,
    ) -> None:
        """Recent alert decisions (fired, escalated, resolved), newest first."""
        from sqlmodel import Session

        from alerts.service import recent_alerts

        with Session(get_engine()) as session:
            rows = recent_alerts(session, watch_id=watch, limit=limit)
        if watch and not rows and not watch_known(watch):
            # As `watches mute`: a typo is an error, not "no alerts". A removed watch keeps its
            # alerts (rows, listed above); one in the file may have none yet.
            _fail(
                f"unknown watch {watch!r}: not in {watches_file(None)} and no alerts; "
                "`newswatch watches list` shows the watches"
            )
        for a in rows:
            start = a.interval_start.replace(tzinfo=a.interval_start.tzinfo or UTC)
            if format == "json":
                typer.echo(
                    json.dumps(
                        {
                            "watch": a.watch_id,
                            "kind": a.kind,
                            "time": start.isoformat(),
                            "observed": a.observed,
                            "expected": a.expected,
                            "details": a.details,
                        },
                        ensure_ascii=False,
                        default=str,
                    )
                )
            else:
                typer.echo(
                    f"{start:%Y-%m-%d %H:%M} {a.watch_id} {a.kind}: "
                    f"{a.observed:g} vs {a.expected:.1f} expected"
                )
        if not rows and format != "json":
            typer.echo("no alerts")
