"""`newswatch clean PATH...`: run the cleaner on local HTML or text files and print JSON."""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

MAX_INPUT_BYTES = 50_000_000  # bounded reads: one page is never this big
FORMATS = ("json", "jsonl", "text")


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files named directly, plus every (non-hidden) file directly inside a named directory."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(
                sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
            )
        elif p.is_file():
            files.append(p)
        else:
            _fail(f"no such file or directory: {p}")
    return files


def read_input(path: Path) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(MAX_INPUT_BYTES + 1)
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as gz:
                data = gz.read(MAX_INPUT_BYTES + 1)
        # A truncated stream raises EOFError, which Click would take for Ctrl-D and print only
        # "Aborted."; corrupt data raises zlib.error, which is no OSError either.
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            _fail(f"{path}: corrupt gzip ({exc or type(exc).__name__})")
    if len(data) > MAX_INPUT_BYTES:
        _fail(f"{path}: larger than {MAX_INPUT_BYTES} bytes")
    return data


def result_dict(path: Path, url: str | None) -> dict[str, Any]:
    # Imported here: the cleaner loads trafilatura and the language model, which the rest of
    # the command line never needs.
    from cleaning import clean

    article = clean(read_input(path), url=url)
    out = article.to_dict()
    out["source"] = str(path)
    return out


def render_text(d: dict[str, Any]) -> str:
    lines = [f"# {d.get('title') or '(no title)'}", f"source: {d['source']}"]
    for key in ("authors", "published", "language", "outlet", "syndicated_from", "image_credits"):
        value = d.get(key)
        if value:
            lines.append(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    lines += ["", d.get("body") or "(empty body)", ""]
    if d.get("comments"):
        lines.append(f"## comments ({len(d['comments'])})")
        for c in d["comments"]:
            lines.append(f"- {c.get('author') or '(anonymous)'}: {c['text']}")
        lines.append("")
    if d.get("removed"):
        lines.append(f"## removed ({len(d['removed'])})")
        for r in d["removed"]:
            lines.append(f"- [{r['rule']}] {r['text']}")
    return "\n".join(lines)


def clean_command(
    paths: Annotated[
        list[Path], typer.Argument(help="HTML or text files (.gz too) or directories.")
    ],
    url: Annotated[
        str | None, typer.Option("--url", help="The page's URL (metadata only).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="json | jsonl | text")] = "json",
) -> None:
    """Clean HTML or extracted text: body, comments, metadata and every removed span as JSON."""
    if format not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    files = expand_inputs(paths)
    if not files:
        _fail("no input files")
    several = len(files) > 1
    for path in files:
        try:
            d = result_dict(path, url)
        except OSError as exc:
            _fail(f"{path}: {exc.strerror or exc}")
        if format == "text":
            sys.stdout.write(render_text(d) + ("\n\n" if several else "\n"))
        elif format == "jsonl" or several:
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(json.dumps(d, ensure_ascii=False, indent=2) + "\n")
        sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add `clean` to the newswatch command line."""
    app.command("clean")(clean_command)
