"""The check-in service and the flag sweep, against the real migrated database.

A check-in raises at once what it shows by itself (urgent, review, severe, worsening) in its own
transaction; the sweep raises what needs time to pass (overdue, no response) at the right minute;
the database's unique indexes keep every flag single. The rules themselves are tracker/rules.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from tests import builders
from tests.conftest import TREATED_AT
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import CheckIn, Flag, Symptom, SymptomReport, Treatment
from tracker.services.clinics.clinics import create_clinic
from tracker.services.flags.flagging import sweep
from tracker.services.patients.checkins import (
    NOTE_MAX_CHARS,
    CheckInResult,
    SymptomEntry,
    record_checkin,
)
from tracker.timeutil import CLOCK_SKEW

MINUTE = timedelta(minutes=1)


def at(hours: float, minutes: float = 0) -> datetime:
    """The moment `hours` (and `minutes`) after the treatment."""
    return TREATED_AT + timedelta(hours=hours, minutes=minutes)


def check_in(
    treatment: Treatment,
    hours: float,
    symptoms: dict[str, int] | None = None,
    *,
    onset_hours: float | None = None,
) -> CheckInResult:
    """A patient checks in live `hours` after the treatment, reporting `{code: severity}`."""
    onset_at = at(onset_hours) if onset_hours is not None else None
    result = builders.checkin(treatment, at(hours), symptoms, onset=onset_at)
    db.session.commit()
    return result


def history(treatment: Treatment, checkins: list[tuple[float, dict[str, int]]]) -> CheckInResult:
    """Record `(hours, {code: severity})` check-ins in order; the last one's result."""
    results = [check_in(treatment, hours, symptoms) for hours, symptoms in checkins]
    return results[-1]


def summary(flags: list[Flag]) -> set[tuple[str, str | None]]:
    """(reason, symptom code) of each flag; the code is None for no response."""
    return {(f.reason, f.symptom.code if f.symptom else None) for f in flags}


def all_flags() -> list[Flag]:
    return list(db.session.scalars(select(Flag).order_by(Flag.id)))


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def resolve(flag: Flag) -> None:
    """What a clinician's "resolve" leaves behind."""
    flag.status = "resolved"
    flag.resolved_at = flag.opened_at + timedelta(hours=1)
    flag.outcome = "reassured"
    db.session.commit()


# --- what a check-in raises at once ---------------------------------------------------------


@pytest.mark.parametrize(
    ("checkins", "expected"),
    [
        pytest.param(
            [(20, {"difficulty_swallowing": 1, "bruising": 1})],
            {("urgent", "difficulty_swallowing")},
            id="difficulty-swallowing-is-urgent",
        ),
        pytest.param(
            [(100, {"eyelid_drooping": 1})],
            {("review", "eyelid_drooping")},
            id="eyelid-drooping-is-for-review",
        ),
        pytest.param(
            [(20, {"headache": 4})], {("severe", "headache")}, id="very-severe-headache-is-severe"
        ),
        pytest.param(
            [(20, {"headache": 3}), (45, {"headache": 3})],
            {("severe", "headache")},
            id="severe-headache-for-25-hours-is-severe",
        ),
        pytest.param(
            [(20, {"headache": 3}), (46, {"headache": 2})],
            {("severe", "headache")},
            id="severe-for-26-hours-until-a-lower-report-is-severe",
        ),
        pytest.param(
            [(22, {"pain": 1}), (46, {"pain": 2})],
            {("worsening", "pain")},
            id="pain-rising-a-day-after-treatment-is-worsening",
        ),
    ],
)
def test_checkin_raises_what_it_shows_at_once_and_returns_the_new_flags(
    make_patient, checkins, expected
):
    _, treatment = make_patient()
    last = history(treatment, checkins)
    assert summary(last.new_flags) == expected
    assert summary(all_flags()) == expected
    assert all(f.opened_at == at(checkins[-1][0]) for f in last.new_flags)


@pytest.mark.parametrize(
    "checkins",
    [
        pytest.param([(20, {"headache": 3}), (44, {"headache": 3})], id="severe-for-exactly-24h"),
        pytest.param([(20, {"headache": 3}), (43, {"headache": 2})], id="severe-for-23h-then-less"),
        pytest.param([(2, {"pain": 1}), (20, {"pain": 2})], id="rise-in-the-first-24h"),
        pytest.param([(22, {"pain": 2}), (46, {"pain": 1})], id="pain-getting-better"),
        pytest.param(
            [(22, {"pain": 1}), (30, {}), (46, {"pain": 2})], id="new-episode-is-an-onset"
        ),
        pytest.param(
            [(20, {"bruising": 2}), (44, {"bruising": 1}), (68, {"bruising": 1})],
            id="expected-bruising-on-first-days",
        ),
    ],
)
def test_checkin_that_shows_nothing_worrying_raises_no_flag(make_patient, checkins):
    _, treatment = make_patient()
    assert history(treatment, checkins).new_flags == []
    assert all_flags() == []


@pytest.mark.parametrize(
    ("earlier", "symptoms", "expected"),
    [
        pytest.param(
            [], {"difficulty_breathing": 2}, ("urgent", "difficulty_breathing"), id="urgent"
        ),
        pytest.param([], {"dry_eye": 1}, ("review", "dry_eye"), id="review"),
        pytest.param([], {"swelling": 4}, ("severe", "swelling"), id="severe"),
        pytest.param(
            [(22, {"swelling": 1})], {"swelling": 2}, ("worsening", "swelling"), id="worse"
        ),
    ],
)
def test_flag_a_checkin_raises_is_written_in_the_same_transaction_as_the_checkin(
    make_patient, earlier, symptoms, expected
):
    _, treatment = make_patient()
    for hours, reported in earlier:
        check_in(treatment, hours, reported)
    before = (count(CheckIn), count(SymptomReport))
    result = builders.checkin(treatment, at(30), symptoms)
    assert summary(result.new_flags) == {expected}
    assert db.session.scalars(select(Flag)).all() == result.new_flags  # flushed, not committed
    db.session.rollback()  # the caller's transaction fails: the flag goes with the check-in
    assert (count(CheckIn), count(SymptomReport), count(Flag)) == (*before, 0)


@pytest.mark.parametrize(
    ("checkins", "sweep_hours", "expected"),
    [
        pytest.param(
            [
                (20, {"bruising": 2}),
                (44, {"bruising": 1}),
                (68, {"bruising": 1}),
                (100, {"bruising": 1}),
            ],
            100,
            ("overdue", "bruising"),
            id="bruising-for-80-hours",
        ),
        pytest.param([(1, {})], 60, ("no_response", None), id="silent-for-59-hours"),
    ],
)
def test_checkin_never_raises_overdue_or_no_response_but_the_sweep_does(
    make_patient, checkins, sweep_hours, expected
):
    _, treatment = make_patient()
    results = [check_in(treatment, hours, symptoms) for hours, symptoms in checkins]
    assert [r.new_flags for r in results] == [[] for _ in results]
    assert all_flags() == []
    sweep(now=at(sweep_hours))
    assert summary(all_flags()) == {expected}


def test_checkin_entered_late_is_judged_as_of_its_own_reported_at(make_patient):
    _, treatment = make_patient()
    late = builders.checkin(treatment, at(20), {"headache": 3}, source="clinician", now=at(50))
    assert late.new_flags == []  # severe for 30 hours by now, but not when it was reported
    db.session.commit()
    sweep(now=at(50))
    (severe,) = all_flags()
    assert (severe.reason, severe.observed_at, severe.opened_at) == ("severe", at(44), at(50))


def test_clinician_entering_an_old_checkin_late_does_not_raise_no_response(make_patient):
    _, treatment = make_patient()
    late = builders.checkin(treatment, at(1), source="clinician", now=at(60))
    assert late.new_flags == []
    db.session.commit()
    sweep(now=at(60))
    assert summary(all_flags()) == {("no_response", None)}


# --- what the sweep raises, at the right minute ----------------------------------------------


@pytest.mark.parametrize(
    ("checkins", "due", "flagged_at_due", "expected"),
    [
        pytest.param(
            [(24, {"bruising": 1}, 0), (47, {"bruising": 1}, None), (70, {"bruising": 1}, None)],
            at(72),
            False,
            ("overdue", "bruising"),
            id="bruising-since-the-treatment-is-overdue-after-72h",
        ),
        pytest.param(
            [(10, {"headache": 1}, None), (40, {"headache": 1}, None)],
            at(10 + 48),
            False,
            ("overdue", "headache"),
            id="headache-since-10h-is-overdue-after-48h",
        ),
        pytest.param(
            [(20, {"headache": 3}, None)],
            at(20 + 24),
            False,
            ("severe", "headache"),
            id="severe-headache-is-severe-after-more-than-24h",
        ),
        pytest.param(
            [], at(48), True, ("no_response", None), id="no-checkin-48h-after-the-treatment"
        ),
        pytest.param(
            [(30, {}, None)],
            at(30 + 48),
            True,
            ("no_response", None),
            id="no-checkin-48h-after-the-last-one",
        ),
    ],
)
def test_sweep_raises_time_dependent_flag_once_after_its_minute_and_not_before(
    make_patient, checkins, due, flagged_at_due, expected
):
    _, treatment = make_patient()
    for hours, symptoms, onset_hours in checkins:
        check_in(treatment, hours, symptoms, onset_hours=onset_hours)
    assert all_flags() == []

    assert sweep(now=due - MINUTE).flags_opened == 0
    assert all_flags() == []
    assert sweep(now=due).flags_opened == (1 if flagged_at_due else 0)
    assert sweep(now=due + MINUTE).flags_opened == (0 if flagged_at_due else 1)
    assert sweep(now=due + 2 * MINUTE).flags_opened == 0
    assert summary(all_flags()) == {expected}
    assert count(Flag) == 1


@pytest.mark.parametrize(
    ("last_checkin_hours", "expected"),
    [
        pytest.param(100, {("no_response", None)}, id="silence-ends-on-day-6"),
        pytest.param(140, set(), id="silence-ends-on-day-8"),
    ],
)
def test_no_response_is_only_raised_in_the_first_seven_days(
    make_patient, last_checkin_hours, expected
):
    _, treatment = make_patient()
    check_in(treatment, last_checkin_hours)
    sweep(now=at(last_checkin_hours + 48) + MINUTE)
    assert summary(all_flags()) == expected


@pytest.mark.parametrize(
    ("tz_name", "expected"),
    [
        pytest.param("Australia/Sydney", {("no_response", None)}, id="sydney-local-day-7"),
        pytest.param("Europe/London", set(), id="london-local-day-8"),
    ],
)
def test_the_sweep_counts_no_response_days_in_the_patients_timezone(
    make_patient, tz_name, expected
):
    treated_at = datetime(2026, 3, 1, 22, tzinfo=UTC)  # 09:00 on 2 March in Sydney
    make_patient(timezone=tz_name, treated_at=treated_at)
    sweep(now=datetime(2026, 3, 9, 10, tzinfo=UTC))  # 21:00 on 9 March in Sydney
    assert summary(all_flags()) == expected


@pytest.mark.parametrize(
    ("days_after", "treatments_swept", "expected"),
    [
        pytest.param(27, 1, {("overdue", "bruising")}, id="day-27-in-the-window"),
        pytest.param(29, 0, set(), id="day-29-after-the-28-day-window"),
    ],
)
def test_sweep_only_judges_treatments_in_their_follow_up_window(
    make_patient, days_after, treatments_swept, expected
):
    _, treatment = make_patient()
    check_in(treatment, 24 * 6, {"bruising": 1})
    assert sweep(now=at(24 * days_after)).treatments == treatments_swept
    assert summary(all_flags()) == expected


# --- idempotency -----------------------------------------------------------------------------


def test_sweeping_twice_opens_nothing_new(make_patient):
    _, silent = make_patient("Sam Silent")
    _, bruised = make_patient("Bea Bruised")
    _, swallowing = make_patient("Uma Urgent")
    history(bruised, [(20, {"bruising": 2}), (60, {"bruising": 1})])
    history(swallowing, [(30, {"difficulty_swallowing": 2})])
    assert count(Flag) == 1

    first = sweep(now=at(100))
    assert (first.treatments, first.flags_opened) == (3, 3)
    assert summary(all_flags()) == {
        ("no_response", None),
        ("overdue", "bruising"),
        ("urgent", "difficulty_swallowing"),
    }
    assert sweep(now=at(100)).flags_opened == 0
    assert sweep(now=at(101)).flags_opened == 0
    assert count(Flag) == 4  # no response for two treatments, one overdue, one urgent


def test_a_second_sweep_does_not_send_existing_flags_to_the_database_again(make_patient):
    _, bruised = make_patient("Bea Bruised")
    history(bruised, [(20, {"bruising": 2}), (60, {"bruising": 1})])
    assert sweep(now=at(100)).flags_opened == 1
    inserts = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO FLAGS"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", watch)
    try:
        assert sweep(now=at(101)).flags_opened == 0
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)
    assert inserts == []


@pytest.mark.parametrize(
    ("symptoms", "expected"),
    [
        pytest.param(
            {"difficulty_swallowing": 1}, ("urgent", "difficulty_swallowing"), id="urgent"
        ),
        pytest.param({"brow_drooping": 2}, ("review", "brow_drooping"), id="review"),
        pytest.param({"nausea": 4}, ("severe", "nausea"), id="very-severe"),
    ],
)
def test_checkin_that_reshows_the_same_finding_opens_nothing_new(make_patient, symptoms, expected):
    _, treatment = make_patient()
    assert summary(check_in(treatment, 30, symptoms).new_flags) == {expected}
    assert check_in(treatment, 40, symptoms).new_flags == []
    assert sweep(now=at(41)).flags_opened == 0
    assert summary(all_flags()) == {expected}
    assert count(Flag) == 1


def add_flag(treatment: Treatment, reason: str, code: str | None, episode_hours: float, status):
    """Insert a flag row directly, as a buggy job would, bypassing insert-or-ignore."""
    builders.flag(
        treatment,
        reason,
        code,
        opened_at=at(episode_hours + 72),
        episode_started_at=at(episode_hours),
        status=status,
    )


@pytest.mark.parametrize(
    ("first", "second", "allowed"),
    [
        pytest.param(
            ("overdue", "bruising", 20, "open"),
            ("overdue", "bruising", 20, "open"),
            False,
            id="open-twice-for-one-episode",
        ),
        pytest.param(
            ("overdue", "bruising", 20, "open"),
            ("overdue", "bruising", 150, "open"),
            False,
            id="open-while-another-episode-is-open",
        ),
        pytest.param(
            ("overdue", "bruising", 20, "acknowledged"),
            ("overdue", "bruising", 150, "open"),
            False,
            id="open-while-another-is-acknowledged",
        ),
        pytest.param(
            ("urgent", "vision_problems", 20, "resolved"),
            ("urgent", "vision_problems", 20, "open"),
            True,
            id="a-repeat-urgent-report-after-the-resolution-same-episode-start",
        ),
        pytest.param(
            ("no_response", None, 0, "open"),
            ("no_response", None, 60, "open"),
            False,
            id="no-response-open-twice-despite-null-symptom",
        ),
        pytest.param(
            ("overdue", "bruising", 20, "resolved"),
            ("overdue", "bruising", 150, "open"),
            True,
            id="new-episode-after-a-resolved-one",
        ),
        pytest.param(
            ("no_response", None, 0, "resolved"),
            ("no_response", None, 60, "open"),
            True,
            id="new-silence-after-a-resolved-one",
        ),
        pytest.param(
            ("overdue", "bruising", 20, "open"),
            ("severe", "bruising", 20, "open"),
            True,
            id="another-reason-for-the-same-episode",
        ),
        pytest.param(
            ("overdue", "bruising", 20, "open"),
            ("overdue", "headache", 20, "open"),
            True,
            id="another-symptom",
        ),
    ],
)
def test_database_itself_keeps_one_unresolved_flag_per_symptom_and_reason(
    make_patient, first, second, allowed
):
    _, treatment = make_patient()
    add_flag(treatment, *first)
    db.session.commit()
    if allowed:
        add_flag(treatment, *second)
        db.session.commit()
        assert count(Flag) == 2
    else:
        with pytest.raises(IntegrityError):
            add_flag(treatment, *second)
        db.session.rollback()
        assert count(Flag) == 1


# --- resolved flags --------------------------------------------------------------------------


def test_resolved_overdue_flag_is_not_reopened_but_a_new_episode_is_flagged_again(make_patient):
    _, treatment = make_patient()
    history(treatment, [(20, {"bruising": 2}), (44, {"bruising": 1}), (68, {"bruising": 1})])
    sweep(now=at(20 + 72) + MINUTE)
    (overdue,) = all_flags()
    resolve(overdue)

    check_in(treatment, 100, {"bruising": 1})
    assert sweep(now=at(101)).flags_opened == 0
    check_in(treatment, 110)  # the bruise has gone
    check_in(treatment, 130, {"bruising": 1})  # and comes back: a new episode
    assert sweep(now=at(130 + 72) - MINUTE).flags_opened == 0

    sweep(now=at(130 + 72) + MINUTE)
    flags = [f for f in all_flags() if f.reason == "overdue"]
    assert [(f.status, f.episode_started_at) for f in flags] == [
        ("resolved", at(20)),
        ("open", at(130)),
    ]


def test_resolved_urgent_flag_opens_again_when_the_symptom_is_reported_after_it(make_patient):
    _, treatment = make_patient()
    (urgent,) = check_in(treatment, 20, {"vision_problems": 2}).new_flags
    resolve(urgent)  # at 21 h

    (again,) = check_in(treatment, 30, {"vision_problems": 2}).new_flags
    assert (again.reason, again.episode_started_at, again.observed_at) == ("urgent", at(20), at(30))
    assert check_in(treatment, 31, {"vision_problems": 2}).new_flags == []  # one open at a time
    assert sweep(now=at(32)).flags_opened == 0
    assert [f.status for f in all_flags()] == ["resolved", "open"]


def test_resolved_no_response_is_not_reopened_for_the_same_silence(make_patient):
    _, treatment = make_patient()
    sweep(now=at(49))
    (silence,) = all_flags()
    resolve(silence)

    assert sweep(now=at(60)).flags_opened == 0
    check_in(treatment, 70)
    assert sweep(now=at(70 + 48) - MINUTE).flags_opened == 0
    assert sweep(now=at(70 + 48) + MINUTE).flags_opened == 1
    assert [(f.status, f.episode_started_at) for f in all_flags()] == [
        ("resolved", TREATED_AT),
        ("open", at(70)),
    ]


# --- validation ------------------------------------------------------------------------------

NOW = at(24)


def entry(code: str = "bruising", severity: object = 1, onset_at: datetime | None = None):
    return SymptomEntry(code, severity, onset_at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entries", "fields", "expected_keys"),
    [
        pytest.param([entry("tingling")], {}, {"symptoms.tingling"}, id="unknown-code"),
        pytest.param([entry(severity=5)], {}, {"symptoms.bruising"}, id="severity-5"),
        pytest.param([entry(severity=-1)], {}, {"symptoms.bruising"}, id="severity-minus-1"),
        pytest.param([entry(severity=True)], {}, {"symptoms.bruising"}, id="severity-true"),
        pytest.param([entry(severity="2")], {}, {"symptoms.bruising"}, id="severity-text"),
        pytest.param([entry(severity=2.5)], {}, {"symptoms.bruising"}, id="severity-fraction"),
        pytest.param(
            [entry(severity=1), entry(severity=2)], {}, {"symptoms.bruising"}, id="duplicate-code"
        ),
        pytest.param(
            [entry()],
            {"reported_at": NOW + CLOCK_SKEW + timedelta(seconds=1)},
            {"reported_at"},
            id="reported-beyond-the-clock-skew",
        ),
        pytest.param(
            [entry()], {"reported_at": at(0, -1)}, {"reported_at"}, id="reported-before-treatment"
        ),
        pytest.param(
            [entry()],
            {"reported_at": NOW.replace(tzinfo=None)},
            {"reported_at"},
            id="naive-reported-at",
        ),
        pytest.param(
            [entry(onset_at=NOW + MINUTE)],
            {"reported_at": NOW},
            {"symptoms.bruising.onset_at"},
            id="onset-after-the-report",
        ),
        pytest.param(
            [entry(onset_at=at(0, -1))],
            {},
            {"symptoms.bruising.onset_at"},
            id="onset-before-treatment",
        ),
        pytest.param(
            [entry(onset_at=at(2).replace(tzinfo=None))],
            {},
            {"symptoms.bruising.onset_at"},
            id="naive-onset",
        ),
        pytest.param(
            [entry()], {"note": "x" * (NOTE_MAX_CHARS + 1)}, {"note"}, id="note-of-2001-chars"
        ),
        pytest.param(
            [entry("tingling"), entry("headache", 9)],
            {"note": "x" * 5000, "reported_at": at(-1)},
            {"symptoms.tingling", "symptoms.headache", "note", "reported_at"},
            id="every-problem-at-once",
        ),
    ],
)
def test_invalid_checkin_is_refused_and_stores_nothing(
    make_patient, entries, fields, expected_keys
):
    _, treatment = make_patient()
    urgent = SymptomEntry("difficulty_swallowing", 3)  # would raise a flag if anything were kept
    with pytest.raises(InvalidInput) as refused:
        record_checkin(treatment, [urgent, *entries], now=NOW, **fields)
    assert set(refused.value.fields) == expected_keys
    assert all(refused.value.fields.values())
    assert (count(CheckIn), count(SymptomReport), count(Flag)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("entries", "fields"),
    [
        pytest.param([entry()], {"reported_at": NOW + CLOCK_SKEW}, id="reported-within-skew"),
        pytest.param(
            [entry()],
            {"reported_at": NOW.astimezone(timezone(timedelta(hours=-5)))},
            id="reported-with-another-offset",
        ),
        pytest.param([entry()], {"reported_at": TREATED_AT}, id="reported-at-treatment"),
        pytest.param([entry()], {"note": "x" * NOTE_MAX_CHARS}, id="note-of-2000-chars"),
        pytest.param([entry(onset_at=TREATED_AT)], {}, id="onset-at-treatment"),
        pytest.param([entry(onset_at=NOW)], {"reported_at": NOW}, id="onset-at-the-report"),
        pytest.param([entry(severity=0), entry("headache", 4)], {}, id="severity-0-and-4"),
    ],
)
def test_checkin_at_the_edge_of_validity_is_accepted(make_patient, entries, fields):
    _, treatment = make_patient()
    result = record_checkin(treatment, entries, now=NOW, **fields)
    db.session.commit()
    stored = db.session.get(CheckIn, result.checkin.id)
    assert stored.reported_at == fields.get("reported_at", NOW)
    assert stored.note == fields.get("note")
    assert sorted((r.symptom.code, r.severity) for r in stored.reports) == sorted(
        (e.code, e.severity) for e in entries
    )


def test_checkin_reads_the_clock_when_no_time_is_given(make_patient, time_machine):
    _, treatment = make_patient()
    time_machine.move_to(at(30), tick=False)
    result = record_checkin(treatment, [SymptomEntry("headache", 1)])
    assert (result.checkin.reported_at, result.checkin.created_at) == (at(30), at(30))
    with pytest.raises(InvalidInput) as refused:
        record_checkin(treatment, [], reported_at=at(30) + CLOCK_SKEW + MINUTE)
    assert set(refused.value.fields) == {"reported_at"}


def test_sweep_reads_the_clock_when_no_time_is_given(make_patient, time_machine):
    make_patient()
    time_machine.move_to(at(48) - MINUTE, tick=False)
    assert sweep().flags_opened == 0
    time_machine.move_to(at(48) + MINUTE, tick=False)
    assert sweep().flags_opened == 1
    assert all_flags()[0].opened_at == at(48) + MINUTE


# --- the clinic's catalogue ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bruising_hours", "sweep_hours", "expected"),
    [
        pytest.param(72, 96, {("overdue", "bruising")}, id="default-72h-overdue-at-96h"),
        pytest.param(120, 96, set(), id="edited-to-120h-not-overdue-at-96h"),
        pytest.param(120, 120, set(), id="edited-to-120h-not-overdue-at-120h"),
        pytest.param(120, 120 + 1 / 60, {("overdue", "bruising")}, id="edited-to-120h-after"),
    ],
)
def test_catalogue_edit_changes_when_bruising_is_overdue(
    clinic, make_patient, bruising_hours, sweep_hours, expected
):
    builders.symptom(clinic.id, "bruising").expected_hours = bruising_hours
    db.session.commit()
    _, treatment = make_patient()
    check_in(treatment, 24, {"bruising": 2}, onset_hours=0)
    history(treatment, [(48, {"bruising": 1}), (72, {"bruising": 1}), (93, {"bruising": 1})])
    sweep(now=at(sweep_hours))
    assert summary(all_flags()) == expected


def test_catalogue_edit_of_action_changes_what_a_checkin_raises(clinic, make_patient):
    _, treatment = make_patient()
    assert check_in(treatment, 20, {"headache": 1}).new_flags == []
    check_in(treatment, 21)
    builders.symptom(clinic.id, "headache").action = "review"
    db.session.commit()
    assert summary(check_in(treatment, 22, {"headache": 1}).new_flags) == {("review", "headache")}


def test_no_symptoms_today_is_recorded_even_when_the_clinic_catalogue_is_empty(
    clinic, make_patient
):
    _, treatment = make_patient()
    for symptom in db.session.scalars(select(Symptom).filter_by(clinic_id=clinic.id)):
        db.session.delete(symptom)
    db.session.commit()
    assert check_in(treatment, 24).new_flags == []
    assert count(CheckIn) == 1


def test_another_clinics_catalogue_is_not_used(clinic, make_patient):
    hillside = create_clinic("Hillside Clinic")
    builders.symptom(hillside.id, "bruising").expected_hours = 24
    db.session.add(
        Symptom(clinic_id=hillside.id, code="tingling", name="Tingling", action="urgent")
    )
    db.session.commit()
    _, riverside_treatment = make_patient("Rita Riverside")
    _, hillside_treatment = make_patient("Hal Hillside", clinic=hillside)

    for treatment in (riverside_treatment, hillside_treatment):
        check_in(treatment, 10, {"bruising": 1})
    sweep(now=at(40))
    (overdue,) = [f for f in all_flags() if f.reason == "overdue"]
    assert (overdue.treatment_id, overdue.clinic_id) == (hillside_treatment.id, hillside.id)
    assert overdue.symptom.clinic_id == hillside.id

    with pytest.raises(InvalidInput) as refused:
        record_checkin(riverside_treatment, [SymptomEntry("tingling", 2)], now=at(41))
    assert set(refused.value.fields) == {"symptoms.tingling"}
    reports = db.session.scalars(select(SymptomReport)).all()
    assert {(r.treatment_id, r.symptom.clinic_id) for r in reports} == {
        (riverside_treatment.id, clinic.id),
        (hillside_treatment.id, hillside.id),
    }


# --- the sweep as a write transaction --------------------------------------------------------


@pytest.mark.sqlite_only(reason="BEGIN IMMEDIATE is SQLite's write lock; PostgreSQL uses row locks")
def test_sweep_takes_the_write_lock_before_it_reads(make_patient):
    """On SQLite a transaction that reads first cannot always upgrade to write ("locked")."""
    make_patient()
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert sweep(now=at(49)).flags_opened == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert statements[0] == "BEGIN IMMEDIATE"
