"""Alert emails: subject, parts, sparkline PNG, escaping, safe links and no header injection."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import SMTP, default

from alerts.render import (
    ArticleSummary,
    message_id_for,
    render_alert,
    safe_url,
    sparkline_png,
    subject_for,
)
from alerts.terms import compile_terms

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOTE = {
    "time": "2024-05-01T11:00:00Z",
    "kind": "fired",
    "window": 6,
    "window_seconds": 6 * 3600,
    "observed": 34,
    "expected": 4.857,
    "ratio": 7.0,
    "p_value": 1.2e-9,
    "threshold": 5e-5,
    "outlets": 7,
    "burst_start": "2024-05-01T06:00:00Z",
    "baseline_share": 0.0021,
    "baseline_days": 28,
    "dispersion": 0.05,
    "rule": "nb-tail",
}


def _render(**kw):
    args = dict(
        watch_id="sarmat",
        label="Sarmat",
        note=NOTE,
        series=[1, 0, 2, 1, 9, 12],
        expected=[1, 1, 1, 1, 1, 1],
        articles=[
            ArticleSummary(
                title="<script>alert(1)</script> Sarmat test",
                url="https://example.org/a?x=1&y=2",
                outlet="tass",
                time=NOW,
                text="Russia tested the Sarmat missile <b>today</b>.",
                copies=2,
            ),
            ArticleSummary(
                title="Evil link", url="javascript:alert(1)", outlet="x", time=None, text="Сармат"
            ),
        ],
        recipients=["analyst@example.org"],
        mail_from="newswatch <alerts@news.example>",
        matcher=compile_terms(["Sarmat*", "Сармат*"]),
        interval_start=datetime(2024, 5, 1, 11, tzinfo=UTC),
        now=NOW,
    )
    args.update(kw)
    return render_alert(**args)


def test_subject_format() -> None:
    assert subject_for("Sarmat", NOTE) == "Sarmat: 34 articles in 6 h, 7× usual"
    assert subject_for("Sarmat", {**NOTE, "kind": "escalated", "ratio": 14.2}).endswith(
        "14× usual (rising)"
    )
    assert "back to usual" in subject_for("Sarmat", {"kind": "resolved"})
    # every article of a narrow outlet filter on the term: no multiplier of nothing
    none = {**NOTE, "ratio": None, "expected": 0.0, "observed": 8, "window_seconds": 3600}
    assert subject_for("Kaliningrad", none) == "Kaliningrad: 8 articles in 1 h, usually none"


def test_multipart_with_inline_png_and_headers() -> None:
    r = _render()
    raw = r.as_bytes()
    msg = message_from_bytes(raw, policy=default)
    assert msg["Subject"] == "Sarmat: 34 articles in 6 h, 7× usual"
    assert (
        msg["Message-ID"]
        == r.message_id
        == message_id_for("sarmat", "fired", datetime(2024, 5, 1, 11, tzinfo=UTC), "news.example")
    )
    assert "mailto:alerts@news.example" in msg["List-Unsubscribe"]
    types = [p.get_content_type() for p in msg.walk()]
    assert types[:2] == ["multipart/alternative", "text/plain"]
    assert "text/html" in types and "image/png" in types
    png = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert png["Content-ID"] == "<sparkline>"
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert 'src="cid:sparkline"' in html
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "newswatch watches mute sarmat --for 3d" in text
    assert "*Sarmat*" in text and "(+2 copies)" in text
    assert "Observed 34 articles" in text  # the subject's count, in the subject's words
    # Same input, same bytes apart from MIME boundaries: the id is deterministic.
    assert _render().message_id == r.message_id


def test_everything_is_escaped_and_links_are_http_only() -> None:
    msg = message_from_bytes(_render().as_bytes(), policy=default)
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;today&lt;/b&gt;" in html
    assert "javascript:" not in html
    assert 'href="https://example.org/a?x=1&amp;y=2"' in html
    assert "<strong>Sarmat</strong>" in html and "<strong>Сармат</strong>" in html
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "javascript:" not in text


def test_header_injection_is_impossible() -> None:
    evil = "Sarmat\r\nBcc: victim@example.org\r\n\r\nbody"
    r = _render(label=evil, recipients=["a@example.org\r\nBcc: x@example.org"], watch_id="w\nX: y")
    raw = r.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = [
        line.split(b":", 1)[0].lower()
        for line in head.split(b"\r\n")
        if line and not line[:1].isspace()
    ]
    assert b"bcc" not in names and b"x" not in names
    msg = message_from_bytes(raw, policy=SMTP)
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]


def test_safe_url() -> None:
    assert safe_url("https://a.example/x") == "https://a.example/x"
    for bad in (
        "javascript:alert(1)",
        "data:text/html,x",
        "//a.example",
        "https://a.example/\r\nX",
        "ftp://a",
    ):
        assert safe_url(bad) is None


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos = 8
    chunks = {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks[tag] = body
        pos += 12 + length
    w, h = struct.unpack(">II", chunks[b"IHDR"][:8])
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == h * (w + 1)
    assert b"IEND" in chunks
    return w, h


def test_sparkline_is_a_valid_png() -> None:
    assert _png_size(sparkline_png([0, 1, 5, 2], [1, 1, 1, 1])) == (16, 40)
    assert _png_size(sparkline_png([])) == (4, 40)


def test_why_names_the_trade_between_the_two_tests() -> None:
    msg = message_from_bytes(
        _render(note={**NOTE, "rule": "nb-tail-trade"}).as_bytes(), policy=default
    )
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "hours just before the window" in text
    assert "far beyond its long-run share" in text


def test_recipients_do_not_see_each_other_and_the_chart_is_inline() -> None:
    many = _render(recipients=["a@desk.example", "b@client.example"])
    mail = message_from_bytes(many.as_bytes(), policy=default)
    assert "a@desk.example" not in mail["To"] and "b@client.example" not in mail["To"]
    assert mail["To"] == "undisclosed-recipients:;"
    one = message_from_bytes(_render(recipients=["a@desk.example"]).as_bytes(), policy=default)
    assert one["To"] == "a@desk.example"
    (image,) = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert image.get_content_disposition() == "inline" and image["Content-ID"] == "<sparkline>"


def test_a_term_only_in_the_title_is_shown_highlighted() -> None:
    title_only = ArticleSummary(
        title="Kaliningrad blockade tightens",
        url="https://example.org/k",
        outlet="tass",
        time=NOW,
        text="Officials met on Monday to discuss the port and its rail links.",
    )
    r = _render(articles=[title_only], matcher=compile_terms(["Kaliningrad"]))
    mail = message_from_bytes(r.as_bytes(), policy=default)
    html = mail.get_body(preferencelist=("html",)).get_content()
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "<strong>Kaliningrad</strong> blockade tightens" in html
    assert "*Kaliningrad* blockade tightens" in text


def test_list_unsubscribe_goes_where_someone_reads_it() -> None:
    from alerts.render import list_unsubscribe

    sender = "alerts@news.example"
    assert list_unsubscribe(None, "kgd", sender) == (
        "<mailto:alerts@news.example?subject=unsubscribe%20kgd>"
    )
    assert list_unsubscribe("mailto:desk@news.example", "kgd", sender) == (
        "<mailto:desk@news.example?subject=unsubscribe%20kgd>"
    )
    both = list_unsubscribe("https://news.example/stop?watch={watch}", "nord stream", sender)
    assert both.startswith("<https://news.example/stop?watch=nord%20stream>, <mailto:")
    # never a link of another scheme, never a header break
    assert "javascript" not in list_unsubscribe("javascript:alert(1)", "kgd", sender)
    assert "\n" not in list_unsubscribe("mailto:a@b.example\nBcc: x@y.example", "kgd", sender)
    # the digest of held alerts carries the same header
    from alerts.render import HeldAlert, render_digest

    digest = render_digest(
        watch_id="kgd",
        label="Kaliningrad",
        parts=[HeldAlert("one", "a"), HeldAlert("two", "b")],
        recipients=["a@desk.example", "b@client.example"],
        mail_from="newswatch <alerts@news.example>",
        now=NOW,
        key="x",
        unsubscribe_url="mailto:desk@news.example",
    )
    mail = message_from_bytes(digest.as_bytes(), policy=default)
    assert mail["List-Unsubscribe"].startswith("<mailto:desk@news.example")
    assert mail["To"] == "undisclosed-recipients:;"


def test_article_times_are_in_the_watchs_own_zone_when_it_has_one() -> None:
    berlin = message_from_bytes(_render(zone="Europe/Berlin").as_bytes(), policy=default)
    text = berlin.get_body(preferencelist=("plain",)).get_content()
    assert "2024-05-01 14:00 CEST" in text  # NOW is 12:00 UTC
    plain = message_from_bytes(_render().as_bytes(), policy=default)
    assert "2024-05-01 12:00 UTC" in plain.get_body(preferencelist=("plain",)).get_content()


def test_a_digest_keeps_each_alerts_html_and_chart() -> None:
    """Held alerts used to reach the digest as plain text: no chart, no highlights, no links."""
    from alerts.render import held_alert, render_digest

    first = _render()
    second = _render(
        note={**NOTE, "kind": "escalated", "ratio": 14.2},
        series=[1, 0, 2, 1, 9, 30],
        interval_start=datetime(2024, 5, 1, 12, tzinfo=UTC),
    )
    held = [held_alert(r.subject, r.as_bytes()) for r in (first, second)]
    assert all(h.html_body and h.sparkline and h.sparkline.startswith(b"\x89PNG") for h in held)
    digest = render_digest(
        watch_id="sarmat",
        label="Sarmat",
        parts=held,
        recipients=["analyst@example.org"],
        mail_from="newswatch <alerts@news.example>",
        now=NOW,
        key="k",
    )
    mail = message_from_bytes(digest.as_bytes(), policy=default)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"== {first.subject} ==" in text and f"== {second.subject} ==" in text
    page = mail.get_body(preferencelist=("html",)).get_content()
    assert page.count("<section>") == 2 and "<strong>Sarmat</strong>" in page
    assert 'src="cid:sparkline-1"' in page and 'src="cid:sparkline-2"' in page
    assert "&lt;script&gt;" in page and "<script" not in page  # still escaped
    images = {p["Content-ID"]: p.get_content() for p in mail.walk() if p["Content-ID"]}
    assert sorted(images) == ["<sparkline-1>", "<sparkline-2>"]
    assert images["<sparkline-1>"] != images["<sparkline-2>"]
    assert all(p.get_content_disposition() == "inline" for p in mail.walk() if p["Content-ID"])


def test_titles_and_snippets_take_their_own_direction() -> None:
    page = message_from_bytes(_render().as_bytes(), policy=default)
    html_text = page.get_body(preferencelist=("html",)).get_content()
    assert html_text.count('<span dir="auto">') == 4  # two articles: title and snippet each
