"""Alert emails, pure: subject, text and HTML parts, an inline sparkline PNG, safe headers."""

from __future__ import annotations

import hashlib
import html
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any
from urllib.parse import quote, urlsplit

from alerts.terms import Matcher

MAX_ARTICLES = 10
SNIPPET_CHARS = 240
_CTRL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


@dataclass(frozen=True)
class ArticleSummary:
    """One story in the email (duplicates already merged into `copies`)."""

    title: str
    url: str
    outlet: str
    time: datetime | None
    text: str = ""
    copies: int = 0


@dataclass(frozen=True)
class HeldAlert:
    """One alert held during quiet hours, as the digest reuses it: its subject and parts."""

    subject: str
    text: str
    html_body: str | None = None  # the inside of its HTML part's <body>, as rendered here
    sparkline: bytes | None = None


_BODY_RE = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)


def held_alert(subject: str, raw: bytes) -> HeldAlert:
    """Split a rendered alert (as stored in the outbox) into the parts a digest reuses."""
    msg = BytesParser(policy=SMTP).parsebytes(raw)
    plain = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    rich = msg.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
    inner = None
    if rich is not None:
        found = _BODY_RE.search(rich.get_content())
        inner = found.group(1) if found else None
    image = None
    for part in msg.walk():
        if part.get("Content-ID", "").strip() == "<sparkline>":
            image = part.get_content()
            break
    return HeldAlert(
        subject=subject,
        text=plain.get_content() if plain is not None else "",
        html_body=inner,
        sparkline=image if isinstance(image, bytes) else None,
    )


@dataclass(frozen=True)
class RenderedAlert:
    message_id: str
    subject: str
    message: EmailMessage

    def as_bytes(self) -> bytes:
        return self.message.as_bytes(policy=SMTP)


def header_safe(value: str, limit: int = 300) -> str:
    """One line, no control characters: header injection is impossible by construction."""
    return _CTRL.sub(" ", value or "").strip()[:limit]


def safe_url(url: str | None) -> str | None:
    """Only absolute http(s) links survive (no javascript:, data:, mailto: in article links)."""
    if not url:
        return None
    url = url.strip()
    if _CTRL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def message_id_for(watch_id: str, kind: str, interval_start: datetime, domain: str) -> str:
    """Deterministic Message-ID: the same alert always gets the same id (idempotent outbox)."""
    key = f"{watch_id}|{kind}|{interval_start.astimezone(UTC).isoformat()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    dom = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "newswatch.invalid"
    return f"<alert-{digest}@{dom}>"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "new"
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×".replace(".0×", "×")


def _hours(seconds: int) -> str:
    h = seconds / 3600
    return f"{h:.0f} h" if h >= 1 and h == int(h) else f"{seconds // 60} min"


def subject_for(label: str, note: dict) -> str:
    kind = note.get("kind")
    if kind == "resolved":
        return header_safe(f"{label}: coverage back to usual")
    n = int(note.get("observed", 0))
    noun = "article" if n == 1 else "articles"
    base = f"{label}: {n} {noun} in {_hours(int(note.get('window_seconds', 3600)))}"
    ratio = note.get("ratio")
    if ratio is not None:
        base += f", {_fmt_ratio(ratio)} usual"
    elif float(note.get("expected") or 0.0) < 0.05:
        base += ", usually none"  # no multiplier of nothing
    if kind == "escalated":
        base = f"{base} (rising)"
    return header_safe(base)


# -- sparkline --------------------------------------------------------------------------------


def sparkline_png(values: Sequence[float], expected: Sequence[float] | None = None) -> bytes:
    """A small bar chart as PNG, written with zlib + struct (palette: bg, bars, last, expected)."""
    vals = [max(0.0, float(v)) for v in values][-96:] or [0.0]
    exp = [max(0.0, float(v)) for v in (expected or [])][-len(vals) :]
    bar_w, height = 4, 40
    width = bar_w * len(vals)
    top = max(max(vals), max(exp) if exp else 0.0, 1.0)
    rows = [bytearray(width) for _ in range(height)]  # palette index 0 = background
    for i, v in enumerate(vals):
        h = round(v / top * (height - 1))
        color = 2 if i == len(vals) - 1 else 1
        for y in range(height - h, height):
            for x in range(i * bar_w, i * bar_w + bar_w - 1):
                rows[y][x] = color
    offset = len(vals) - len(exp)
    for j, e in enumerate(exp):
        y = height - 1 - round(e / top * (height - 1))
        for x in range((j + offset) * bar_w, (j + offset) * bar_w + bar_w):
            rows[max(0, min(height - 1, y))][x] = 3
    raw = b"".join(b"\x00" + bytes(r) for r in rows)  # filter type 0 per scanline
    palette = bytes([255, 255, 255, 120, 144, 180, 200, 40, 40, 60, 60, 60])

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)  # 8-bit palette
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"PLTE", palette)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


# -- body -------------------------------------------------------------------------------------


def snippet(text: str, matcher: Matcher | None, limit: int = SNIPPET_CHARS) -> tuple[str, list]:
    """A window of text around the first match, with match spans relative to the snippet."""
    text = _CTRL.sub(" ", text or "")
    spans = matcher.spans(text) if matcher else []
    if spans:
        first = spans[0][0]
        start = max(0, first - limit // 3)
    else:
        start = 0
    end = min(len(text), start + limit)
    piece = text[start:end]
    rel = [(a - start, b - start) for a, b in spans if a >= start and b <= end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    rel = [(a + len(prefix), b + len(prefix)) for a, b in rel]
    return prefix + piece + suffix, rel


def to_header(recipients: Sequence[str], from_addr: str) -> str:
    """The To header. Recipients of one watch may be strangers to each other (several desks,
    clients): with more than one, the addresses travel only in the SMTP envelope, as with Bcc."""
    clean = [header_safe(r, 254) for r in recipients if "@" in r]
    if len(clean) == 1:
        return clean[0]
    return "undisclosed-recipients:;" if clean else from_addr


def list_unsubscribe(target: str | None, watch_id: str, from_addr: str) -> str:
    """The List-Unsubscribe header: an https page and/or a mailto an operator reads.

    `target` is NEWSWATCH_UNSUBSCRIBE_URL: "mailto:ADDRESS" or an http(s) URL in which
    "{watch}" becomes the watch id. Without one the request goes to the sender's address.
    """
    mail_to = from_addr
    url = None
    if target and target.startswith("mailto:"):
        addr = parseaddr(header_safe(target.removeprefix("mailto:"), 254))[1]
        mail_to = addr if "@" in addr else from_addr
    elif target:
        url = safe_url(target.replace("{watch}", quote(watch_id, safe="")))
    parts = [f"<mailto:{mail_to}?subject={quote('unsubscribe ' + watch_id)}>"]
    if url:
        parts.insert(0, f"<{url}>")
    return ", ".join(parts)


def article_snippet(a: ArticleSummary, matcher: Matcher | None) -> tuple[str, list]:
    """The snippet of an article: around the term in its text, or its title when only the
    title names the term (the text's opening would show no highlighted term at all)."""
    if matcher is not None and a.text and not matcher.spans(a.text) and matcher.spans(a.title):
        return snippet(a.title, matcher)
    return snippet(a.text or a.title, matcher)


def _highlight_html(text: str, spans: list) -> str:
    out, pos = [], 0
    for a, b in spans:
        if a < pos:
            continue
        out.append(html.escape(text[pos:a]))
        out.append(f"<strong>{html.escape(text[a:b])}</strong>")
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _highlight_text(text: str, spans: list) -> str:
    out, pos = [], 0
    for a, b in spans:
        if a < pos:
            continue
        out.append(text[pos:a])
        out.append(f"*{text[a:b]}*")
        pos = b
    out.append(text[pos:])
    return "".join(out)


def _when(dt: datetime | None, zone: str | None = None) -> str:
    """A time for the reader: in the watch's own zone when it has one (its quiet hours name
    it), else UTC; the zone's abbreviation is always shown."""
    if dt is None:
        return "time unknown"
    if zone and zone != "UTC":
        from zoneinfo import ZoneInfo

        return dt.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _level_phrase(rule: str) -> str:
    """What the decisive test compared against, in words."""
    if rule == "nb-tail-level":
        return "at the term's level of the hours just before the window"
    if rule == "nb-tail-trade":
        return (
            "at the term's level of the hours just before the window, and far beyond its "
            "long-run share"
        )
    if rule == "nb-tail-share":
        return "at the term's long-run share"
    return "under the usual level"


def _against(expected: float) -> str:
    # "0.0 expected" reads as a bug; below a twentieth of an article it is "almost none".
    return (
        " against almost none expected."
        if expected < 0.05
        else f" against {expected:.1f} expected."
    )


def _why(note: dict) -> list[str]:
    if note.get("kind") == "resolved":
        return [
            f"The burst that started {note.get('burst_start', '?')} has been quiet for a while."
        ]
    share = float(note.get("baseline_share") or 0.0)
    p = float(note.get("p_value") or 0.0)
    p_text = f"{p:.2g}" if p > 0 else "< 1e-300"
    lines = [
        f"Observed {note.get('observed')} articles (copies of one story counted once) in the last {_hours(int(note.get('window_seconds', 3600)))}"
        + _against(float(note.get("expected") or 0.0)),
        f"Baseline: the term's usual share of all ingested articles ({share:.3%}) over the "
        f"previous {note.get('baseline_days', 28)} days (the last day and past alerts left out),"
        f" times the articles ingested in the window.",
        f"Test: {note.get('rule', 'nb-tail')} — probability of this many or more "
        f"{_level_phrase(str(note.get('rule', 'nb-tail')))} {p_text} < threshold "
        f"{note.get('threshold')}"
        f" (negative binomial, dispersion {note.get('dispersion', 0)}).",
    ]
    if note.get("outlets") is not None:
        lines.append(f"Distinct outlets in the window: {note['outlets']}.")
    return lines


def render_alert(
    *,
    watch_id: str,
    label: str,
    note: dict,
    series: Sequence[float],
    expected: Sequence[float] | None,
    articles: Sequence[ArticleSummary],
    recipients: Sequence[str],
    mail_from: str,
    matcher: Matcher | None = None,
    interval_start: datetime,
    now: datetime,
    unsubscribe_url: str | None = None,
    zone: str | None = None,
) -> RenderedAlert:
    """Build the multipart email for one notification of a watch (times in `zone`, else UTC)."""
    from_name, from_addr = parseaddr(header_safe(mail_from))
    if "@" not in from_addr:
        from_addr = "newswatch@localhost"
    domain = from_addr.rsplit("@", 1)[1]
    mid = message_id_for(watch_id, str(note.get("kind")), interval_start, domain)
    subject = subject_for(header_safe(label, 80), note)
    mute_cmd = f"newswatch watches mute {watch_id} --for 3d"

    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((header_safe(from_name, 80), from_addr))
    msg["To"] = to_header(recipients, from_addr)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = mid
    msg["X-Newswatch-Watch"] = header_safe(watch_id, 64)
    msg["X-Newswatch-Kind"] = header_safe(str(note.get("kind")), 16)
    msg["List-Unsubscribe"] = list_unsubscribe(unsubscribe_url, watch_id, from_addr)

    top = list(articles)[:MAX_ARTICLES]
    why = _why(note)
    text_lines = [subject, ""]
    text_lines += why
    text_lines += ["", "Top stories:" if top else "No stories to show."]
    for a in top:
        snip, spans = article_snippet(a, matcher)
        link = safe_url(a.url) or "(link withheld: not http/https)"
        copies = f" (+{a.copies} {'copy' if a.copies == 1 else 'copies'})" if a.copies else ""
        text_lines += [
            f"- {header_safe(a.title, 300)}{copies}",
            f"  {header_safe(a.outlet, 64)}, {_when(a.time, zone)}",
            f"  {link}",
            f"  {_highlight_text(snip, spans)}",
        ]
    text_lines += ["", f"To mute this watch for three days: {mute_cmd}"]
    msg.set_content("\n".join(text_lines) + "\n", cte="quoted-printable")

    png = sparkline_png(series, expected)
    esc = html.escape
    items = []
    for a in top:
        snip, spans = article_snippet(a, matcher)
        href = safe_url(a.url)
        title = esc(header_safe(a.title, 300)) or "(untitled)"
        head = f'<a href="{esc(href, quote=True)}">{title}</a>' if href else title
        copies = (
            f" <small>(+{a.copies} {'copy' if a.copies == 1 else 'copies'})</small>"
            if a.copies
            else ""
        )
        # dir="auto": an Arabic or Hebrew title reads right to left inside a left-to-right mail
        items.append(
            f'<li><p><span dir="auto">{head}</span>{copies}<br>'
            f"<small>{esc(header_safe(a.outlet, 64))}, {esc(_when(a.time, zone))}</small><br>"
            f'<span dir="auto">{_highlight_html(snip, spans)}</span></p></li>'
        )
    body_html = (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<h2>{esc(subject)}</h2>"
        '<p><img src="cid:sparkline" alt="mentions per interval" '
        'style="image-rendering:pixelated"></p>'
        "<p>"
        + "<br>".join(esc(x) for x in why)
        + "</p>"
        + (f"<ol>{''.join(items)}</ol>" if items else "<p>No stories to show.</p>")
        + f"<p><small>To mute this watch for three days: <code>{esc(mute_cmd)}</code></small></p>"
        "</body></html>"
    )
    msg.add_alternative(body_html, subtype="html", cte="quoted-printable")
    html_part: Any = msg.get_payload()[1]  # type: ignore[index]
    # inline, not attachment: some clients list an attachment even when the HTML shows it
    html_part.add_related(
        png,
        maintype="image",
        subtype="png",
        cid="<sparkline>",
        filename="sparkline.png",
        disposition="inline",
    )
    return RenderedAlert(mid, subject, msg)


def render_digest(
    *,
    watch_id: str,
    label: str,
    parts: Sequence[HeldAlert],
    recipients: Sequence[str],
    mail_from: str,
    now: datetime,
    key: str,
    unsubscribe_url: str | None = None,
) -> RenderedAlert:
    """One message collecting alerts held during quiet hours, each with its text and HTML."""
    from_name, from_addr = parseaddr(header_safe(mail_from))
    if "@" not in from_addr:
        from_addr = "newswatch@localhost"
    domain = from_addr.rsplit("@", 1)[1]
    digest = hashlib.sha256(f"{watch_id}|digest|{key}".encode()).hexdigest()[:24]
    mid = f"<digest-{digest}@{re.sub(r'[^A-Za-z0-9.-]', '', domain)}>"
    subject = header_safe(f"{label}: {len(parts)} alerts held during quiet hours")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((header_safe(from_name, 80), from_addr))
    msg["To"] = to_header(recipients, from_addr)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = mid
    msg["X-Newswatch-Watch"] = header_safe(watch_id, 64)
    msg["X-Newswatch-Kind"] = "digest"
    msg["List-Unsubscribe"] = list_unsubscribe(unsubscribe_url, watch_id, from_addr)
    blocks = [f"== {header_safe(p.subject)} ==\n{p.text.strip()}\n" for p in parts]
    msg.set_content("\n".join(blocks), cte="quoted-printable")
    if not any(p.html_body for p in parts):
        return RenderedAlert(mid, subject, msg)
    esc = html.escape
    sections = []
    images: list[tuple[str, bytes]] = []
    for k, p in enumerate(parts, 1):
        if p.html_body is None:
            # Every alert rendered here has an HTML part, but the outbox is data: text as text.
            inner = f"<h2>{esc(header_safe(p.subject))}</h2><pre>{esc(p.text.strip())}</pre>"
        else:
            # Each alert's sparkline gets its own Content-ID inside the digest.
            inner = p.html_body.replace('src="cid:sparkline"', f'src="cid:sparkline-{k}"')
            if p.sparkline is not None:
                images.append((f"sparkline-{k}", p.sparkline))
        sections.append(f"<section>{inner}</section>")
    body_html = (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<h1>{esc(subject)}</h1>" + "<hr>".join(sections) + "</body></html>"
    )
    msg.add_alternative(body_html, subtype="html", cte="quoted-printable")
    html_part: Any = msg.get_payload()[1]  # type: ignore[index]
    for cid, png in images:
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{cid}>",
            filename=f"{cid}.png",
            disposition="inline",
        )
    return RenderedAlert(mid, subject, msg)
