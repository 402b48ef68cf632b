"""Logs mask secrets in messages and arguments without breaking numeric formatting."""

from __future__ import annotations

import logging

import pytest

from workers.logs import JsonFormatter, MaskingFilter, mask_secrets


def test_urls_and_key_values_are_masked() -> None:
    text = mask_secrets(
        "broker redis://:sentinel-77@h:6379/0 smtp://u:sentinel-78@m password=sentinel-79"
    )
    assert "sentinel" not in text
    assert "redis://:***@h:6379/0" in text


def test_filter_keeps_numbers_formattable(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "HTTP %s %d via %s",
        ("GET", 200, "redis://:sentinel-80@h/0"),
        None,
    )
    assert MaskingFilter().filter(record)
    message = record.getMessage()
    assert message.startswith("HTTP GET 200 via redis://:***@h/0")
    assert "sentinel" not in JsonFormatter().format(record)
