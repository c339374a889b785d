"""The morning digest: each clinic's new flags of the day that were not already emailed at once.

Due once the clinic's local time reaches the digest time, once per clinic and local date, keyed
`digest:<clinic>:<date>`; it goes where urgent alerts go (`alerts.recipients`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from ...catalogue import DEFAULT_SCHEDULE
from ...extensions import db
from ...infrastructure.database import begin_write
from ...models import RESOLVED, Clinic, Flag, OutboxMessage, Patient, Symptom, Treatment
from ...rules import Reason
from ...timeutil import local, local_date
from .alerts import recipient_key, recipients, urgent_alert_queued
from .messages import Email, Outgoing, absolute_url, queue_many, render_email

DIGEST = "digest"
DIGEST_LOOKBACK = timedelta(hours=24)
"""A clinic's first digest lists the flags of the last 24 hours; later ones, since the last."""


@dataclass
class DigestResult:
    """What one digest run did."""

    clinics_due: int = 0
    digests: int = 0
    flags: int = 0
    emails: int = 0

    def summary(self) -> str:
        """One line for the logs and the command line."""
        return (
            f"{self.clinics_due} clinics due a digest; {self.digests} had new flags "
            f"({self.flags} flags, {self.emails} emails queued)."
        )


def send_due_digests(now: datetime) -> DigestResult:
    """Queue each clinic's digest of new non-urgent flags, once its morning has come (flush only).

    Due once the clinic's local time reaches the digest time; one per clinic and local date;
    none when nothing is new. Idempotent; the caller commits.
    """
    begin_write()
    result = DigestResult()
    due = [c for c in db.session.scalars(select(Clinic).order_by(Clinic.id)) if _morning(c, now)]
    last_sent = dict(
        db.session.execute(
            select(OutboxMessage.clinic_id, func.max(OutboxMessage.created_at))
            .where(OutboxMessage.kind == DIGEST, OutboxMessage.clinic_id.in_([c.id for c in due]))
            .group_by(OutboxMessage.clinic_id)
        ).all()
    )
    today = {c.id: local_date(now, c.timezone) for c in due}
    due = [
        c
        for c in due
        if c.id not in last_sent or local_date(last_sent[c.id], c.timezone) < today[c.id]
    ]
    result.clinics_due = len(due)
    if not due:
        return result
    since = {c.id: last_sent.get(c.id, now - DIGEST_LOOKBACK) for c in due}
    new_flags = _new_flags(since, now)
    to = recipients(c for c in due if new_flags[c.id])
    messages = []
    for clinic in due:
        flags = new_flags[clinic.id]
        if not flags:
            continue
        result.digests += 1
        result.flags += len(flags)
        email = _digest_email(clinic, flags, since[clinic.id])
        base = f"{DIGEST}:{clinic.id}:{today[clinic.id].isoformat()}"
        messages += [
            Outgoing(clinic.id, DIGEST, r.address, email, recipient_key(base, r))
            for r in to[clinic.id]
        ]
    result.emails = len(queue_many(messages, now))
    return result


def _morning(clinic: Clinic, now: datetime) -> bool:
    """Whether the clinic's local time today has reached the digest time."""
    return local(now, clinic.timezone).time() >= DEFAULT_SCHEDULE.digest_time


@dataclass(frozen=True)
class DigestLine:
    """One new flag as the digest lists it."""

    flag_id: int
    reason: str
    symptom_name: str | None
    opened_at: datetime
    link: str


def _new_flags(since: dict[int, datetime], now: datetime) -> dict[int, list[DigestLine]]:
    """Each clinic's non-urgent flags opened since its `since` and still not resolved (one query).

    Urgent flags are left out, and any other flag that had its own email at once (a severe or
    worsening urgent symptom), so nothing is told twice. So are flags opened on an erased
    patient's closed record (as the sweep once did): nobody can act on those. Most urgent first.
    """
    found: dict[int, list[DigestLine]] = defaultdict(list)
    rows = db.session.execute(
        select(Flag.id, Flag.clinic_id, Flag.reason, Flag.opened_at, Symptom.name)
        .outerjoin(Symptom, Flag.symptom_id == Symptom.id)
        .join(Treatment, Flag.treatment_id == Treatment.id)
        .join(Patient, Treatment.patient_id == Patient.id)
        .where(
            or_(Patient.erased_at.is_(None), Flag.opened_at < Patient.erased_at),
            Flag.clinic_id.in_(since),
            Flag.reason != Reason.URGENT.value,
            ~urgent_alert_queued(),
            Flag.status != RESOLVED,
            Flag.opened_at > min(since.values()),
            Flag.opened_at <= now,
        )
        .order_by(Flag.opened_at, Flag.id)
    )
    for row in rows:
        if row.opened_at > since[row.clinic_id]:
            link = absolute_url("clinic.flag_detail", flag_id=row.id)
            found[row.clinic_id].append(
                DigestLine(row.id, row.reason, row.name, row.opened_at, link)
            )
    for lines in found.values():
        lines.sort(key=lambda line: Reason(line.reason).priority)  # stable: oldest first within
    return found


def _digest_email(clinic: Clinic, lines: list[DigestLine], since: datetime) -> Email:
    count = len(lines)
    return render_email(
        DIGEST,
        f"{count} new flag{'s' if count != 1 else ''} at {clinic.name}",
        clinic=clinic,
        lines=lines,
        since=since,
        queue_link=absolute_url("clinic.queue"),
    )
