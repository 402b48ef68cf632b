"""`newswatch clean PATH...`: run the cleaner on local HTML or text files and print JSON."""

from __future__ import annotations

import codecs
import json
import sys
import zlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer

# Bounded reads: one page is never this big. trafilatura itself gives up on anything larger
# (its MAX_FILE_SIZE), which would come out as an empty body.
MAX_INPUT_BYTES = 20_000_000
STDIN = "-"
# A NUL byte this early is what git and grep take for binary: text and HTML never carry one,
# except UTF-16/32, which is told apart by its byte order mark (see as_document).
SNIFF_BYTES = 8192
# Formats that may show no NUL in their first bytes (PDF opens with a text header; a tiny
# archive may happen to lack one) but are never a page.
BINARY_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"%PDF-",
    b"PK\x03\x04",  # zip, and docx, odt, epub built on it
    b"PK\x05\x06",  # empty zip
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",  # zstd
    b"\x7fELF",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # OLE2: doc, xls
)
# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
TEXT_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _plural(n: int, word: str, many: str) -> str:
    return f"{n} {word if n == 1 else many}"


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files named directly, '-' for stdin, and every file directly inside a named directory
    except hidden and .json ones. What a directory holds besides is skipped, and counted on
    stderr."""
    files: list[Path] = []
    for p in paths:
        if str(p) == STDIN:
            # stdin can be read once: a second '-' would be an empty document
            if any(str(f) == STDIN for f in files):
                _fail("'-' (stdin) given more than once")
            files.append(p)
        elif p.is_dir():
            subdirs = hidden = json_files = other = 0
            for f in sorted(p.iterdir()):
                if f.is_dir():
                    subdirs += 1  # one level only: a tree of pages is named folder by folder
                elif f.name.startswith("."):
                    # .DS_Store, .gitignore and the like are not pages; named directly they are read
                    hidden += 1
                elif f.suffix.lower() == ".json":
                    # clean's own output, or gold answers beside pages: a "page" titled "{"
                    json_files += 1
                elif f.is_file():
                    files.append(f)
                else:
                    other += 1  # sockets, FIFOs, broken links
            skipped = [
                _plural(n, word, many)
                for n, word, many in (
                    (subdirs, "subdirectory", "subdirectories"),
                    (hidden, "hidden file", "hidden files"),
                    (json_files, ".json file", ".json files"),
                    (other, "entry that is not a file", "entries that are not files"),
                )
                if n
            ]
            if skipped:
                typer.echo(
                    f"note: {p}: skipped {', '.join(skipped)} (not read; name a file to clean it)",
                    err=True,
                )
        elif p.is_file():
            files.append(p)
        elif p.exists():
            _fail(f"{p}: not a regular file (a device, FIFO or socket)")
        else:
            _fail(f"no such file or directory: {p}")
    return files


def read_input(path: Path) -> bytes:
    """The document's bytes, gunzipped; at most MAX_INPUT_BYTES from a file or stdin."""
    if str(path) == STDIN:
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        with path.open("rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        _fail(f"{path}: larger than {MAX_INPUT_BYTES} bytes")
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        from cleaning import gunzip_bounded

        try:
            data = gunzip_bounded(data, MAX_INPUT_BYTES + 1)
        # A truncated stream raises EOFError, which Click would take for Ctrl-D and print only
        # "Aborted."; corrupt data raises zlib.error, which is no OSError either.
        except (EOFError, zlib.error) as exc:
            _fail(f"{path}: corrupt gzip ({exc or type(exc).__name__})")
        if len(data) > MAX_INPUT_BYTES:
            _fail(f"{path}: larger than {MAX_INPUT_BYTES} bytes")
    return data


def as_document(path: Path, data: bytes) -> bytes | str:
    """The input as the cleaner takes it; an image, archive or program stops the run, as a
    missing file or corrupt gzip does, rather than coming out as a body of mojibake."""
    for bom, encoding in TEXT_BOMS:
        if data.startswith(bom):
            # The cleaner guesses among 8-bit encodings only: UTF-16/32 is decoded here.
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    if b"\x00" in data[:SNIFF_BYTES] or data.startswith(BINARY_MAGIC):
        _fail(f"{path}: not a text or HTML document")
    return data


def result_dict(path: Path, url: str | None) -> dict[str, Any]:
    document = as_document(path, read_input(path))
    # Imported here, once the input is known to be one: the cleaner loads trafilatura and the
    # language model, which the rest of the command line never needs.
    from cleaning import clean

    article = clean(document, url=url)
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


class CleanFormat(StrEnum):
    json = "json"
    jsonl = "jsonl"
    text = "text"


def check_url(url: str | None) -> None:
    """--url becomes the article's canonical URL when the page names none: http(s) only."""
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        _fail(f"--url must be an absolute http(s) URL, not {url!r}")


def clean_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="HTML or text files (.gz too), directories, or '-' for stdin."),
    ],
    url: Annotated[
        str | None, typer.Option("--url", help="The page's URL (metadata only).")
    ] = None,
    format: Annotated[
        CleanFormat, typer.Option("--format", "-f", help="One JSON object, JSON lines, or text.")
    ] = CleanFormat.json,
) -> None:
    """Clean HTML or extracted text: body, comments, metadata and every removed span as JSON."""
    check_url(url)
    files = expand_inputs(paths)
    if not files:
        _fail("no input files")
    several = len(files) > 1
    for path in files:
        try:
            d = result_dict(path, url)
        except OSError as exc:
            _fail(f"{path}: {exc.strerror or exc}")
        if not d.get("body"):
            # Still printed (its metadata and removed spans may be what was asked for), but an
            # empty body must not pass for a result.
            typer.echo(f"warning: {path}: no article text found", err=True)
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
