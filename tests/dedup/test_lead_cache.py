"""The per-process cache of story-candidate leads: right tokens, bounded, and no texts pinned."""

from __future__ import annotations

import sys

import pytest

from storage import dedup
from storage import minhash as mh

PARA = (
    "Полиция Калининграда сообщила во вторник о задержании двух человек после пожара "
    "на складе в порту, где хранились удобрения и техника местного перевозчика."
)


def body(n: int) -> str:
    # A unique, long body (about 20,000 characters, like a story candidate's lead).
    return f"{PARA} Выпуск {n}.\n\n" + "\n\n".join([PARA] * 80)


@pytest.fixture(autouse=True)
def small_cache(monkeypatch):
    monkeypatch.setattr(dedup, "LEAD_CACHE_SIZE", 3)
    dedup._lead_cache.clear()
    yield
    dedup._lead_cache.clear()


def test_tokens_are_the_leads_and_an_edit_is_redone():
    text = body(1)
    first = dedup._lead_tokens(7, "Пожар в порту", text)
    assert first == mh.lead_tokens("Пожар в порту", text)
    assert dedup._lead_tokens(7, "Пожар в порту", text) is first  # served from the cache
    edited = text.replace("Выпуск 1.", "Выпуск 1. Обновлено: задержан третий подозреваемый.")
    assert dedup._lead_tokens(7, "Пожар в порту", edited) != first


def test_cache_is_bounded_and_does_not_keep_the_text_alive():
    text = body(2)
    refs = sys.getrefcount(text)
    dedup._lead_tokens(1, "Пожар", text)
    # lru_cache keyed on the text held it (and 4,096 of them in a worker); the key is hashes.
    assert sys.getrefcount(text) == refs
    for n in range(10):
        dedup._lead_tokens(100 + n, "Пожар", body(100 + n))
    assert len(dedup._lead_cache) == 3
    assert all(isinstance(part, int) for key in dedup._lead_cache for part in key)
