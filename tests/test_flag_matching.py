"""Flags matched to episodes by overlap, through the real services: each timeline a clinic lived
is run through the check-ins alone, the sweep alone (check-ins stored unjudged) and both.

A timeline is steps at hours after the treatment: a check-in (live, or a phone call recorded
late), a clinician resolving a flag, a sweep. After the last step the sweep runs twice more and
the last check-in is judged again: nothing may change (idempotence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.conftest import TREATED_AT
from tracker.extensions import db
from tracker.models import Flag, OutboxMessage, Treatment, User
from tracker.services.flags import flag_actions
from tracker.services.flags.flagging import (
    load_catalogues,
    load_histories,
    raise_checkin_flags,
    sweep,
)
from tracker.services.flags.queue import describe_duration
from tracker.services.messaging.alerts import ALERT_KEY_PREFIX, URGENT_ALERT

CHECKINS, SWEEP, BOTH = "checkins", "sweep", "both"


def at(hours: float) -> datetime:
    return TREATED_AT + timedelta(hours=hours)


@dataclass(frozen=True)
class Report:
    """A check-in reported at `hours`, recorded then or, for a phone call, at `recorded`."""

    hours: float
    symptoms: Mapping[str, int] = field(default_factory=dict)
    recorded: float | None = None

    @property
    def now(self) -> float:
        return self.recorded if self.recorded is not None else self.hours


@dataclass(frozen=True)
class Resolve:
    """A clinician resolves the active flag of `reason` (and symptom `code`) at `hours`."""

    reason: str
    code: str | None
    hours: float

    @property
    def now(self) -> float:
        return self.hours


@dataclass(frozen=True)
class Sweep:
    """The sweep runs at `hours` (in every way of running the timeline but check-ins alone)."""

    hours: float

    @property
    def now(self) -> float:
        return self.hours


def run(treatment: Treatment, steps: list, way: str, nurse: User) -> None:
    """Play the timeline the chosen way, committing after each step as the interfaces do."""
    for step in steps:
        if isinstance(step, Report):
            if way == SWEEP:  # stored as rows only: the sweep alone judges it
                builders.unjudged_checkin(treatment, at(step.hours), step.symptoms)
            else:
                builders.checkin(treatment, at(step.hours), step.symptoms, now=at(step.now))
        elif isinstance(step, Resolve):
            (flag,) = [
                f
                for f in flags()
                if (f.reason, code_of(f), f.status) == (step.reason, step.code, "open")
            ]
            flag_actions.resolve(flag, nurse, "reassured", now=at(step.hours))
        if way != CHECKINS:
            sweep(now=at(step.now))
        db.session.commit()


def flags() -> list[Flag]:
    return list(db.session.scalars(select(Flag).order_by(Flag.id)))


def code_of(flag: Flag) -> str | None:
    return flag.symptom.code if flag.symptom else None


def summary() -> list[tuple[str, str | None, str]]:
    """(reason, symptom, status) of each flag, in the order they opened."""
    return [(f.reason, code_of(f), f.status) for f in flags()]


def alerted_flags() -> set[int]:
    """The flags that had an urgent alert queued (each recipient's copy counted once)."""
    keys = db.session.scalars(
        select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == URGENT_ALERT)
    )
    return {int(key.removeprefix(ALERT_KEY_PREFIX).split(":")[0]) for key in keys}


SWALLOWING = "difficulty_swallowing"
BRUISING_DAYS_1_TO_4 = [Report(24 * day, {"bruising": 2}) for day in (1, 2, 3, 4)]

TIMELINES = [
    pytest.param(
        [
            Report(20, {SWALLOWING: 2}),
            Resolve("urgent", SWALLOWING, 22),
            Report(30, {SWALLOWING: 2}),
        ],
        (CHECKINS, SWEEP, BOTH),
        [("urgent", SWALLOWING, "resolved"), ("urgent", SWALLOWING, "open")],
        2,
        id="urgent-reported-again-after-resolution-alerts-the-clinic-again",
    ),
    pytest.param(
        [
            Report(20, {SWALLOWING: 2}),
            Resolve("urgent", SWALLOWING, 22),
            Report(30, {SWALLOWING: 1}),
            Resolve("urgent", SWALLOWING, 32),
            Report(40, {SWALLOWING: 1}),
        ],
        (CHECKINS, SWEEP, BOTH),
        [("urgent", SWALLOWING, "resolved")] * 2 + [("urgent", SWALLOWING, "open")],
        3,
        id="urgent-reported-after-each-resolution-is-alerted-each-time",
    ),
    pytest.param(
        [Report(20, {SWALLOWING: 2}), Report(30, {SWALLOWING: 2})],
        (CHECKINS, SWEEP, BOTH),
        [("urgent", SWALLOWING, "open")],
        1,
        id="urgent-reported-again-while-open-is-one-flag",
    ),
    pytest.param(
        [
            Report(20, {SWALLOWING: 2}),
            Resolve("urgent", SWALLOWING, 30),
            Report(25, {SWALLOWING: 2}, recorded=40),
        ],
        (CHECKINS, SWEEP, BOTH),
        [("urgent", SWALLOWING, "resolved")],
        1,
        id="urgent-phone-call-from-before-the-resolution-recorded-later",
    ),
    pytest.param(
        [
            *BRUISING_DAYS_1_TO_4,
            Sweep(97),
            Resolve("overdue", "bruising", 100),
            Report(5, {"bruising": 2}, recorded=120),
            Sweep(121),
        ],
        (SWEEP, BOTH),
        [("overdue", "bruising", "resolved")],
        0,
        id="late-phone-checkin-that-moves-a-bruise-start-does-not-reopen-its-resolved-flag",
    ),
    pytest.param(
        [
            Report(30, {"headache": 4}),
            Resolve("severe", "headache", 31),
            Report(10, {"headache": 4}, recorded=40),
        ],
        (CHECKINS, SWEEP, BOTH),
        [("severe", "headache", "resolved")],
        0,
        id="late-phone-checkin-that-moves-a-headache-start-does-not-reopen-its-severe-flag",
    ),
    pytest.param(
        [
            *BRUISING_DAYS_1_TO_4,
            Sweep(97),
            Resolve("overdue", "bruising", 100),
            Report(110),
            Report(130, {"bruising": 1}),
            Sweep(130 + 73),
        ],
        (SWEEP, BOTH),
        [("overdue", "bruising", "resolved"), ("overdue", "bruising", "open")],
        0,
        id="a-bruise-that-went-and-came-back-is-a-new-episode",
    ),
    pytest.param(
        [
            Report(96, {"eyelid_drooping": 2}),
            Resolve("review", "eyelid_drooping", 100),
            Report(120, {"eyelid_drooping": 2}),
            Report(144, {"eyelid_drooping": 1}),
        ],
        (CHECKINS, SWEEP, BOTH),
        [("review", "eyelid_drooping", "resolved")],
        0,
        id="review-symptom-reported-again-in-the-same-episode-raises-nothing",
    ),
    pytest.param(
        [
            Report(96, {"eyelid_drooping": 2}),
            Resolve("review", "eyelid_drooping", 100),
            Report(120, {"eyelid_drooping": 3}),
        ],
        (CHECKINS, SWEEP, BOTH),
        [
            ("review", "eyelid_drooping", "resolved"),
            ("review", "eyelid_drooping", "open"),
            ("worsening", "eyelid_drooping", "open"),
        ],
        0,
        id="review-symptom-reported-worse-in-the-same-episode-is-reviewed-again",
    ),
    pytest.param(
        [
            Sweep(49),
            Resolve("no_response", None, 50),
            Sweep(60),
            Report(20, recorded=70),
            Sweep(80),
        ],
        (SWEEP, BOTH),
        [("no_response", None, "resolved")],
        0,
        id="no-response-resolved-is-not-reopened-for-the-same-silence",
    ),
    pytest.param(
        [Sweep(49), Resolve("no_response", None, 50), Report(70), Sweep(70 + 49)],
        (SWEEP, BOTH),
        [("no_response", None, "resolved"), ("no_response", None, "open")],
        0,
        id="a-new-silence-raises-a-new-no-response-flag",
    ),
]


def alert_address(treatment: Treatment) -> None:
    treatment.patient.clinic.alert_email = "alerts@riverside.test"
    db.session.commit()


def each_way(timelines: list) -> list:
    """Each timeline once for each way of judging it that it lists."""
    return [
        pytest.param(steps, expected, alerts, way, id=f"{timeline.id}-by-{way}")
        for timeline in timelines
        for steps, ways, expected, alerts in [timeline.values]
        for way in ways
    ]


@pytest.mark.parametrize(("steps", "expected", "alerts", "way"), each_way(TIMELINES))
def test_each_timeline_gives_the_same_flags_however_it_is_judged(
    make_patient, clinic, steps, expected, alerts, way
):
    _, treatment = make_patient()
    alert_address(treatment)
    nurse = db.session.scalar(select(User).where(User.clinic_id == clinic.id))

    run(treatment, steps, way, nurse)
    assert summary() == expected
    assert len(alerted_flags()) == alerts
    assert alerted_flags() <= {f.id for f in flags()}

    end = at(max(step.now for step in steps))
    if way != CHECKINS:
        assert sweep(now=end).flags_opened == 0
        assert sweep(now=end + timedelta(minutes=15)).flags_opened == 0
    last = max((s for s in steps if isinstance(s, Report)), key=lambda s: s.hours, default=None)
    if last is not None:
        assert raise_checkin_flags(treatment, at(last.hours), end) == []
    db.session.commit()
    assert summary() == expected
    assert len(alerted_flags()) == alerts


def test_a_flag_whose_episode_a_late_call_moved_says_how_long_the_whole_episode_lasted(
    make_patient,
):
    _, treatment = make_patient()
    for report in BRUISING_DAYS_1_TO_4:
        builders.checkin(treatment, at(report.hours), report.symptoms)
    sweep(now=at(97))
    builders.checkin(treatment, at(5), {"bruising": 2}, now=at(120))  # a call from day 0
    builders.checkin(treatment, at(130), {})  # the bruise has gone
    db.session.commit()
    (overdue,) = flags()
    catalogue = load_catalogues([treatment.clinic_id])[treatment.clinic_id]
    history = load_histories([treatment.id], catalogue.codes)[treatment.id]
    assert describe_duration(overdue, history, at(140)) == (
        "Bruising lasted 5 days 5 hours, expected 3 days"  # from 5 h to 130 h
    )
