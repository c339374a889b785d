"""A patient treated again: the newer treatment takes over check-ins, reminders and the sweep.

The older treatment is judged only up to the time of the newer one, so a bruise from the first
visit is not "overdue" because later check-ins went to the top-up. See product.md, "Repeat
treatments". Each case runs twice: a top-up the next day, and a second treatment three weeks on.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import TREATED_AT
from tracker.catalogue import DEFAULT_SCHEDULE
from tracker.extensions import db
from tracker.models import CheckIn, Flag, OutboxMessage, Patient, Treatment
from tracker.services.flags.flagging import sweep
from tracker.services.messaging.reminders import REMINDER, REVIEW, send_due_reminders
from tracker.services.patients.checkins import SymptomEntry, record_checkin
from tracker.services.patients.followup import followed_up_treatment
from tracker.services.patients.treatments import TreatmentDetails, record_treatment
from tracker.timeutil import from_local, local_date

LONDON = "Europe/London"
TOP_UP_NEXT_DAY = 24
THREE_WEEKS_LATER = 21 * 24
AGAIN = pytest.mark.parametrize(
    "again_hours",
    [
        pytest.param(TOP_UP_NEXT_DAY, id="top-up-next-day"),
        pytest.param(THREE_WEEKS_LATER, id="second-treatment-three-weeks-later"),
    ],
)


def at(hours: float) -> datetime:
    """The moment `hours` after the first treatment."""
    return TREATED_AT + timedelta(hours=hours)


def treat_again(patient: Patient, hours: float) -> Treatment:
    """The clinic records the patient's next treatment, `hours` after the first, as it happens."""
    details = TreatmentDetails(at(hours), "Botox", "C9999ZZ9", "cosmetic", {"forehead": 4})
    recorded = record_treatment(patient, details, now=at(hours))
    db.session.commit()
    return recorded.treatment


def check_in(treatment: Treatment, hours: float, symptoms: dict[str, int]) -> None:
    """The patient checks in live on `treatment`, `hours` after the first treatment."""
    entries = [SymptomEntry(code, severity) for code, severity in symptoms.items()]
    record_checkin(treatment, entries, reported_at=at(hours), now=at(hours))
    db.session.commit()


def flags_of(treatment: Treatment) -> set[tuple[str, str | None]]:
    flags = db.session.scalars(select(Flag).where(Flag.treatment_id == treatment.id))
    return {(f.reason, f.symptom.code if f.symptom else None) for f in flags}


# --- check-ins ---------------------------------------------------------------------------------


@AGAIN
def test_check_ins_go_to_the_newer_treatment_from_its_time_on(make_patient, again_hours):
    patient, first = make_patient()
    second = treat_again(patient, again_hours)

    assert followed_up_treatment(patient.id, at(-1)) is None
    assert followed_up_treatment(patient.id, at(0)) == first
    assert followed_up_treatment(patient.id, at(again_hours) - timedelta(seconds=1)) == first
    assert followed_up_treatment(patient.id, at(again_hours)) == second
    assert followed_up_treatment(patient.id, at(again_hours + 30 * 24)) == second


@AGAIN
def test_the_patients_check_in_page_saves_on_the_newer_treatment(
    make_patient, patient_actions, again_hours
):
    patient, first = make_patient()
    second = treat_again(patient, again_hours)
    patient_actions.sign_in(patient)

    assert patient_actions.submit_checkin({"headache": 1}).status_code == 302

    [checkin] = db.session.scalars(select(CheckIn)).all()
    assert checkin.treatment_id == second.id


def test_of_two_treatments_at_the_same_moment_the_one_recorded_last_is_followed_up(
    make_patient, patient_actions
):
    patient, first = make_patient()
    second = treat_again(patient, 0)
    assert followed_up_treatment(patient.id, at(1)) == second
    patient_actions.sign_in(patient)

    assert patient_actions.submit_checkin({"headache": 1}).status_code == 302

    [checkin] = db.session.scalars(select(CheckIn)).all()
    assert checkin.treatment_id == second.id


# --- reminders ---------------------------------------------------------------------------------


def reminders_over_the_follow_up(patient: Patient) -> list[tuple[str, int, str]]:
    """Run the reminder job at noon every day for 50 days: (kind, treatment id, local date)."""
    first_day = local_date(TREATED_AT, LONDON)
    for n in range(51):
        send_due_reminders(from_local(first_day + timedelta(days=n), time(12, 0), LONDON))
        db.session.commit()
    sent = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind.in_([REMINDER, REVIEW]))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    return [
        (m.kind, int(m.dedupe_key.split(":")[1]), local_date(m.created_at, LONDON).isoformat())
        for m in sent
    ]


def schedule_of(treatment: Treatment, before: datetime | None = None) -> list[tuple[str, int, str]]:
    """The reminders `treatment`'s own schedule calls for (those sent before `before`, if given)."""
    first_day = local_date(treatment.treated_at, LONDON)
    expected = []
    for day in sorted({*DEFAULT_SCHEDULE.reminder_days, DEFAULT_SCHEDULE.review_day}):
        sent_on = first_day + timedelta(days=day)
        if before is not None and from_local(sent_on, time(12, 0), LONDON) >= before:
            continue
        kind = REVIEW if day == DEFAULT_SCHEDULE.review_day else REMINDER
        expected.append((kind, treatment.id, sent_on.isoformat()))
    return expected


@AGAIN
def test_reminders_follow_the_newer_treatments_schedule_only(make_patient, again_hours):
    patient, first = make_patient()
    second = treat_again(patient, again_hours)

    sent = reminders_over_the_follow_up(patient)

    assert sent == schedule_of(first, before=second.treated_at) + schedule_of(second)


def test_two_treatments_at_the_same_moment_send_one_reminder_a_day(make_patient):
    patient, first = make_patient()
    second = treat_again(patient, 0)

    sent = reminders_over_the_follow_up(patient)

    assert sent == schedule_of(second)


# --- the sweep ---------------------------------------------------------------------------------


@AGAIN
def test_the_sweep_judges_the_older_treatment_only_up_to_the_newer_one(make_patient, again_hours):
    patient, first = make_patient()
    check_in(first, again_hours - 4, {"bruising": 1})  # four hours before the newer visit
    second = treat_again(patient, again_hours)
    check_in(second, again_hours + 6, {"headache": 1})  # then silence

    sweep(now=at(again_hours + 96))

    assert flags_of(first) == set()  # no overdue bruise, no "no response" after the newer visit
    assert flags_of(second) == {("overdue", "headache"), ("no_response", None)}


@AGAIN
def test_flags_the_older_treatment_already_has_stay_as_they_are(make_patient, again_hours):
    patient, first = make_patient()
    check_in(first, 2, {"difficulty_swallowing": 1, "bruising": 1})
    sweep(now=at(again_hours - 1))
    before = flags_of(first)
    assert ("urgent", "difficulty_swallowing") in before
    second = treat_again(patient, again_hours)

    sweep(now=at(again_hours + 96))

    assert flags_of(first) == before
    statuses = db.session.scalars(select(Flag.status).where(Flag.treatment_id == first.id))
    assert set(statuses) == {"open"}
    assert flags_of(second) == {("no_response", None)}
