"""NEWSWATCH_SMTP_URL parsed and checked: where alert email goes, without ever echoing secrets."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

# Never include the URL or a piece of it in an error: a password with an unencoded / ? # @ or :
# is cut into "host", "port" or "path" by the URL parser, and those pieces would end up in logs.
MALFORMED = (
    "NEWSWATCH_SMTP_URL is malformed: expected smtp[s]://[user[:password]@]host[:port][?starttls=1];"
    " percent-encode any / ? # @ or : in the user name or password"
)
OPTIONS = {"starttls", "tls"}
TRUE = ("1", "true", "yes", "on")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpTarget:
    """A parsed NEWSWATCH_SMTP_URL; `__repr__` never shows the password."""

    host: str
    port: int
    ssl: bool
    starttls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """The target of a URL; ValueError (naming no part of the URL) when it is not one."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
            host = parts.hostname
            query = parse_qs(parts.query, keep_blank_values=True)
        except ValueError:
            raise ValueError(MALFORMED) from None
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise ValueError("NEWSWATCH_SMTP_URL must start with smtp:// or smtps://")
        if not host or parts.path not in ("", "/") or parts.fragment or set(query) - OPTIONS:
            raise ValueError(MALFORMED)
        flag = query.get("starttls") or query.get("tls")
        # A bare "?starttls" turns it on too.
        starttls = scheme == "smtp" and flag is not None and flag[0].lower() in (*TRUE, "")
        username = unquote(parts.username) if parts.username else None
        if username and scheme == "smtp" and not starttls and not _loopback(host):
            # smtplib would send AUTH in clear text across the network whenever the server
            # offers it; a relay on this machine (loopback) is the one place that is harmless.
            raise ValueError(
                "NEWSWATCH_SMTP_URL has credentials but no TLS: use smtps:// or add ?starttls=1"
            )
        return cls(
            host=host,
            port=port or (465 if scheme == "smtps" else 587 if starttls else 25),
            ssl=scheme == "smtps",
            starttls=starttls,
            username=username,
            password=unquote(parts.password) if parts.password else None,
        )

    def describe(self) -> str:
        scheme = "smtps" if self.ssl else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"
