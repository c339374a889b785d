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

A job, run in batches of treatments (by id), each committed before the next is read, so no
request waits on it for long (SQLite has one write lock for the whole database). Each batch is:

1. **read** (a plain read transaction, no write lock): the batch's treatment ids, their
   patients and clinics, the reminders already queued and today's check-ins, in four
   statements; then each due email is *rendered* and its personal link token signed, in Python,
   still outside the lock;
2. **write** (the critical section, `BEGIN IMMEDIATE` to COMMIT): one statement re-checks that
   each patient is still to be reminded (reminders on, not erased, treatment still followed up,
   not checked in today: any of that may have changed while the batch rendered), one
   insert-or-ignore queues the emails (the unique `dedupe_key` keeps a second run, or a second
   scheduler at once, from queuing any twice), and one insert stores the links of the emails
   that were queued, and no others. Then COMMIT.

Why render before the lock rather than at delivery: every reminder carries a fresh personal
link, whose token is stored only as a hash, so the email cannot be rebuilt later from stored
parameters without keeping the token itself (or issuing links from the delivery run, a write
per message there); and the outbox row stays what it is for every other email, the message as
decided. Rendering outside the lock costs the lock nothing; the re-check inside it keeps what
the lock used to guarantee. A run that dies keeps the batches it committed; the next run
queues the rest, each once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import ColumnElement, and_, select

from ...catalogue import DEFAULT_SCHEDULE, FollowUpSchedule
from ...extensions import db
from ...i18n import speaking_to
from ...infrastructure.database import begin_write
from ...models import CheckIn, Clinic, OutboxMessage, Patient, Treatment
from ...timeutil import day_number, local, local_date
from ..patients.followup import is_followed_up
from ..patients.links import link_url, new_tokens, store_links
from .messages import Outgoing, patient_headers, queue_many, render_email
from .reminder_settings import stop_url

REMINDER = "reminder"
REVIEW = "review"
BATCH_SIZE = 200
"""Treatments looked at per batch: memory stays flat however many are in their window, and each
batch's critical section (rendering is outside it) stays well under a quarter of a second
(measured on SQLite at 100k treatments, nearly half of them due at once: 80 ms at 200 in a
quiet run; 100 made the run 15% slower for no shorter lock worth having)."""


@dataclass
class ReminderResult:
    """What one reminder run did."""

    considered: int = 0
    reminders: int = 0
    reviews: int = 0
    batches: int = 0
    longest_write_seconds: float = 0.0
    """The longest critical section of a batch (write lock taken to commit), for the bench."""

    def summary(self) -> str:
        """One line for the logs and the command line."""
        line = (
            f"Looked at {self.considered} treatments in their window; queued {self.reminders} "
            f"check-in reminders and {self.reviews} review reminders"
        )
        if self.longest_write_seconds:
            line += f" (longest batch {1000 * self.longest_write_seconds:.0f} ms)"
        return line + "."


@dataclass(frozen=True)
class Due:
    """A reminder that is due now, in plain values (they outlive the read that found them)."""

    kind: str
    treatment_id: int
    timezone: str
    today: date
    day: int

    @property
    def dedupe_key(self) -> str:
        """The outbox key that keeps this reminder single."""
        if self.kind == REVIEW:
            return f"{REVIEW}:{self.treatment_id}"
        return f"{REMINDER}:{self.treatment_id}:{self.today.isoformat()}"


def due_kind(day: int, schedule: FollowUpSchedule = DEFAULT_SCHEDULE) -> str | None:
    """Which reminder day N of a treatment calls for: review, check-in reminder, or none."""
    if day == schedule.review_day:
        return REVIEW
    if day in schedule.reminder_days:
        return REMINDER
    return None


def send_due_reminders(now: datetime) -> ReminderResult:
    """Queue every check-in and review reminder that is due at `now`, committing per batch.

    Idempotent: a second run at any later time queues nothing already queued, and stores no
    personal link for a reminder it does not send. A job, not a step of someone else's unit of
    work: whatever the session holds is committed first, then each batch commits itself.
    """
    if db.session().in_transaction():
        db.session.commit()
    result = ReminderResult()
    after_id: int | None = 0
    while after_id is not None:
        batch, after_id = _candidates(now, after_id, BATCH_SIZE)
        result.batches += 1
        result.considered += len(batch)
        ready = _render(batch, now)  # plain values: nothing is read after the read ends
        db.session.rollback()  # the read is over (it wrote nothing); the write lock is next
        if ready:
            _write(ready, now, result)
    return result


def _remindable(now: datetime) -> list[ColumnElement[bool]]:
    """SQL conditions on a treatment joined to its patient: its patient is reminded of it."""
    return [
        Patient.reminders_enabled.is_(True),
        Patient.erased_at.is_(None),
        is_followed_up(now),
    ]


def _candidates(
    now: datetime, after_id: int, size: int
) -> tuple[list[tuple[Treatment, Patient, Clinic]], int | None]:
    """Of the next `size` treatments after `after_id` (by id) that may be in their window, those
    followed up for a patient with reminders on; and where the next batch starts (None: this
    batch was the last).

    Two statements, so each batch is an indexed range of ids whatever the database's size: with
    the joins and the patient's conditions in the same statement, SQLite read every treatment
    in the window and sorted them, for every batch (a run at 100k treatments took minutes).
    The window is widened by two days here (a local date can be a day either side of the UTC
    one); `_due` decides exactly, by the patient's local dates.
    """
    earliest = DEFAULT_SCHEDULE.window_start(now) - timedelta(days=2)
    ids = db.session.scalars(
        select(Treatment.id)
        .where(Treatment.treated_at > earliest, Treatment.id > after_id)
        .order_by(Treatment.id)
        .limit(size)
    ).all()
    if not ids:
        return [], None
    rows = db.session.execute(
        select(Treatment, Patient, Clinic)
        .join(Patient, Treatment.patient_id == Patient.id)
        .join(Clinic, Patient.clinic_id == Clinic.id)
        .where(Treatment.id.in_(ids), *_remindable(now))
        .order_by(Treatment.id)
    ).all()
    return [tuple(row) for row in rows], ids[-1] if len(ids) == size else None


def _due(treatment: Treatment, patient: Patient, now: datetime) -> Due | None:
    """The reminder this treatment's patient is due at `now` in their timezone, if any."""
    local_now = local(now, patient.timezone)
    if local_now.time() < patient.reminder_time:
        return None  # wall-clock times: 09:00 is 09:00 whether or not the clocks changed
    day = day_number(treatment.treated_at, now, patient.timezone)
    kind = due_kind(day)
    if kind is None:
        return None
    return Due(kind, treatment.id, patient.timezone, local_now.date(), day)


def _not_queued(due: list[Due]) -> list[Due]:
    """Drop the reminders already in the outbox (before rendering them for nothing)."""
    if not due:
        return []
    queued = set(
        db.session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.in_([d.dedupe_key for d in due])
            )
        )
    )
    return [d for d in due if d.dedupe_key not in queued]


def _still_due(due: list[Due], now: datetime) -> list[Due]:
    """Keep those whose patient is still reminded of that treatment and, for a check-in
    reminder, has not checked in that local day; one statement.

    Run while reading (to render only what will be sent) and again under the write lock (what
    changed while the batch rendered: a check-in, reminders turned off, an erasure, a newer
    treatment).
    """
    if not due:
        return []
    rows = db.session.execute(
        select(Treatment.id.label("treatment_id"), CheckIn.reported_at)
        .join(Patient, Treatment.patient_id == Patient.id)
        .outerjoin(
            CheckIn,
            and_(
                CheckIn.treatment_id == Treatment.id,
                CheckIn.reported_at > now - timedelta(days=2),  # covers any local "today"
            ),
        )
        .where(Treatment.id.in_([d.treatment_id for d in due]), *_remindable(now))
    ).all()
    remindable = {row.treatment_id for row in rows}
    timezones = {d.treatment_id: d.timezone for d in due}
    checked_in = {
        (row.treatment_id, local_date(row.reported_at, timezones[row.treatment_id]))
        for row in rows
        if row.reported_at is not None
    }
    return [
        d
        for d in due
        if d.treatment_id in remindable
        and (d.kind == REVIEW or (d.treatment_id, d.today) not in checked_in)
    ]


@dataclass(frozen=True)
class Ready:
    """A due reminder rendered, with the token of the link it carries (stored if queued)."""

    due: Due
    message: Outgoing
    token: str


def _render(batch: list[tuple[Treatment, Patient, Clinic]], now: datetime) -> list[Ready]:
    """Render the batch's due emails, each with a fresh link token (not stored yet): no lock."""
    rows = {treatment.id: (treatment, patient, clinic) for treatment, patient, clinic in batch}
    due = [d for d in (_due(t, p, now) for t, p, _ in batch) if d is not None]
    due = _still_due(_not_queued(due), now)
    if not due:
        return []
    tokens = new_tokens(rows[d.treatment_id][1].id for d in due)
    expires_at = now + timedelta(hours=current_app.config["PATIENT_LINK_HOURS"])
    ready = []
    for d in due:
        treatment, patient, clinic = rows[d.treatment_id]
        token = tokens[patient.id]
        message = _message(d, treatment, patient, clinic, link_url(token), expires_at)
        ready.append(Ready(d, message, token))
    return ready


def _write(ready: list[Ready], now: datetime, result: ReminderResult) -> None:
    """The batch's critical section: re-check, queue, store the links of what was queued; commit."""
    started = time.perf_counter()
    begin_write()
    still = {d.dedupe_key for d in _still_due([r.due for r in ready], now)}
    ready = [r for r in ready if r.due.dedupe_key in still]
    added = set(queue_many([r.message for r in ready], now))
    queued = [r for r in ready if r.due.dedupe_key in added]
    store_links({r.message.patient_id: r.token for r in queued}, now)
    db.session.commit()
    result.longest_write_seconds = max(result.longest_write_seconds, time.perf_counter() - started)
    for r in queued:
        if r.due.kind == REVIEW:
            result.reviews += 1
        else:
            result.reminders += 1


def _message(
    due: Due,
    treatment: Treatment,
    patient: Patient,
    clinic: Clinic,
    link: str,
    link_expires_at: datetime,
) -> Outgoing:
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
            treatment=treatment,
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
