"""The stored publication time: the page's date, made precise by the feed's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workers.pipeline import best_published, parse_iso

FEED = datetime(2024, 3, 8, 9, 5, tzinfo=UTC)


def test_a_page_date_without_time_takes_the_feeds_hour() -> None:
    # Two outlets' pages both say 2024-03-08; their feeds say 09:05 and 17:25. Midnight for
    # both would tie, and the first one processed would count as the first publisher.
    assert best_published("2024-03-08", feed_published=FEED, stored=None) == FEED
    late = FEED.replace(hour=17, minute=25)
    assert best_published("2024-03-08", feed_published=late, stored=None) == late


def test_naive_feed_times_from_sqlite_are_utc() -> None:
    naive = FEED.replace(tzinfo=None)
    assert best_published("2024-03-08", feed_published=naive, stored=None) == FEED


def test_a_feed_time_on_another_day_does_not_replace_the_page_date() -> None:
    # the day before or after is a time-zone difference; a week off is a feed re-dating old news
    assert best_published("2024-03-09", feed_published=FEED, stored=None) == FEED
    week_later = FEED + timedelta(days=7)
    assert best_published("2024-03-08", feed_published=week_later, stored=None) == datetime(
        2024, 3, 8, tzinfo=UTC
    )


def test_a_page_time_wins_and_is_stored_in_utc() -> None:
    got = best_published("2024-03-08T12:00:00+03:00", feed_published=FEED, stored=None)
    assert got == datetime(2024, 3, 8, 9, 0, tzinfo=UTC) and got.utcoffset() == timedelta(0)
    assert parse_iso("2024-03-08T12:00:00+03:00") == datetime(2024, 3, 8, 9, tzinfo=UTC)
    assert parse_iso("2024-03-08T12:00:00-05:00").tzinfo == UTC


def test_no_page_date_keeps_what_was_known() -> None:
    stored = datetime(2024, 3, 1, tzinfo=UTC)
    assert best_published(None, feed_published=FEED, stored=stored) == stored
    assert best_published("not a date", feed_published=FEED, stored=None) == FEED
    assert best_published(None, feed_published=None, stored=None) is None
