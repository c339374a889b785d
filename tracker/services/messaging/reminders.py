"""Check-in reminders and the review reminder: who is due, and one email each, once.

A patient is reminded on each reminder day of their latest treatment's follow-up schedule (day N
is their local date N days after the local treatment date), once their own reminder time has
passed that day, unless they have already checked in that (local) day. A job that runs late still
sends that day's reminder. On the review day the reminder also reminds of the review appointment:
one email, keyed `review:<treatment>`, sent even if they have checked in already, since it is
about the appointment. Other days are keyed `reminder:<treatment>:<local date>`, so the database
forbids a second reminder for a day whatever runs how often.

Only the treatment being followed up (patients/followup.py) is reminded of: check-ins go to it,
and a patient treated again within four weeks should get one reminder a day, not one per
treatment. Patients with reminders off get none of either kind (the stop link in every email
says "stop reminders").

Set-based: a handful of statements per batch of treatments, however many patients are due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select

from ...catalogue import DEFAULT_SCHEDULE, FollowUpSchedule
from ...extensions import db
from ...i18n import speaking_to
from ...infrastructure.database import begin_write
from ...models import CheckIn, Clinic, OutboxMessage, Patient, Treatment
from ...timeutil import day_number, local, local_date
from ..patients.followup import is_followed_up
from ..patients.links import issue_links, link_url
from .messages import Outgoing, patient_headers, queue_many, render_email
from .reminder_settings import stop_url

REMINDER = "reminder"
REVIEW = "review"
BATCH_SIZE = 500
"""Treatments looked at per batch: memory stays flat however many are in their window."""


@dataclass
class ReminderResult:
    """What one reminder run did."""

    considered: int = 0
    reminders: int = 0
    reviews: int = 0

    def summary(self) -> str:
        """One line for the logs and the command line."""
        return (
            f"Looked at {self.considered} treatments in their window; queued {self.reminders} "
            f"check-in reminders and {self.reviews} review reminders."
        )


@dataclass(frozen=True)
class Due:
    """A reminder that is due now, before checking what has already been done today."""

    kind: str
    treatment: Treatment
    patient: Patient
    clinic: Clinic
    day: int
    today: date

    @property
    def dedupe_key(self) -> str:
        """The outbox key that keeps this reminder single."""
        if self.kind == REVIEW:
            return f"{REVIEW}:{self.treatment.id}"
        return f"{REMINDER}:{self.treatment.id}:{self.today.isoformat()}"


def due_kind(day: int, schedule: FollowUpSchedule = DEFAULT_SCHEDULE) -> str | None:
    """Which reminder day N of a treatment calls for: review, check-in reminder, or none."""
    if day == schedule.review_day:
        return REVIEW
    if day in schedule.reminder_days:
        return REMINDER
    return None


def send_due_reminders(now: datetime) -> ReminderResult:
    """Queue every check-in and review reminder that is due at `now` (flush only).

    Idempotent: a second run at any later time queues nothing already queued, and issues no
    personal link for a reminder it does not send. The caller commits.
    """
    begin_write()  # take SQLite's write lock first: this run reads, then writes
    result = ReminderResult()
    last_id = 0
    while batch := _candidates(now, last_id):
        last_id = batch[-1][0].id
        result.considered += len(batch)
        due = [d for d in (_due(*row, now) for row in batch) if d is not None]
        due = _not_yet_done(due, now)
        for kind in _queue(due, now):
            if kind == REVIEW:
                result.reviews += 1
            else:
                result.reminders += 1
    return result


def _candidates(now: datetime, after_id: int) -> list[tuple[Treatment, Patient, Clinic]]:
    """Followed-up treatments of patients with reminders on that may be in their window, a batch.

    The window is widened by two days here (a local date can be a day either side of the UTC
    one); `_due` decides exactly, by the patient's local dates.
    """
    earliest = now - timedelta(days=DEFAULT_SCHEDULE.window_days + 2)
    rows = db.session.execute(
        select(Treatment, Patient, Clinic)
        .join(Patient, Treatment.patient_id == Patient.id)
        .join(Clinic, Patient.clinic_id == Clinic.id)
        .where(
            Patient.reminders_enabled.is_(True),
            Patient.erased_at.is_(None),
            Treatment.treated_at > earliest,
            is_followed_up(now),
            Treatment.id > after_id,
        )
        .order_by(Treatment.id)
        .limit(BATCH_SIZE)
    ).all()
    return [tuple(row) for row in rows]


def _due(treatment: Treatment, patient: Patient, clinic: Clinic, now: datetime) -> Due | None:
    """The reminder this treatment's patient is due at `now` in their timezone, if any."""
    local_now = local(now, patient.timezone)
    if local_now.time() < patient.reminder_time:
        return None  # wall-clock times: 09:00 is 09:00 whether or not the clocks changed
    day = day_number(treatment.treated_at, now, patient.timezone)
    kind = due_kind(day)
    if kind is None:
        return None
    return Due(kind, treatment, patient, clinic, day, local_now.date())


def _not_yet_done(due: list[Due], now: datetime) -> list[Due]:
    """Drop reminders already queued and check-in reminders of patients who checked in today.

    Checking before inserting (inside the run's write transaction) is what spares a personal
    link for a reminder that will not be sent; the unique key still guards any race.
    """
    if not due:
        return []
    queued = set(
        db.session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.in_([d.dedupe_key for d in due])
            )
        )
    )
    due = [d for d in due if d.dedupe_key not in queued]
    reminder_ids = [d.treatment.id for d in due if d.kind == REMINDER]
    if not reminder_ids:
        return due
    timezones = {d.treatment.id: d.patient.timezone for d in due}
    checked_in = {
        (row.treatment_id, local_date(row.reported_at, timezones[row.treatment_id]))
        for row in db.session.execute(
            select(CheckIn.treatment_id, CheckIn.reported_at).where(
                CheckIn.treatment_id.in_(reminder_ids),
                CheckIn.reported_at > now - timedelta(days=2),  # covers any local "today"
            )
        )
    }
    return [d for d in due if d.kind == REVIEW or (d.treatment.id, d.today) not in checked_in]


def _queue(due: list[Due], now: datetime) -> list[str]:
    """Issue a fresh link for each patient due and queue their email; the kinds queued."""
    if not due:
        return []
    tokens = issue_links([d.patient.id for d in due], now)
    expires_at = now + timedelta(hours=current_app.config["PATIENT_LINK_HOURS"])
    messages = {d.dedupe_key: _message(d, link_url(tokens[d.patient.id]), expires_at) for d in due}
    added = queue_many(list(messages.values()), now)
    return [messages[key].kind for key in added]


def _message(due: Due, link: str, link_expires_at: datetime) -> Outgoing:
    patient, clinic = due.patient, due.clinic
    with speaking_to(patient):
        if due.kind == REVIEW:
            subject = gettext("Time for your review appointment at %(clinic)s", clinic=clinic.name)
        else:
            subject = gettext(
                "How are you today? Your day %(day)s check-in with %(clinic)s",
                day=due.day,
                clinic=clinic.name,
            )
        email = render_email(
            due.kind,
            subject,
            patient=patient,
            clinic=clinic,
            treatment=due.treatment,
            day=due.day,
            link=link,
            link_expires_at=link_expires_at,
            stop_link=stop_url(patient.id),
        )
    return Outgoing(
        clinic_id=clinic.id,
        patient_id=patient.id,
        kind=due.kind,
        to_address=patient.email,
        email=email,
        dedupe_key=due.dedupe_key,
        headers=patient_headers(due.kind, patient.id),
    )
