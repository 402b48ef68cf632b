"""The `clean` command's contract, run as a real subprocess through a small Typer app."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cleaning"
REPO = Path(__file__).resolve().parent.parent.parent
APP = (
    "import typer\n"
    "from workers.cli_clean import register\n"
    "app = typer.Typer()\n"
    "@app.callback()\n"
    "def main() -> None: pass\n"
    "register(app)\n"
    "app()\n"
)
KEYS = {
    "title",
    "authors",
    "published",
    "language",
    "outlet",
    "body",
    "comments",
    "removed",
    "syndicated_from",
    "image_credits",
    "source",
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", APP, "clean", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_single_html_file_gives_one_json_object():
    p = run(str(FIXTURES / "en_wordpress.html"), "--url", "https://courier.example/x")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert set(d) >= KEYS
    assert d["title"] == "Harbour ferry service to resume next month"
    assert d["authors"] == ["Sam Keller"]
    assert d["comments"][0]["author"] == "Harriet Moss" and "text" in d["comments"][0]
    assert all(set(r) == {"rule", "text"} for r in d["removed"])
    assert d["source"].endswith("en_wordpress.html")
    assert "\n\n" in d["body"]


def test_directory_and_gz_give_json_lines_with_source(tmp_path: Path):
    shutil.copy(FIXTURES / "de_blog.txt", tmp_path / "a.txt")
    (tmp_path / "b.html.gz").write_bytes(
        gzip.compress((FIXTURES / "ru_itemprop.html").read_bytes())
    )
    p = run(str(tmp_path))
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [Path(r["source"]).name for r in rows] == ["a.txt", "b.html.gz"]
    assert rows[0]["language"] == "de" and rows[1]["language"] == "ru"
    assert rows[1]["comments"][0]["author"] == "Сергей Волков"


def test_text_format_and_several_files():
    p = run(str(FIXTURES / "fr_comments.txt"), str(FIXTURES / "es_news.txt"), "--format", "text")
    assert p.returncode == 0, p.stderr
    assert "# La ville ouvre une nouvelle bibliothèque dans le quartier nord" in p.stdout
    assert "- Jean Dupont: Enfin une bonne nouvelle" in p.stdout
    assert "[teaser]" in p.stdout


def test_missing_file_exits_2_with_message_on_stderr(tmp_path: Path):
    p = run(str(tmp_path / "nope.html"))
    assert p.returncode == 2
    assert "no such file" in p.stderr
    assert p.stdout == ""


def test_bad_format_exits_2():
    p = run(str(FIXTURES / "de_blog.txt"), "--format", "xml")
    assert p.returncode == 2
    assert "--format" in p.stderr


def test_truncated_gz_exits_2_naming_the_file(tmp_path: Path):
    whole = gzip.compress((FIXTURES / "en_wordpress.html").read_bytes())
    bad = tmp_path / "cut.html.gz"
    bad.write_bytes(whole[:500])
    p = run(str(bad), str(FIXTURES / "de_blog.txt"))
    # the same policy as a missing file: stop at once with exit 2 and a one-line message
    assert p.returncode == 2
    assert f"{bad}: corrupt gzip" in p.stderr
    assert "Aborted" not in p.stderr


def test_corrupt_gz_data_exits_2_naming_the_file(tmp_path: Path):
    whole = bytearray(gzip.compress((FIXTURES / "en_wordpress.html").read_bytes()))
    whole[100:200] = bytes(b ^ 0xFF for b in whole[100:200])
    bad = tmp_path / "flipped.html.gz"
    bad.write_bytes(bytes(whole))
    p = run(str(bad))
    assert p.returncode == 2
    assert f"{bad}: corrupt gzip" in p.stderr
    assert "Traceback" not in p.stderr
