"""Canonical URLs: one spelling per article, whatever tracking parameters or variants a link carries."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url

# Query parameters that only say where a click came from; they never select different content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "ysclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "igsh",
        "twclid",
        "ttclid",
        "li_fat_id",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "_openstat",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "cmpid",
        "ncid",
        "ocid",
        "sr_share",
        "ref_src",
        "ref_url",
        "smid",
        "ito",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "amp",
        "amp_js_v",
        "usqp",
        "outputtype",
        # newsroom campaign tags: the Guardian, NYT, BBC, Webtrends, Yahoo's consent redirect
        "cmp",
        "intcmp",
        "partner",
        "emc",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "wt.mc_id",
        "wt.tsrc",
        "mbid",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "taid",
        "fromrss",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "__twitter_impression")
# Host prefixes of mobile and AMP mirrors of the same site.
_MIRROR_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.", "mob.", "touch.")
_AMP_SEGMENTS = frozenset({"amp", "amp.html"})
_AMP_SUFFIX = re.compile(r"(?:\.amp(?=\.html?$|$)|/amp\.html?$)", re.IGNORECASE)
_MAX_URL_LEN = 4096
# A servlet session in the path ("/story;jsessionid=ABC"): one page per visitor otherwise.
_SESSION_PARAM = re.compile(r"(?:;|%3B)jsessionid=[^/?#]*", re.IGNORECASE)
# Google's AMP cache serves a page at https://<site-with-dashes>.cdn.ampproject.org/c/s/<host>/<path>
_AMP_CACHE_PATH = re.compile(r"^/(?:c|v|i)/(?:s/)?(?P<host>[^/]+)(?P<path>/.*)?$")


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def _strip_host(host: str) -> str:
    # Repeat because some sites stack them ("www.m.example.com", "amp.m.example.com").
    changed = True
    while changed:
        changed = False
        for prefix in _MIRROR_HOST_PREFIXES:
            rest = host[len(prefix) :]
            if host.startswith(prefix) and "." in rest:
                host, changed = rest, True
    return host


def _strip_amp_path(path: str) -> str:
    segments = [s for s in path.split("/") if s.lower() not in _AMP_SEGMENTS]
    path = "/".join(segments) or "/"
    path = _AMP_SUFFIX.sub("", path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path or "/"


def canonical_url(url: str) -> str:
    """Normalise a link to its canonical form (lower-case host, no fragment, no tracking params).

    Mirrors of one page collapse to the same string: `m.`/`mobile.`/`amp.`/`www.` hosts,
    `/amp/` path segments, `.amp` suffixes, `?amp=1`, http vs https and trailing slashes.
    """
    raw = url.strip()[:_MAX_URL_LEN]
    if not raw:
        return raw
    if raw.startswith("//"):
        raw = "https:" + raw
    try:
        normal = normalize_url(raw)
    except (ValueError, AttributeError):
        normal = raw
    try:
        parts = urlsplit(normal)
    except ValueError:
        return raw
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return normal
    cached = _AMP_CACHE_PATH.match(parts.path or "")
    if parts.hostname.lower().endswith(".cdn.ampproject.org") and cached:
        # the AMP cache's copy is the site's own page
        inner = f"https://{cached.group('host')}{cached.group('path') or '/'}"
        return canonical_url(inner + (f"?{parts.query}" if parts.query else ""))
    host = _strip_host(parts.hostname.lower().rstrip("."))
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query.sort()
    # https is the canonical scheme: news sites serve the same page on both.
    path = _SESSION_PARAM.sub("", parts.path or "/")
    return urlunsplit(("https", netloc, _strip_amp_path(path), urlencode(query), ""))


def url_hash(canonical: str) -> str:
    """A fixed-length key for a canonical URL, used in the articles' unique constraint."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
