"""Pure near-duplicate maths: text tokens, word shingles, MinHash signatures and LSH band keys."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

# Body index: 128 permutations in 32 bands of 4 rows. P(candidate) is 0.87 at Jaccard 0.5,
# 0.99 at 0.6, 0.05 at 0.2 and 0.0002 at 0.05 (unrelated news), so copies padded with another
# outlet's boilerplate or paragraphs (Jaccard 0.5-0.7, containment >= 0.8) are still found.
NUM_PERM = 128
BANDS = 32
ROWS = 4
SEED = 1
# Word bigrams. Longer shingles punish edits (each edited word kills k shingles: a 10% edit
# leaves Jaccard < 0.5 on 5-shingles); single words let a shared boilerplate block make two
# short articles look alike. Measured on the bench's labelled set: see bench/dedup.py.
SHINGLE_K = 2
# The copy measure is the resemblance max(Jaccard, containment of the smaller text in the
# larger): a syndicated copy is the original plus a byline, a footer or an added paragraph.
# Containment only counts when the texts are of comparable size, so a brief quoted inside
# a long roundup does not make the roundup its copy.
MIN_SIZE_RATIO = 0.5

# Story index: title + lead content words, a loose match (Jaccard ~0.2-0.35), so 40 bands of
# 2 rows: P(candidate) is 0.81 at 0.2, 0.98 at 0.3 and 0.02 at 0.02 (unrelated leads).
LEAD_PERM = 80
LEAD_BANDS = 40
LEAD_ROWS = 2
LEAD_SEED = 7
LEAD_WORDS = 60

MAX_TEXT_CHARS = 400_000  # bound the work on absurd pages
_WORD = re.compile(r"\w+", re.UNICODE)
_SIG_DTYPE = np.dtype("<u4")

# Frequent words of at least four letters (shorter ones are dropped anyway) in the
# outlets' main languages; they would make every lead look alike.
_STOPWORD_TEXT = """
    that with from this have were will said would their there been they which about after
    also more than when into over what some other could year years says told just like
    first last only such them then these those while where most many much being because
    before under again still even very here your ours week today since made make does
    nicht eine einer eines einem einen dass sich wird auch oder nach über sind wurde werden
    haben diese dieser dieses noch mehr schon wenn aber beim sein seine ihre ihrer
    dans pour avec sont mais plus leur être cette comme elle sera
    этого также после более которые который была было были будет есть только чтобы того
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def words(text: str) -> list[str]:
    """Case-folded word tokens of a text (NFKC, so typographic variants compare equal)."""
    norm = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS]).casefold()
    return _WORD.findall(norm)


def shingles(tokens: list[str], k: int = SHINGLE_K) -> set[bytes]:
    """The set of k-word shingles (a short text is one shingle)."""
    if not tokens:
        return set()
    if len(tokens) <= k:
        return {" ".join(tokens).encode("utf-8")}
    return {" ".join(tokens[i : i + k]).encode("utf-8") for i in range(len(tokens) - k + 1)}


@lru_cache(maxsize=4)
def _template(num_perm: int, seed: int) -> Any:
    # Imported on first use: datasketch pulls in scipy.integrate (~1 s), which CLI commands
    # that never hash a text should not pay for.
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=seed)


def signature(items: Iterable[bytes], *, num_perm: int = NUM_PERM, seed: int = SEED) -> np.ndarray:
    """MinHash signature (uint32 array) of a set of byte strings."""
    tpl = _template(num_perm, seed)
    m = type(tpl)(num_perm=num_perm, seed=seed, permutations=tpl.permutations, scheme=tpl.scheme)
    batch = list(items)
    if batch:
        m.update_batch(batch)
    return np.asarray(m.hashvalues, dtype=_SIG_DTYPE)


def body_signature(text: str) -> np.ndarray:
    """MinHash of the body's word shingles, with the shingle count appended as a last value."""
    sh = shingles(words(text))
    return np.append(signature(sh), np.asarray([min(len(sh), 2**32 - 1)], dtype=_SIG_DTYPE))


def to_bytes(sig: np.ndarray) -> bytes:
    """Serialise a signature as little-endian uint32 (never pickle)."""
    return np.asarray(sig, dtype=_SIG_DTYPE).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_SIG_DTYPE)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Share of equal MinHash values: an unbiased estimate of the Jaccard similarity."""
    n = min(len(a), len(b))
    if n == 0:
        return 0.0
    return float(np.count_nonzero(a[:n] == b[:n])) / n


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Resemblance of two body signatures: max(Jaccard, containment) for comparable sizes.

    Containment comes from the Jaccard estimate and the set sizes:
    |A∩B| = J (|A| + |B|) / (1 + J).
    """
    n = NUM_PERM
    j = estimated_jaccard(a[:n], b[:n])
    if len(a) <= n or len(b) <= n:
        return j
    na, nb = int(a[n]), int(b[n])
    if not na or not nb or min(na, nb) / max(na, nb) < MIN_SIZE_RATIO:
        return j
    contained = j * (na + nb) / (1 + j) / min(na, nb)
    return min(1.0, max(j, contained))


def exact_similarity(a: str, b: str) -> float:
    """The resemblance that `similarity` estimates, computed on the texts themselves."""
    return set_similarity(shingle_set(a), shingle_set(b))


def shingle_set(text: str) -> set[bytes]:
    """The shingles a body signature is built from (reusable across several comparisons)."""
    return shingles(words(text))


def set_similarity(sa: set[bytes], sb: set[bytes]) -> float:
    """max(Jaccard, containment) of two shingle sets, as `similarity` estimates it."""
    if not sa or not sb:
        return 0.0
    inter = len(sa & sb)
    j = inter / len(sa | sb)
    if min(len(sa), len(sb)) / max(len(sa), len(sb)) < MIN_SIZE_RATIO:
        return j
    return max(j, inter / min(len(sa), len(sb)))


# An index key is (band << BUCKET_BITS) | bucket: one integer column, so a lookup is one
# `key IN (...)` probe per band, and each band (and the story index, bands >= 1000) is a
# contiguous key range. Bands stay below 2**15, so keys are positive signed 64-bit integers.
BUCKET_BITS = 48
MAX_BAND = 2**15 - 1
_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place on a fresh uint64 array: a bijection that spreads bits."""
    x ^= x >> _U64(30)
    x *= _MIX1
    x ^= x >> _U64(27)
    x *= _MIX2
    x ^= x >> _U64(31)
    return x


def band_keys_many(
    sigs: np.ndarray, *, bands: int = BANDS, rows: int = ROWS, first_band: int = 0, salt: int = 0
) -> np.ndarray:
    """Index keys of many signatures at once: an int64 array of shape (len(sigs), bands).

    Vectorised (no per-band Python loop), so a bulk rebuild of a million articles takes seconds.
    """
    if not (first_band >= 0 and first_band + bands - 1 <= MAX_BAND):
        raise ValueError("band numbers must lie in [0, 2**15)")
    raw = np.asarray(sigs, dtype=_SIG_DTYPE)
    if raw.ndim != 2 or raw.shape[1] < bands * rows:
        raise ValueError(f"signatures need at least {bands * rows} values")
    vals = raw[:, : bands * rows].reshape(len(raw), bands, rows).astype(_U64)
    band_ids = np.arange(first_band, first_band + bands, dtype=_U64)
    seed = _mix64(band_ids * _GOLDEN + _U64(salt % 2**64))
    h = np.broadcast_to(seed, (len(raw), bands))
    for r in range(rows):
        h = _mix64(h ^ (vals[:, :, r] + _GOLDEN))  # a fresh array each round
    keys = (band_ids << _U64(BUCKET_BITS)) | (h >> _U64(64 - BUCKET_BITS))
    return keys.astype(np.int64)


def band_keys(
    sig: np.ndarray, *, bands: int = BANDS, rows: int = ROWS, first_band: int = 0, salt: int = 0
) -> list[int]:
    """Index keys of one signature, one per band (positive; fit BIGINT everywhere)."""
    one = np.asarray(sig, dtype=_SIG_DTYPE).reshape(1, -1)
    return band_keys_many(one, bands=bands, rows=rows, first_band=first_band, salt=salt)[0].tolist()


def band_range(first_band: int, bands: int) -> tuple[int, int]:
    """The [low, high) key range that holds bands first_band .. first_band + bands - 1."""
    return first_band << BUCKET_BITS, (first_band + bands) << BUCKET_BITS


def lead_tokens(title: str | None, body: str, *, max_words: int = LEAD_WORDS) -> frozenset[str]:
    """Content words of the title and the lead: what a story's coverage shares."""
    # The first real paragraph: bylines, datelines and kickers are short lines above it.
    paras = (words(p) for p in body[:20000].split("\n\n"))
    lead = next((w for w in paras if len(w) >= 15), None) or words(body[:5000])
    lead = lead[:max_words]
    toks = words(title or "") + lead
    return frozenset(t for t in toks if (len(t) >= 4 or t.isdigit()) and t not in STOPWORDS)


def lead_signature(tokens: Iterable[str]) -> np.ndarray:
    return signature((t.encode("utf-8") for t in tokens), num_perm=LEAD_PERM, seed=LEAD_SEED)


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)
