"""How times and durations read on the pages."""

from datetime import UTC, datetime

import pytest

from tracker.templating import format_elapsed, format_hours, format_local


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (0.2, "less than an hour"),
        (1, "about 1 hour"),
        (5.4, "about 5 hours"),
        (47.4, "about 47 hours"),
        (49, "about 2 days"),
        (96, "about 4 days"),
    ],
)
def test_elapsed_time_reads_like_a_person_says_it(hours, text):
    assert format_elapsed(hours) == text


@pytest.mark.parametrize(
    ("hours", "text"), [(48, "2 days"), (72, "3 days"), (36, "36 hours"), (24, "24 hours")]
)
def test_expected_duration_reads_in_days_when_whole(hours, text):
    assert format_hours(hours) == text


def test_utc_time_is_shown_in_the_viewers_timezone():
    moment = datetime(2026, 3, 29, 8, 30, tzinfo=UTC)
    assert format_local(moment, "Europe/London", "%H:%M") == "09:30"
    assert format_local(moment, "Australia/Sydney", "%d %H:%M") == "29 19:30"


def test_every_strftime_code_is_written_and_words_come_from_the_language():
    moment = datetime(2026, 11, 24, 9, 5, 7, tzinfo=UTC)
    assert format_local(moment, "Europe/London", "%H:%M:%S %j") == "09:05:07 328"
    assert format_local(moment, "Europe/London", "%a %d %b %Y at %H:%M %Z") == (
        "Tue 24 Nov 2026 at 09:05 UK time"
    )
