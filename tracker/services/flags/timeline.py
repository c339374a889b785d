"""A treatment's symptoms day by day against their expected duration, for the patient's pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ... import rules
from ...catalogue import DEFAULT_SCHEDULE
from ...models import Symptom, Treatment
from ...timeutil import day_number, hours, local_date
from .flagging import load_catalogues, load_histories


@dataclass(frozen=True)
class DayCell:
    """One symptom on one day: the worst severity reported that day (None: no check-in)."""

    day: int
    date: date
    severity: int | None
    in_episode: bool
    over_expected: bool


@dataclass
class SymptomDays:
    """One symptom's row of the timeline, and where its latest episode stands."""

    symptom: Symptom
    cells: list[DayCell] = field(default_factory=list)
    ongoing: rules.Episode | None = None
    ongoing_hours: float = 0
    is_over_expected: bool = False


@dataclass
class Timeline:
    """Every symptom reported after one treatment, day 0 up to today."""

    treatment: Treatment
    days: list[tuple[int, date]]
    rows: list[SymptomDays]
    checkin_days: set[int]

    def row(self, code: str) -> SymptomDays | None:
        """The row of one symptom, if it was ever reported."""
        return next((r for r in self.rows if r.symptom.code == code), None)


def build_timeline(
    treatment: Treatment, symptoms: list[Symptom], tz_name: str, now: datetime
) -> Timeline:
    """Lay the treatment's check-ins out by local day for each symptom ever reported."""
    catalogue = load_catalogues([treatment.clinic_id])[treatment.clinic_id]
    history = [
        c
        for c in load_histories([treatment.id], catalogue.codes)[treatment.id]
        if c.reported_at <= now
    ]
    last_day = max(
        0, min(day_number(treatment.treated_at, now, tz_name), DEFAULT_SCHEDULE.window_days)
    )
    first_date = local_date(treatment.treated_at, tz_name)
    days = [(n, first_date + timedelta(days=n)) for n in range(last_day + 1)]
    by_day: dict[int, list[rules.Observation]] = {}
    for checkin in history:
        by_day.setdefault(
            day_number(treatment.treated_at, checkin.reported_at, tz_name), []
        ).append(checkin)
    reported = {r.code for c in history for r in c.reports if r.severity >= 1}
    rows = []
    for symptom in symptoms:
        if symptom.code not in reported:
            continue
        episodes = rules.episodes_of(symptom.code, history)
        rows.append(_symptom_days(symptom, episodes, by_day, days, treatment, tz_name, now))
    return Timeline(treatment, days, rows, set(by_day))


def _symptom_days(
    symptom: Symptom,
    episodes: list[rules.Episode],
    by_day: dict[int, list[rules.Observation]],
    days: list[tuple[int, date]],
    treatment: Treatment,
    tz_name: str,
    now: datetime,
) -> SymptomDays:
    row = SymptomDays(symptom)
    expected = timedelta(hours=symptom.expected_hours) if symptom.expected_hours else None
    spans = []
    for episode in episodes:
        start = local_date(episode.started_at, tz_name)
        end = local_date(episode.ended_at or now, tz_name)
        over_from = None  # the local day its expected duration ran out, if it went beyond it
        if expected and episode.duration(now) > expected:
            over_from = local_date(episode.started_at + expected, tz_name)
        spans.append((start, end, over_from))
    for n, day in days:
        checkins = by_day.get(n)
        severity = max(c.severity_of(symptom.code) for c in checkins) if checkins else None
        span = next((s for s in spans if s[0] <= day <= s[1]), None)
        over = bool(span and span[2] and day >= span[2])
        row.cells.append(DayCell(n, day, severity, span is not None, over))
    if episodes and episodes[-1].is_ongoing:
        row.ongoing = episodes[-1]
        row.ongoing_hours = hours(episodes[-1].duration(now))
        row.is_over_expected = bool(expected and episodes[-1].duration(now) > expected)
    return row


def treatment_day(treatment: Treatment, now: datetime, tz_name: str) -> int:
    """Which day after the treatment it is where the patient is (day 0: treatment day)."""
    return day_number(treatment.treated_at, now, tz_name)
