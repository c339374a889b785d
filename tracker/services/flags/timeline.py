"""A treatment's symptoms day by day over the follow-up window, against their expected duration,
for the patient's timeline, the check-in and answer pages, and the clinician's case page.

`build_timeline` reads the rows; `lay_out` is the pure part (plain data in, plain data out, `now`
passed in) that the tests drive directly. Days are the patient's local calendar dates (day 0:
the treatment's date), so clock changes and timezones far from the UK move no check-in to
another day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from ... import rules
from ...catalogue import DEFAULT_SCHEDULE
from ...models import Symptom, Treatment
from ...timeutil import day_number, hours, local_date
from .course_chart import CourseChart, draw
from .flagging import load_catalogues, load_histories


class Treated(Protocol):
    """What the timeline needs from a treatment."""

    treated_at: datetime


class Expected(Protocol):
    """What the timeline needs from a catalogue symptom (a `Symptom` row, or a rule)."""

    code: str
    expected_hours: float | None


@dataclass(frozen=True)
class DayCell:
    """One symptom on one day of the follow-up window.

    `severity` is the worst reported that day, None without a check-in (or a day to come).
    `in_episode`: the symptom was present (reported, or carried over a day without a check-in).
    `in_band`: the day lies within an episode's expected duration, from its start.
    `over_expected`: the symptom was present that day past its expected duration; never on a
    day it was reported as none.
    """

    day: int
    date: date
    noon: datetime
    severity: int | None
    in_episode: bool
    over_expected: bool
    in_band: bool = False
    is_future: bool = False

    @property
    def carried(self) -> bool:
        """No check-in that day, but the symptom was still going."""
        return self.severity is None and self.in_episode


@dataclass(frozen=True)
class Band:
    """An episode's expected duration as days of the treatment, first and last included."""

    first_day: int
    last_day: int


@dataclass
class SymptomDays:
    """One symptom's row of the timeline, and where its latest episode stands."""

    symptom: Expected
    cells: list[DayCell] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    ongoing: rules.Episode | None = None
    ongoing_hours: float = 0
    is_over_expected: bool = False

    @property
    def has_expected(self) -> bool:
        """Whether the catalogue gives this symptom an expected duration (a band to draw)."""
        return bool(self.symptom.expected_hours)

    @property
    def worst(self) -> int:
        """The highest severity reported on any day."""
        return max((c.severity for c in self.cells if c.severity is not None), default=0)

    @property
    def over_days(self) -> list[DayCell]:
        """The days the symptom went on past its expected duration."""
        return [c for c in self.cells if c.over_expected]


@dataclass
class Timeline:
    """Every symptom reported after one treatment, over the follow-up window (day 0 onwards).

    `today` is the day of the treatment it is now where the patient is (it may lie past the
    window); `checkin_days` the days with a check-in.
    """

    treatment: Treated
    days: list[tuple[int, date]]
    rows: list[SymptomDays]
    checkin_days: set[int]
    today: int = 0
    window_days: int = DEFAULT_SCHEDULE.window_days

    def row(self, code: str) -> SymptomDays | None:
        """The row of one symptom, if it was ever reported."""
        return next((r for r in self.rows if r.symptom.code == code), None)

    def chart(self, row: SymptomDays) -> CourseChart:
        """Where the marks of `row`'s expected-course chart go."""
        return draw(row, self.today, self.window_days)


def build_timeline(
    treatment: Treatment, symptoms: list[Symptom], tz_name: str, now: datetime
) -> Timeline:
    """Lay the treatment's check-ins out by local day for each symptom ever reported."""
    catalogue = load_catalogues([treatment.clinic_id])[treatment.clinic_id]
    history = load_histories([treatment.id], catalogue.codes)[treatment.id]
    return lay_out(treatment, symptoms, history, tz_name, now)


def lay_out(
    treatment: Treated,
    symptoms: Sequence[Expected],
    history: Sequence[rules.Observation],
    tz_name: str,
    now: datetime,
    window_days: int = DEFAULT_SCHEDULE.window_days,
) -> Timeline:
    """The timeline of the check-ins (in time order) up to `now`, for the symptoms reported."""
    history = [c for c in history if c.reported_at <= now]
    today = day_number(treatment.treated_at, now, tz_name)
    first_date = local_date(treatment.treated_at, tz_name)
    days = [(n, first_date + timedelta(days=n)) for n in range(window_days + 1)]
    by_day: dict[int, list[rules.Observation]] = {}
    for checkin in history:
        by_day.setdefault(
            day_number(treatment.treated_at, checkin.reported_at, tz_name), []
        ).append(checkin)
    reported = {r.code for c in history for r in c.reports if r.severity >= 1}
    context = _Context(treatment.treated_at, tz_name, now, today, by_day, days)
    rows = [
        _symptom_days(symptom, rules.episodes_of(symptom.code, history), context)
        for symptom in symptoms
        if symptom.code in reported
    ]
    return Timeline(treatment, days, rows, set(by_day), today, window_days)


@dataclass(frozen=True)
class _Context:
    treated_at: datetime
    tz_name: str
    now: datetime
    today: int
    by_day: dict[int, list[rules.Observation]]
    days: list[tuple[int, date]]


def _symptom_days(symptom: Expected, episodes: list[rules.Episode], ctx: _Context) -> SymptomDays:
    row = SymptomDays(symptom)
    expected = timedelta(hours=symptom.expected_hours) if symptom.expected_hours else None
    spans = []
    for episode in episodes:
        start = local_date(episode.started_at, ctx.tz_name)
        end = local_date(episode.ended_at or ctx.now, ctx.tz_name)
        over_from = None  # the local day its expected duration ran out, if it went beyond it
        if expected:
            runs_out = episode.started_at + expected
            row.bands.append(
                Band(
                    day_number(ctx.treated_at, episode.started_at, ctx.tz_name),
                    day_number(ctx.treated_at, runs_out, ctx.tz_name),
                )
            )
            if episode.duration(ctx.now) > expected:
                over_from = local_date(runs_out, ctx.tz_name)
        spans.append((start, end, over_from))
    zone = ZoneInfo(ctx.tz_name)
    for n, day in ctx.days:
        checkins = ctx.by_day.get(n)
        severity = max(c.severity_of(symptom.code) for c in checkins) if checkins else None
        span = next((s for s in spans if s[0] <= day <= s[1]), None)
        present = span is not None and (severity is None or severity >= 1)
        over = bool(present and span and span[2] and day >= span[2])
        in_band = any(b.first_day <= n <= b.last_day for b in row.bands)
        noon = datetime.combine(day, time(12), zone).astimezone(UTC)
        row.cells.append(DayCell(n, day, noon, severity, present, over, in_band, n > ctx.today))
    if episodes and episodes[-1].is_ongoing:
        row.ongoing = episodes[-1]
        row.ongoing_hours = hours(episodes[-1].duration(ctx.now))
        row.is_over_expected = bool(expected and episodes[-1].duration(ctx.now) > expected)
    return row


def treatment_day(treatment: Treatment, now: datetime, tz_name: str) -> int:
    """Which day after the treatment it is where the patient is (day 0: treatment day)."""
    return day_number(treatment.treated_at, now, tz_name)
