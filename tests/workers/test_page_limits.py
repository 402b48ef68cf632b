"""A page served as a .gz file is held to the client's size cap once unpacked, not to the
cleaner's own 32 MB default."""

from __future__ import annotations

import gzip
from pathlib import Path

from sources.http import HttpClient
from storage.db import make_engine
from tests.conftest import run_cli
from tests.fixtures.feeds.localserver import LocalServer
from tests.workers.test_robots_unreachable import new_article
from workers.pipeline import fetch_and_clean

CAP = 128 * 1024


def test_a_gzip_file_as_the_body_is_unpacked_only_up_to_the_clients_cap(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    run_cli(["db", "upgrade"], {"NEWSWATCH_DATA_DIR": str(data)})
    engine = make_engine(f"sqlite:///{data / 'newswatch.db'}")
    # distinct paragraphs: trafilatura would merge repeated ones into one
    paragraphs = "".join(
        f"<p>The council met again on day {i} to debate item {i * 7} of the budget. "
        f"Members asked for {i} more reports before the vote on section {i + 3}.</p>\n"
        for i in range(6000)
    )
    page = ("<html><head><title>Budget</title></head><body><article>" + paragraphs).encode()
    packed = gzip.compress(page)
    assert len(packed) < CAP < len(page) // 5  # within the cap as sent, far over it unpacked
    with LocalServer() as site:
        site.static("/robots.txt", b"User-agent: *\nAllow: /\n")
        url = site.static("/a.html", packed, headers={"Content-Type": "text/html"})
        art_id = new_article(engine, url)
        client = HttpClient(
            user_agent="newswatch-test/1.0",
            allowed_networks=["127.0.0.1/32"],
            deadline=10.0,
            max_bytes=CAP,
        )
        try:
            result = fetch_and_clean(engine, art_id, client=client, outlets={})
        finally:
            client.close()
    assert isinstance(result, tuple), result
    _, _, cleaned = result
    assert cleaned.body.startswith("The council met again")  # it was read as the page it is
    assert len(cleaned.body.encode()) <= CAP
    engine.dispose()
