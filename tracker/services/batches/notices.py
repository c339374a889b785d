"""Telling clinics of a batch signal: the clinic's own spread alert at once, and a notice to every
other clinic on the installation that used the batch.

Both go to the clinic's alert address and each of its active admins
(`alerts.alert_address_and_admins`): a signal concerns the whole clinic, not one practitioner.
No email names a patient. The spread alert lists the symptom names and links each case for a
signed-in clinician; a notice carries counts only (the kind, patients, treatments), never the
other clinic's name, patients or links. Keyed `batch_signal:<signal id>` (with `:<recipient>`
for an admin's copy), queued in the transaction that opens the signal.

A notice is itself a signal (kind `notice`) at the other clinic, with `source_id` the signal it
tells of and empty `treatment_ids`: at most one open per clinic and batch (the open-signal
index), and a clinic that closed the notice of a source signal is not told of it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ... import batch_rules
from ...catalogue import DEFAULT_BATCH_WATCH, BatchWatchPolicy
from ...extensions import db
from ...infrastructure.database import insert_ignoring_conflicts
from ...models import NOTICE, SIGNAL_KINDS, SPREAD, BatchSignal, Clinic, Treatment
from ..messaging.alerts import alert_address_and_admins, recipient_key
from ..messaging.messages import Email, Outgoing, absolute_url, case_url, queue_many, render_email

BATCH_SIGNAL = "batch_signal"
"""The outbox kind of a batch signal's email (a spread alert, or a notice)."""


def _queue_to_clinic(signal: BatchSignal, clinic: Clinic, email: Email, now: datetime) -> int:
    """Queue one signal's email to everyone at the clinic who hears of signals; how many."""
    base = f"{BATCH_SIGNAL}:{signal.id}"
    to = alert_address_and_admins([clinic])[clinic.id]
    messages = [
        Outgoing(clinic.id, BATCH_SIGNAL, r.address, email, recipient_key(base, r)) for r in to
    ]
    return len(queue_many(messages, now))


def batch_url(signal: BatchSignal) -> str:
    """The public address of the signal's batch page at its clinic, for emails."""
    return absolute_url("clinic.batch_detail", product=signal.product_key, batch=signal.batch_key)


def queue_spread_alert(signal: BatchSignal, now: datetime) -> int:
    """Queue the clinic's alert of a spread signal just opened (flush only); how many emails."""
    clinic = db.session.get(Clinic, signal.clinic_id)
    figures = signal.figures
    email = render_email(
        "batch_spread_alert",
        f"Possible toxin spread: {signal.product} batch {signal.batch_number} "
        f"({figures['patients']} patients) at {clinic.name}",
        clinic=clinic,
        signal=signal,
        figures=figures,
        case_links=[case_url(treatment_id) for treatment_id in signal.treatment_ids],
        batch_link=batch_url(signal),
        first_treated_at=datetime.fromisoformat(figures["first_treated_at"]),
        last_treated_at=datetime.fromisoformat(figures["last_treated_at"]),
    )
    return _queue_to_clinic(signal, clinic, email, now)


@dataclass
class Told:
    """What telling the other clinics did."""

    notices: int = 0
    emails: int = 0


def other_clinics_using(
    signal: BatchSignal, policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH
) -> list[int]:
    """The other clinics that treated from the signal's batch in the lookback (one statement)."""
    since = signal.opened_at - policy.lookback
    return list(
        db.session.scalars(
            select(Treatment.clinic_id)
            .distinct()
            .where(
                Treatment.product_key == signal.product_key,
                Treatment.batch_key == signal.batch_key,
                Treatment.clinic_id != signal.clinic_id,
                Treatment.treated_at >= since,
            )
            .order_by(Treatment.clinic_id)
        )
    )


def notify_other_clinics(
    signal: BatchSignal, now: datetime, policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH
) -> Told:
    """Open a notice of `signal` at every other clinic that used its batch, and email it
    (flush only); what was done."""
    told = Told()
    clinic_ids = other_clinics_using(signal, policy)
    if not clinic_ids:
        return told
    existing = db.session.execute(
        select(BatchSignal.clinic_id, BatchSignal.closed_at, BatchSignal.source_id).where(
            BatchSignal.clinic_id.in_(clinic_ids),
            BatchSignal.kind == NOTICE,
            BatchSignal.product_key == signal.product_key,
            BatchSignal.batch_key == signal.batch_key,
        )
    ).all()
    counts = {
        "kind": signal.kind,
        "patients": signal.figures.get("patients", 0),
        "treatments": len(signal.treatment_ids),
    }
    for clinic in db.session.scalars(select(Clinic).where(Clinic.id.in_(clinic_ids))):
        rows = [r for r in existing if r.clinic_id == clinic.id]
        has_open = any(r.closed_at is None for r in rows)
        if not batch_rules.needs_notice(has_open, {r.source_id for r in rows}, signal.id):
            continue
        notice_id = db.session.execute(
            insert_ignoring_conflicts(BatchSignal)
            .values(
                clinic_id=clinic.id,
                kind=NOTICE,
                product_key=signal.product_key,
                batch_key=signal.batch_key,
                product=signal.product,
                batch_number=signal.batch_number,
                treatment_ids=[],
                figures=counts,
                source_id=signal.id,
                opened_at=now,
            )
            .returning(BatchSignal.id)
        ).scalar()
        if notice_id is None:
            continue
        notice = db.session.get(BatchSignal, notice_id)
        told.notices += 1
        email = render_email(
            "batch_notice",
            f"A batch you used: {notice.product} batch {notice.batch_number} "
            f"({SIGNAL_KINDS[signal.kind].lower()} at another clinic)",
            clinic=clinic,
            signal=notice,
            figures=counts,
            what=SIGNAL_KINDS[signal.kind],
            is_spread=signal.kind == SPREAD,
            lookback_days=policy.lookback_days,
            batch_link=batch_url(notice),
        )
        told.emails += _queue_to_clinic(notice, clinic, email, now)
    return told
