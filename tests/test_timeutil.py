"""Local wall time to UTC: one strict function for every form that takes a local time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.invalid import InvalidInput
from tracker.timeutil import local_to_utc

LONDON, SYDNEY = "Europe/London", "Australia/Sydney"


@pytest.mark.parametrize(
    ("wall", "tz", "expected"),
    [
        pytest.param(datetime(2026, 6, 15, 13, 0), LONDON, datetime(2026, 6, 15, 12, 0), id="bst"),
        pytest.param(datetime(2026, 1, 15, 13, 0), LONDON, datetime(2026, 1, 15, 13, 0), id="gmt"),
        # the hours either side of a change are ordinary times
        pytest.param(
            datetime(2026, 3, 29, 0, 59), LONDON, datetime(2026, 3, 29, 0, 59), id="pre-gap"
        ),
        pytest.param(
            datetime(2026, 3, 29, 2, 0), LONDON, datetime(2026, 3, 29, 1, 0), id="post-gap"
        ),
        pytest.param(
            datetime(2026, 10, 25, 0, 59), LONDON, datetime(2026, 10, 24, 23, 59), id="pre-fold"
        ),
        pytest.param(
            datetime(2026, 10, 25, 2, 0), LONDON, datetime(2026, 10, 25, 2, 0), id="post-fold"
        ),
        # UTC has no clock changes: London's gap and repeat are ordinary times there
        pytest.param(
            datetime(2026, 3, 29, 1, 30), "UTC", datetime(2026, 3, 29, 1, 30), id="utc-gap"
        ),
        pytest.param(
            datetime(2026, 10, 25, 1, 30), "UTC", datetime(2026, 10, 25, 1, 30), id="utc-fold"
        ),
        # Sydney: daylight saving (AEDT, UTC+11) in the southern summer, AEST (UTC+10) in winter
        pytest.param(datetime(2026, 1, 15, 9, 0), SYDNEY, datetime(2026, 1, 14, 22, 0), id="aedt"),
        pytest.param(datetime(2026, 6, 15, 9, 0), SYDNEY, datetime(2026, 6, 14, 23, 0), id="aest"),
    ],
)
def test_an_ordinary_wall_time_is_the_instant_it_names(wall, tz, expected):
    assert local_to_utc(wall, tz, field="at") == expected.replace(tzinfo=UTC)


LONDON_GAP = (
    "01:30 on 29 March 2026 does not exist in UK time: the clocks went forward. "
    "Choose another time."
)
LONDON_FOLD = (
    "01:30 on 25 October 2026 happens twice in UK time: the clocks went back, so it could "
    "be either. Choose a time just before or after the change."
)
REFUSED = {
    "london-gap": (datetime(2026, 3, 29, 1, 30), LONDON, LONDON_GAP),
    "london-fold": (datetime(2026, 10, 25, 1, 30), LONDON, LONDON_FOLD),
    "sydney-gap": (datetime(2026, 10, 4, 2, 30), SYDNEY, "02:30 on 4 October 2026 does not exist"),
    "sydney-fold": (datetime(2026, 4, 5, 2, 30), SYDNEY, "02:30 on 5 April 2026 happens twice"),
    "year-1": (datetime(1, 1, 1, 0, 0), SYDNEY, "Check the year: give a date from 2000 onwards."),
}


@pytest.mark.parametrize(("wall", "tz", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_a_time_the_clocks_skipped_or_repeated_is_refused_for_its_field(wall, tz, message):
    with pytest.raises(InvalidInput) as refused:
        local_to_utc(wall, tz, field="treated_at")
    assert list(refused.value.fields) == ["treated_at"]
    assert refused.value.fields["treated_at"].startswith(message)


def test_an_aware_time_is_a_programming_error_not_a_wall_time():
    with pytest.raises(ValueError, match="naive"):
        local_to_utc(datetime(2026, 6, 15, 13, 0, tzinfo=UTC), LONDON, field="at")
