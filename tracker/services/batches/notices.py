"""Telling clinics of a batch signal: the clinic's own spread alert at once, and a notice to every
other clinic on the installation that used the batch.

Both go to the clinic's alert address and each of its active admins
(`alerts.alert_address_and_admins`): a signal concerns the whole clinic, not one practitioner.
No email names a patient. The spread alert lists the symptom names and links each case for a
signed-in clinician; a notice carries counts only (the kind, patients, treatments), never the
other clinic's name, patients or links. Keyed `batch_signal:<signal id>` for the spread alert,
`batch_signal:<signal id>:patients:<n>` for its follow-up when the signal gains a patient, and
`batch_signal:<notice id>:source:<source id>` for a notice (each with `:<recipient>` for an
admin's copy), so that a retried or concurrent pass queues nothing twice.

A notice is itself a signal (kind `notice`) at the other clinic, with `source_id` the signal it
tells of and empty `treatment_ids`: at most one open per clinic and batch (the open-signal
index). The watch tells the other clinics on every pass, for every open spread or excess
signal (`notify_other_clinics`), so a clinic that starts using the batch later hears of it too.
Each clinic is told once per source signal (`batch_rules.needs_notice`): its notices keep the
sources they told of in `figures["sources"]`; with a notice of the batch open already, that
notice takes the newer source's counts (no second notice) and the clinic is emailed of it once.
A notice of a source signal that grows takes its new counts, without another email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from ... import batch_rules
from ...catalogue import DEFAULT_BATCH_WATCH, BatchWatchPolicy
from ...extensions import db
from ...infrastructure.database import insert_ignoring_conflicts
from ...models import NOTICE, SIGNAL_KINDS, SPREAD, BatchSignal, Clinic, Treatment
from ..messaging.alerts import alert_address_and_admins, recipient_key
from ..messaging.messages import Email, Outgoing, absolute_url, case_url, queue_many, render_email

BATCH_SIGNAL = "batch_signal"
"""The outbox kind of a batch signal's email (a spread alert, or a notice)."""


def _queue_to_clinic(clinic: Clinic, email: Email, now: datetime, base: str) -> int:
    """Queue one email to everyone at the clinic who hears of signals, keyed `base`; how many."""
    to = alert_address_and_admins([clinic])[clinic.id]
    messages = [
        Outgoing(clinic.id, BATCH_SIGNAL, r.address, email, recipient_key(base, r)) for r in to
    ]
    return len(queue_many(messages, now))


def batch_url(signal: BatchSignal) -> str:
    """The public address of the signal's batch page at its clinic, for emails."""
    return absolute_url("clinic.batch_detail", product=signal.product_key, batch=signal.batch_key)


def queue_spread_alert(signal: BatchSignal, now: datetime, grown: bool = False) -> int:
    """Queue the clinic's alert of a spread signal just opened or, `grown`, just joined by a new
    patient (flush only); how many emails."""
    clinic = db.session.get(Clinic, signal.clinic_id)
    figures = signal.figures
    patients = figures["patients"]
    what = f"now {patients} patients" if grown else f"{patients} patients"
    email = render_email(
        "batch_spread_alert",
        f"Possible toxin spread: {signal.product} batch {signal.batch_number} "
        f"({what}) at {clinic.name}",
        clinic=clinic,
        signal=signal,
        figures=figures,
        grown=grown,
        case_links=[case_url(treatment_id) for treatment_id in signal.treatment_ids],
        batch_link=batch_url(signal),
        first_treated_at=datetime.fromisoformat(figures["first_treated_at"]),
        last_treated_at=datetime.fromisoformat(figures["last_treated_at"]),
    )
    base = f"{BATCH_SIGNAL}:{signal.id}"
    return _queue_to_clinic(clinic, email, now, f"{base}:patients:{patients}" if grown else base)


@dataclass
class Told:
    """What telling the other clinics did."""

    notices: int = 0
    emails: int = 0


def other_clinics_using(signal: BatchSignal, since: datetime) -> list[int]:
    """The other clinics that treated from the signal's batch since `since` (one statement,
    through `ix_treatments_batch`)."""
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


def notice_counts(signal: BatchSignal) -> dict:
    """What a notice tells of its source signal: its kind and counts, nothing else."""
    return {
        "kind": signal.kind,
        "patients": signal.figures.get("patients", 0),
        "treatments": len(signal.treatment_ids),
    }


def clinics_to_tell(
    signal: BatchSignal, now: datetime, policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH
) -> list[int]:
    """The other clinics that used the open `signal`'s batch in its lookback (one statement)."""
    return other_clinics_using(signal, min(signal.opened_at, now) - policy.lookback)


def notify_other_clinics(
    signal: BatchSignal,
    now: datetime,
    policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH,
    clinic_ids: list[int] | None = None,
) -> Told:
    """Tell every other clinic that used the open `signal`'s batch in the lookback
    (`clinic_ids`, when the caller has read `clinics_to_tell`) and was not told of it yet, and
    bring its open notice of `signal` up to date (flush only): one statement for their notices
    of the batch (`ix_batch_signals_batch`) when there is nothing to do. What was done."""
    told = Told()
    if clinic_ids is None:
        clinic_ids = clinics_to_tell(signal, now, policy)
    if not clinic_ids:
        return told
    existing = db.session.execute(
        select(BatchSignal.id, BatchSignal.clinic_id, BatchSignal.closed_at, BatchSignal.source_id)
        .add_columns(BatchSignal.figures)
        .where(
            BatchSignal.product_key == signal.product_key,
            BatchSignal.batch_key == signal.batch_key,
            BatchSignal.clinic_id.in_(clinic_ids),
            BatchSignal.kind == NOTICE,
        )
    ).all()
    counts = notice_counts(signal)
    to_tell: dict[int, int] = {}  # clinic id: its notice of `signal`, to email
    for clinic_id in clinic_ids:
        rows = [r for r in existing if r.clinic_id == clinic_id]
        open_row = next((r for r in rows if r.closed_at is None), None)
        told_sources = {
            source for r in rows for source in (r.source_id, *(r.figures or {}).get("sources", ()))
        }
        if not batch_rules.needs_notice(told_sources, signal.id):
            if open_row is not None and open_row.source_id == signal.id:
                _refresh_counts(open_row, counts)
            continue
        if open_row is not None:
            sources = sorted({*(open_row.figures or {}).get("sources", ()), signal.id})
            db.session.execute(
                update(BatchSignal)
                .where(BatchSignal.id == open_row.id)
                .values(source_id=signal.id, figures={**counts, "sources": sources})
                .execution_options(synchronize_session=False)
            )
            to_tell[clinic_id] = open_row.id
            continue
        notice_id = db.session.execute(
            insert_ignoring_conflicts(BatchSignal)
            .values(
                clinic_id=clinic_id,
                kind=NOTICE,
                product_key=signal.product_key,
                batch_key=signal.batch_key,
                product=signal.product,
                batch_number=signal.batch_number,
                treatment_ids=[],
                figures={**counts, "sources": [signal.id]},
                source_id=signal.id,
                opened_at=now,
            )
            .returning(BatchSignal.id)
        ).scalar()
        if notice_id is not None:  # else another pass opened it meanwhile, and tells of it
            to_tell[clinic_id] = notice_id
            told.notices += 1
    if to_tell:
        told.emails = _email_notices(signal, to_tell, counts, now, policy)
    return told


def _refresh_counts(notice_row, counts: dict) -> None:
    """Give an open notice its source signal's current counts (it grew), if they changed."""
    figures = notice_row.figures or {}
    if all(figures.get(name) == value for name, value in counts.items()):
        return
    db.session.execute(
        update(BatchSignal)
        .where(BatchSignal.id == notice_row.id)
        .values(figures={**figures, **counts})
        .execution_options(synchronize_session=False)
    )


def _email_notices(
    signal: BatchSignal, notice_ids: dict[int, int], counts: dict, now, policy
) -> int:
    """Email each clinic its notice of `signal` (`notice_ids`: clinic id to notice id) once per
    source signal; how many emails."""
    emails = 0
    for clinic in db.session.scalars(select(Clinic).where(Clinic.id.in_(notice_ids))):
        notice = db.session.get(BatchSignal, notice_ids[clinic.id], populate_existing=True)
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
        base = f"{BATCH_SIGNAL}:{notice.id}:source:{signal.id}"
        emails += _queue_to_clinic(clinic, email, now, base)
    return emails
