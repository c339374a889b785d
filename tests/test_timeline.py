"""The timeline's days: each symptom's severity per local day over the follow-up window, the
expected band, and which days went on longer than expected."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.builders import TREATED_AT
from tracker.catalogue import DEFAULT_SCHEDULE
from tracker.extensions import db
from tracker.models import Symptom
from tracker.rules import Observation, Report, SymptomRule
from tracker.services.flags.timeline import Band, build_timeline, lay_out
from tracker.services.patients.checkins import SymptomEntry, record_checkin


def test_a_day_reported_as_none_is_never_longer_than_expected(make_patient):
    # Bruising (72 hours) from day 1 to a "none" on day 5: days 4 ran past, day 5 said none.
    _, treatment = make_patient()
    for day, severity in ((1, 1), (5, 0)):
        at = TREATED_AT + timedelta(days=day)
        record_checkin(treatment, [SymptomEntry("bruising", severity)], reported_at=at, now=at)
    db.session.commit()
    bruising = db.session.query(Symptom).filter_by(code="bruising").all()
    now = TREATED_AT + timedelta(days=6)
    row = build_timeline(treatment, bruising, "Europe/London", now).row("bruising")
    assert [(c.day, c.severity, c.over_expected) for c in row.cells[:7]] == [
        (0, None, False),
        (1, 1, False),
        (2, None, False),
        (3, None, False),
        (4, None, True),
        (5, 0, False),
        (6, None, False),
    ]


# --- the pure layout, table-driven -----------------------------------------------------------

LONDON = "Europe/London"
BRUISING = SymptomRule("bruising", "expected", 72)
HEADACHE = SymptomRule("headache", "expected", 48)
DROOPING = SymptomRule("eyelid_drooping", "review", None)  # no expected duration


def tokens(row, days: int) -> str:
    """The first `days` cells as tokens: 0-4 a severity, `c` carried, `.` no check-in, `f` to
    come; `!` longer than expected, `b` inside the expected band."""
    out = []
    for cell in row.cells[:days]:
        if cell.severity is not None:
            token = str(cell.severity)
        else:
            token = "c" if cell.carried else "f" if cell.is_future else "."
        out.append(token + ("b" if cell.in_band else "") + ("!" if cell.over_expected else ""))
    return " ".join(out)


def at(day: int, hour: int = 10, minute: int = 0, base=TREATED_AT) -> datetime:
    return base.replace(hour=0, minute=0) + timedelta(days=day, hours=hour, minutes=minute)


CASES = [
    pytest.param(
        BRUISING,
        LONDON,
        TREATED_AT,
        [(at(1), 1), (at(5), 0)],
        at(6),
        ". 1b cb cb cb! 0 . f",
        [Band(1, 4)],
        6,
        id="a-none-day-is-never-longer-than-expected",
    ),
    pytest.param(
        BRUISING,
        LONDON,
        TREATED_AT,
        [(at(1), 2), (at(2), 3), (at(5), 1)],
        at(5, 12),
        ". 2b 3b cb cb! 1! f f",
        [Band(1, 4)],
        5,
        id="carried-and-reported-days-past-the-band-are-longer-than-expected",
    ),
    pytest.param(
        HEADACHE,
        LONDON,
        TREATED_AT,
        [(at(1), 1), (at(2), 0), (at(4), 2)],
        at(4, 12),
        ". 1b 0b .b 2b fb fb f",
        [Band(1, 3), Band(4, 6)],
        4,
        id="two-episodes-two-bands-and-the-days-to-come",
    ),
    pytest.param(
        HEADACHE,
        LONDON,
        TREATED_AT,
        [(at(1, 8), 2), (at(1, 20), 0)],
        at(2),
        ". 2b .b fb f f",
        [Band(1, 3)],
        2,
        id="a-day-with-a-report-then-none-shows-its-worst",
    ),
    pytest.param(
        DROOPING,
        LONDON,
        TREATED_AT,
        [(at(1), 2), (at(10), 2)],
        at(12),
        ". 2 c c c c c c c c 2 c c f",
        [],
        12,
        id="no-expected-duration-no-band-never-longer-than-expected",
    ),
    pytest.param(
        # Clocks go forward at 01:00 UTC on 29 March: 23:30 UTC that day is 00:30 on the 30th.
        HEADACHE,
        LONDON,
        datetime(2026, 3, 28, 23, 30, tzinfo=UTC),
        [
            (datetime(2026, 3, 29, 22, 30, tzinfo=UTC), 1),
            (datetime(2026, 3, 29, 23, 30, tzinfo=UTC), 2),
        ],
        datetime(2026, 3, 30, 0, tzinfo=UTC),
        ". 1b 2b fb f",
        [Band(1, 3)],
        2,
        id="spring-clock-change-moves-the-late-check-in-to-the-next-day",
    ),
    pytest.param(
        # Clocks go back at 01:00 UTC on 25 October: treated 00:30 BST on the 25th (day 0); 23:30
        # UTC that evening is 23:30 GMT, still day 0.
        HEADACHE,
        LONDON,
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
        [(datetime(2026, 10, 25, 23, 30, tzinfo=UTC), 1)],
        datetime(2026, 10, 26, 1, tzinfo=UTC),
        "1b cb fb f",
        [Band(0, 2)],
        1,
        id="autumn-clock-change-keeps-the-late-check-in-on-its-day",
    ),
    pytest.param(
        # Treated 09:00 in Sydney on 3 March (22:00 UTC on the 2nd); 14:00 UTC is 01:00 there.
        HEADACHE,
        "Australia/Sydney",
        datetime(2026, 3, 2, 22, tzinfo=UTC),
        [(datetime(2026, 3, 3, 14, tzinfo=UTC), 3)],
        datetime(2026, 3, 3, 20, tzinfo=UTC),
        ". 3b fb fb f",
        [Band(1, 3)],
        1,
        id="a-timezone-far-from-the-uk-counts-its-own-days",
    ),
]


@pytest.mark.parametrize(
    ("symptom", "tz", "treated_at", "reports", "now", "expected", "bands", "today"), CASES
)
def test_days_bands_and_longer_than_expected(
    symptom, tz, treated_at, reports, now, expected, bands, today
):
    history = [Observation(when, (Report(symptom.code, sev),)) for when, sev in reports]
    timeline = lay_out(SimpleNamespace(treated_at=treated_at), [symptom], history, tz, now)
    row = timeline.row(symptom.code)
    assert tokens(row, len(expected.split())) == expected
    assert row.bands == bands
    assert timeline.today == today
    assert len(row.cells) == DEFAULT_SCHEDULE.window_days + 1  # the whole window, to come too
    assert [c.is_future for c in row.cells] == [c.day > today for c in row.cells]


def test_the_days_are_the_patients_local_dates_with_noon_for_showing_them():
    treated_at = datetime(2026, 3, 2, 22, tzinfo=UTC)
    history = [Observation(datetime(2026, 3, 3, 14, tzinfo=UTC), (Report("headache", 1),))]
    timeline = lay_out(
        SimpleNamespace(treated_at=treated_at),
        [HEADACHE],
        history,
        "Australia/Sydney",
        datetime(2026, 3, 4, tzinfo=UTC),
    )
    first = timeline.row("headache").cells[0]
    assert first.date == date(2026, 3, 3)
    assert first.noon == datetime(2026, 3, 3, 1, tzinfo=UTC)  # 12:00 AEDT (UTC+11)
    assert timeline.days[:2] == [(0, date(2026, 3, 3)), (1, date(2026, 3, 4))]


def test_symptoms_never_reported_have_no_row_and_check_in_days_are_known():
    history = [Observation(at(1), (Report("headache", 0),)), Observation(at(2), ())]
    timeline = lay_out(SimpleNamespace(treated_at=TREATED_AT), [HEADACHE], history, LONDON, at(3))
    assert timeline.rows == []
    assert timeline.checkin_days == {1, 2}
