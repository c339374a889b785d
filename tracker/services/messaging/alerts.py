"""Telling the clinic: an email at once for each urgent flag, and a morning digest of the rest.

Urgent means an urgent flag, or a severe or worsening flag on an urgent symptom
(`alerted_at_once`); one email per flag.

Both go to the clinic's alert address (a clinic setting, e.g. a shared inbox that someone always
reads) or, while it is empty, to each of the clinic's active admins. They name no patient: the
link opens the flag for a signed-in clinician, so a forwarded or misdirected email shows no
health record. Times are in the clinic's timezone.

The urgent alert is queued in the transaction that opens the flag (`flagging` calls
`queue_urgent_alerts` for every flag it opens, from a check-in or the sweep), keyed
`urgent:<flag>`; the digest once per clinic and local date, keyed `digest:<clinic>:<date>`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, func, literal, or_, select

from ...catalogue import DEFAULT_SCHEDULE, URGENT
from ...emails import normalise_email
from ...extensions import db
from ...infrastructure.database import begin_write
from ...models import (
    RESOLVED,
    Clinic,
    Flag,
    OutboxMessage,
    Patient,
    Symptom,
    SymptomReport,
    Treatment,
    User,
)
from ...rules import Reason
from ...timeutil import local, local_date
from ..governance import audit
from .messages import Email, Outgoing, absolute_url, queue_many, render_email

URGENT_ALERT = "urgent_alert"
DIGEST = "digest"
DIGEST_LOOKBACK = timedelta(hours=24)
"""A clinic's first digest lists the flags of the last 24 hours; later ones, since the last."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    """Someone at a clinic who gets its alerts; `key` keeps each one's message single."""

    address: str
    key: str


def recipients(clinics: Iterable[Clinic]) -> dict[int, list[Recipient]]:
    """Each clinic's alert address, or its active admins where it has none (one query at most)."""
    clinics = list(clinics)
    found: dict[int, list[Recipient]] = {
        c.id: [Recipient(c.alert_email, "alerts")] for c in clinics if c.alert_email
    }
    without = [c.id for c in clinics if not c.alert_email]
    for clinic_id in without:
        found[clinic_id] = []
    if without:
        admins = db.session.execute(
            select(User.clinic_id, User.id, User.email)
            .where(User.clinic_id.in_(without), User.role == "admin", User.is_active.is_(True))
            .order_by(User.id)
        )
        for row in admins:
            found[row.clinic_id].append(Recipient(row.email, f"admin:{row.id}"))
    for clinic in clinics:
        if not found[clinic.id]:
            log.warning("Clinic %s has no alert address and no active admin to alert.", clinic.id)
    return found


def _key(base: str, recipient: Recipient) -> str:
    """The dedupe key of one recipient's copy: the bare key for the clinic's alert address."""
    return base if recipient.key == "alerts" else f"{base}:{recipient.key}"


# --- urgent flags ------------------------------------------------------------------------------


ESCALATING = frozenset({Reason.SEVERE.value, Reason.WORSENING.value})
"""Reasons that are alerted at once when the symptom itself is urgent (else: the digest)."""


def alerted_at_once(reason: str, action: str | None) -> bool:
    """Whether a flag with this reason, on a symptom with this catalogue action, is emailed at once.

    An urgent flag always is; a severe or worsening one when its symptom's action is urgent
    (the product rule); every other flag waits for the morning digest.
    """
    return reason == Reason.URGENT.value or (reason in ESCALATING and action == URGENT)


def queue_urgent_alerts(flags: Sequence[Flag]) -> int:
    """Queue an alert for each just-opened flag that `alerted_at_once` (flush only); how many.

    Called in the transaction that opens the flags, so the alert exists exactly when the flag
    does. Set-based: two or three statements however many flags.
    """
    candidates = [f.id for f in flags if f.reason == Reason.URGENT.value or f.reason in ESCALATING]
    if not candidates:
        return 0
    severity = (
        select(SymptomReport.severity)
        .where(
            SymptomReport.treatment_id == Flag.treatment_id,
            SymptomReport.symptom_id == Flag.symptom_id,
            SymptomReport.reported_at <= Flag.observed_at,
        )
        .order_by(SymptomReport.reported_at.desc())
        .limit(1)
        .correlate(Flag)
        .scalar_subquery()
    )
    rows = [
        row
        for row in db.session.execute(
            select(Flag, Clinic, Symptom.name, Symptom.action, severity.label("severity"))
            .join(Clinic, Flag.clinic_id == Clinic.id)
            .outerjoin(Symptom, Flag.symptom_id == Symptom.id)
            .where(Flag.id.in_(candidates))
            .order_by(Flag.id)
        )
        if alerted_at_once(row.Flag.reason, row.action)
    ]
    if not rows:
        return 0
    to = recipients({row.Clinic.id: row.Clinic for row in rows}.values())
    messages = []
    for flag, clinic, symptom_name, _, severity_now in rows:
        what = symptom_name or "urgent symptom"
        if flag.reason != Reason.URGENT.value:  # say what happened to the urgent symptom
            what = f"{flag.reason.capitalize()}: {what}"
        email = render_email(
            URGENT_ALERT,
            f"URGENT: {what} reported to {clinic.name}",
            clinic=clinic,
            flag=flag,
            symptom_name=symptom_name,
            what_happened=_what_happened(flag.reason, symptom_name, severity_now),
            flag_link=absolute_url("clinic.flag_detail", flag_id=flag.id),
        )
        messages += [
            Outgoing(clinic.id, URGENT_ALERT, r.address, email, _key(f"urgent:{flag.id}", r))
            for r in to[clinic.id]
        ]
    return len(queue_many(messages, flags[0].opened_at))


def _what_happened(reason: str, symptom_name: str | None, severity: int | None) -> str:
    """The alert's plain words, e.g. "Difficulty swallowing getting worse (now severity 3 of 4)"."""
    name = symptom_name or "an urgent symptom"
    scale = "" if severity is None else f"severity {severity} of 4"
    if reason == Reason.WORSENING.value:
        return f"{name} getting worse" + (f" (now {scale})" if scale else "")
    if reason == Reason.SEVERE.value:
        name = f"{name} as severe"
    return name + (f" ({scale})" if scale else "")


# --- the morning digest ------------------------------------------------------------------------


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
            Outgoing(clinic.id, DIGEST, r.address, email, _key(base, r)) for r in to[clinic.id]
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
            ~_urgent_alert_queued(),
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


def _urgent_alert_queued():
    """SQL: the flag had its own alert at once (keyed `urgent:<flag>`, or `...:admin:<id>`)."""
    key = literal("urgent:") + cast(Flag.id, String)
    return (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.kind == URGENT_ALERT,
            or_(OutboxMessage.dedupe_key == key, OutboxMessage.dedupe_key.like(key + ":%")),
        )
        .correlate(Flag)
        .exists()
    )


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


# --- the setting -------------------------------------------------------------------------------


def set_alert_email(
    clinic: Clinic, address: str | None, *, actor: User, ip_address: str | None = None
) -> bool:
    """Set (or clear, for the admins) where the clinic's alerts go; audited. False if unchanged."""
    address = (address or "").strip() or None
    if address is not None:
        address = normalise_email(address, field="alert_email")
    if address == clinic.alert_email:
        return False
    clinic.alert_email = address
    audit.record_clinic_change(
        "clinic.alert_email.update", actor=actor, clinic=clinic, ip_address=ip_address
    )
    db.session.flush()
    return True
