"""`newswatch clean`: '-' reads stdin, a directory says what it skipped, binary input is refused."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

from tests.servers import NEWSWATCH

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cleaning"
TITLE = "Die Stadt plant neue Radwege am Fluss"  # de_blog.txt's


def clean(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [NEWSWATCH, "clean", *args], input=stdin, capture_output=True, timeout=120
    )


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + b"\xff\x00\x00" * 8) * 8)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def zip_of_text() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("page.txt", (FIXTURES / "de_blog.txt").read_text(encoding="utf-8"))
    return buf.getvalue()


def test_dash_reads_the_document_from_stdin() -> None:
    page = (FIXTURES / "de_blog.txt").read_bytes()
    p = clean("-", stdin=page)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["title"] == TITLE and d["language"] == "de" and d["source"] == "-"

    # gzip on stdin too, and beside a file: JSON Lines with each input's source
    p = clean(str(FIXTURES / "es_news.txt"), "-", stdin=gzip.compress(page))
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["source"] for r in rows][1] == "-" and rows[1]["title"] == TITLE

    # stdin holds one document: naming it twice is an error, not an empty second result
    p = clean("-", "-", stdin=page)
    assert p.returncode == 2 and p.stdout == b""
    assert b"more than once" in p.stderr


def test_directory_reports_the_entries_it_skips(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "de_blog.txt", tmp_path / "a.txt")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("inside a subdirectory", encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    # a gold answer beside its page, or clean's own earlier output: not a page
    (tmp_path / "a.gold.json").write_text('{"title": "x"}', encoding="utf-8")
    p = clean(str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["source"].endswith("a.txt")  # the one document, as before
    assert p.stderr.decode().strip() == (
        f"note: {tmp_path}: skipped 1 subdirectory, 1 hidden file, 1 .json file "
        "(not read; name a file to clean it)"
    )


def test_binary_input_is_not_a_document(tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(png())
    archive = tmp_path / "pages.zip"
    archive.write_bytes(zip_of_text())
    packed = tmp_path / "photo.png.gz"
    packed.write_bytes(gzip.compress(png()))
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
    for path in (image, archive, packed, pdf):
        p = clean(str(path))
        # the policy for a missing file or corrupt gzip: one line, exit 2, nothing on stdout
        assert p.returncode == 2, (path, p.stdout[:200])
        assert p.stderr.decode() == f"error: {path}: not a text or HTML document\n"
        assert p.stdout == b""

    # ...and it stops the run there, after what came before it, as corrupt gzip does
    p = clean(str(FIXTURES / "de_blog.txt"), str(image), str(FIXTURES / "es_news.txt"))
    assert p.returncode == 2
    assert [json.loads(line)["title"] for line in p.stdout.splitlines()] == [TITLE]
    assert p.stderr.decode() == f"error: {image}: not a text or HTML document\n"

    p = clean("-", stdin=png())
    assert p.returncode == 2 and p.stderr.decode() == "error: -: not a text or HTML document\n"


def test_utf16_text_is_text_not_binary(tmp_path: Path) -> None:
    # UTF-16 has a NUL in every ASCII character; its byte order mark tells it from binary.
    page = tmp_path / "page.html"
    html = (FIXTURES / "en_wordpress.html").read_text(encoding="utf-8")
    page.write_bytes(html.encode("utf-16"))
    p = clean(str(page), "--url", "https://courier.example/x")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["title"] == "Harbour ferry service to resume next month"
    assert d["authors"] == ["Sam Keller"]


def test_a_device_or_fifo_is_not_a_missing_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in ("/dev/null", str(fifo)):
        proc = clean(target)
        assert proc.returncode == 2
        assert (
            proc.stderr.decode().strip()
            == f"error: {target}: not a regular file (a device, FIFO or socket)"
        )


def test_an_empty_body_is_printed_with_a_warning(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    proc = clean(str(empty))
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["body"] == ""
    assert proc.stderr.decode().strip() == f"warning: {empty}: no article text found"
    # a real page says nothing
    assert clean(str(FIXTURES / "de_blog.txt")).stderr == b""


def test_a_page_past_the_extractors_limit_is_refused(tmp_path: Path) -> None:
    """trafilatura gives up on pages over 20 MB: such a page used to come out as an empty body."""
    big = tmp_path / "big.html"
    paragraph = b"<p>" + b"The council met again to discuss the budget. " * 20 + b"</p>\n"
    big.write_bytes(b"<html><body><article>" + paragraph * (20_000_001 // len(paragraph) + 1))
    proc = clean(str(big))
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == f"error: {big}: larger than 20000000 bytes"


def test_url_must_be_http_and_format_has_a_short_form() -> None:
    page = str(FIXTURES / "de_blog.txt")
    for bad in ("notaurl", "javascript:alert(1)", "ftp://example.org/x", "http://"):
        proc = clean(page, "--url", bad)
        assert proc.returncode == 2, bad
        assert proc.stderr.decode().startswith("error: --url must be an absolute http(s) URL")
    proc = clean(page, "-f", "text", "--url", "https://example.org/radwege")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith(f"# {TITLE}")
