"""The morning digest: each clinic's cases with new flags that were not already emailed at once,
and its batch signals opened since the last digest that are still open.

One line per case (a treatment), with its new reasons, the most urgent first, and a link to the
case; the cases in the queue's order (most urgent reason, then the oldest). Then the batch
signals (an excess is told only here; a spread or a notice was emailed at once too), each with
what the batch watch counted and its cases' links (none for a notice). Due once the
clinic's local time reaches the digest time, once per clinic and local date, keyed
`digest:<clinic>:<date>`; it goes to the alert address, or the admins (`alerts.recipients`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from ...catalogue import DEFAULT_SCHEDULE
from ...extensions import db
from ...infrastructure.database import begin_write
from ...models import (
    EXCESS,
    NOTICE,
    RESOLVED,
    SIGNAL_KINDS,
    SPREAD,
    BatchSignal,
    Clinic,
    Flag,
    OutboxMessage,
    Patient,
    Symptom,
    Treatment,
)
from ...rules import Reason
from ...timeutil import local, local_date
from .alerts import recipient_key, recipients, urgent_alert_queued
from .messages import Email, Outgoing, absolute_url, case_url, queue_many, render_email

DIGEST = "digest"
DIGEST_LOOKBACK = timedelta(hours=24)
"""A clinic's first digest lists the flags of the last 24 hours; later ones, since the last."""


@dataclass
class DigestResult:
    """What one digest run did."""

    clinics_due: int = 0
    digests: int = 0
    cases: int = 0
    flags: int = 0
    signals: int = 0
    emails: int = 0

    def summary(self) -> str:
        """One line for the logs and the command line."""
        return (
            f"{self.clinics_due} clinics due a digest; {self.digests} had new flags "
            f"({self.cases} cases, {self.flags} flags, {self.emails} emails queued)"
            + (f", {self.signals} batch signals." if self.signals else ".")
        )


def send_due_digests(now: datetime) -> DigestResult:
    """Queue each clinic's digest of cases with new flags, once its morning has come (flush only).

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
    new_cases = _new_cases(since, now)
    new_signals = _new_signals(since, now)
    to = recipients(c for c in due if new_cases[c.id] or new_signals[c.id])
    messages = []
    for clinic in due:
        cases, signals = new_cases[clinic.id], new_signals[clinic.id]
        if not cases and not signals:
            continue
        result.digests += 1
        result.cases += len(cases)
        result.flags += sum(len(c.reasons) for c in cases)
        result.signals += len(signals)
        email = _digest_email(clinic, cases, signals, since[clinic.id])
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
class DigestReason:
    """One new flag of a case, as the digest names it: "Severe: Headache"."""

    flag_id: int
    reason: str
    symptom_name: str | None
    opened_at: datetime


@dataclass
class DigestCase:
    """One case (a treatment) with its new flags, the most urgent first."""

    treatment_id: int
    reasons: list[DigestReason] = field(default_factory=list)

    @property
    def priority(self) -> int:
        return Reason(self.reasons[0].reason).priority

    @property
    def opened_at(self) -> datetime:
        """When the first of its new flags opened."""
        return min(r.opened_at for r in self.reasons)

    @property
    def link(self) -> str:
        return case_url(self.treatment_id)


def _new_cases(since: dict[int, datetime], now: datetime) -> dict[int, list[DigestCase]]:
    """Each clinic's cases with flags opened since its `since` and still not resolved (one query).

    Urgent flags are left out, and any other flag that had its own email at once (a severe or
    worsening urgent symptom), so nothing is told twice. So are flags opened on an erased
    patient's closed record (as the sweep once did): nobody can act on those. The cases most
    urgent first, then the oldest; within a case, its reasons most urgent first.
    """
    cases: dict[int, dict[int, DigestCase]] = defaultdict(dict)
    rows = db.session.execute(
        select(
            Flag.id, Flag.clinic_id, Flag.treatment_id, Flag.reason, Flag.opened_at, Symptom.name
        )
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
            case = cases[row.clinic_id].setdefault(row.treatment_id, DigestCase(row.treatment_id))
            case.reasons.append(DigestReason(row.id, row.reason, row.name, row.opened_at))
    found: dict[int, list[DigestCase]] = defaultdict(list)
    for clinic_id, by_treatment in cases.items():
        for case in by_treatment.values():
            case.reasons.sort(key=lambda r: Reason(r.reason).priority)  # stable: oldest first
        found[clinic_id] = sorted(
            by_treatment.values(), key=lambda c: (c.priority, c.opened_at, c.treatment_id)
        )
    return found


@dataclass(frozen=True)
class DigestSignal:
    """One open batch signal, as the digest tells it."""

    title: str
    detail: str
    case_links: list[str]


def describe_signal(signal: BatchSignal) -> DigestSignal:
    """A batch signal in the digest's words: what, which batch, what was counted, its cases."""
    figures = signal.figures or {}
    patients = figures.get("patients", 0)
    if signal.kind == SPREAD:
        symptoms = ", ".join(figures.get("symptoms", []))
        detail = f"{patients} different patients reported signs of toxin spread ({symptoms})."
    elif signal.kind == EXCESS:
        p_value = figures.get("p_value")
        detail = (
            f"{patients} patients with urgent or severe flags: {figures.get('serious', 0)} of "
            f"{figures.get('treatments', 0)} treatments ({figures.get('rate', 0):.0%}), against "
            f"{figures.get('other_rate', 0):.1%} of the product's other batches here "
            f"(one-sided exact binomial test, p = {p_value:.2g})."
        )
    else:
        detail = (
            f"Another clinic on this system: {SIGNAL_KINDS[figures.get('kind', NOTICE)].lower()}"
            f" ({patients} patients). Check your patients treated from this batch."
        )
    return DigestSignal(
        f"{SIGNAL_KINDS[signal.kind]}: {signal.product} batch {signal.batch_number}",
        detail,
        [case_url(treatment_id) for treatment_id in signal.treatment_ids or []],
    )


def _new_signals(since: dict[int, datetime], now: datetime) -> dict[int, list[DigestSignal]]:
    """Each clinic's batch signals opened since its `since` and still open (one query)."""
    found: dict[int, list[DigestSignal]] = defaultdict(list)
    for signal in db.session.scalars(
        select(BatchSignal)
        .where(
            BatchSignal.clinic_id.in_(since),
            BatchSignal.closed_at.is_(None),
            BatchSignal.opened_at > min(since.values()),
            BatchSignal.opened_at <= now,
        )
        .order_by(BatchSignal.opened_at, BatchSignal.id)
    ):
        if signal.opened_at > since[signal.clinic_id]:
            found[signal.clinic_id].append(describe_signal(signal))
    return found


def _digest_email(
    clinic: Clinic, cases: list[DigestCase], signals: list[DigestSignal], since: datetime
) -> Email:
    count, signal_count = len(cases), len(signals)
    signal_words = f"{signal_count} batch signal{'s' if signal_count != 1 else ''}"
    if count:
        subject = f"{count} case{'s' if count != 1 else ''} with new flags"
        subject += f" and {signal_words}" if signal_count else ""
    else:
        subject = signal_words
    return render_email(
        DIGEST,
        f"{subject} at {clinic.name}",
        clinic=clinic,
        cases=cases,
        signals=signals,
        since=since,
        queue_link=absolute_url("clinic.queue"),
    )
