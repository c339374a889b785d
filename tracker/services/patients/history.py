"""Reading what a patient reported: one check-in of theirs, all of them, and what the clinic was
told of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...models import RESOLVED, CheckIn, Flag, OutboxMessage, SymptomReport, Treatment
from ..messaging.alerts import URGENT_ALERT


def patient_checkin(patient_id: int, checkin_id: int) -> CheckIn | None:
    """One check-in after any of the patient's treatments, or None (also for anyone else's)."""
    return db.session.scalar(
        select(CheckIn)
        .join(Treatment)
        .where(CheckIn.id == checkin_id, Treatment.patient_id == patient_id)
    )


def patient_checkins_query(patient_id: int) -> Select:
    """Every check-in after any of the patient's treatments, with its reports (unordered)."""
    return (
        select(CheckIn)
        .join(Treatment, CheckIn.treatment_id == Treatment.id)
        .where(Treatment.patient_id == patient_id)
        .options(selectinload(CheckIn.reports).selectinload(SymptomReport.symptom))
    )


@dataclass(frozen=True)
class ClinicKnows:
    """What the clinic knows of one symptom a check-in reported, as the patient may be told."""

    since: datetime
    """When the clinic's earliest unresolved flag about it opened."""
    by_this_checkin: bool
    """A flag about it opened with this very check-in."""
    alerted: bool
    """This check-in queued an urgent alert email about it."""


def what_the_clinic_knows(checkin: CheckIn, symptom_ids: Iterable[int]) -> dict[int, ClinicKnows]:
    """For each of these symptoms the clinic has an unresolved flag about, what it was told.

    Only what is true may be said: "alerted" needs an alert email queued by this check-in, not
    merely an urgent symptom (an earlier flag may be open, or the clinic may have no address).
    A flag opened by this check-in has its `opened_at` equal to the check-in's `created_at`:
    the check-in service stamps both from the one `now` of its transaction.
    """
    flags = db.session.scalars(
        select(Flag)
        .where(
            Flag.treatment_id == checkin.treatment_id,
            Flag.status != RESOLVED,
            Flag.symptom_id.in_(list(symptom_ids)),
        )
        .order_by(Flag.opened_at, Flag.id)
    ).all()
    opened_now = [f.id for f in flags if f.opened_at == checkin.created_at]
    alerted_flag_ids = _flags_with_urgent_alerts(opened_now)
    known: dict[int, ClinicKnows] = {}
    for flag in flags:
        earlier = known.get(flag.symptom_id)
        known[flag.symptom_id] = ClinicKnows(
            since=earlier.since if earlier else flag.opened_at,
            by_this_checkin=(earlier is not None and earlier.by_this_checkin)
            or flag.id in opened_now,
            alerted=(earlier is not None and earlier.alerted) or flag.id in alerted_flag_ids,
        )
    return known


def _flags_with_urgent_alerts(flag_ids: list[int]) -> set[int]:
    """Which of these flags have an urgent alert in the outbox (keyed `urgent:<flag id>...`)."""
    if not flag_ids:
        return set()
    keys = db.session.scalars(
        select(OutboxMessage.dedupe_key).where(
            OutboxMessage.kind == URGENT_ALERT,
            or_(
                *(OutboxMessage.dedupe_key == f"urgent:{i}" for i in flag_ids),
                *(OutboxMessage.dedupe_key.like(f"urgent:{i}:%") for i in flag_ids),
            ),
        )
    )
    return {int(key.split(":")[1]) for key in keys}
