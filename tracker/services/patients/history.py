"""Reading what a patient reported: one check-in of theirs, all of them, and what the clinic was
told of it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager, selectinload

from ...extensions import db
from ...models import RESOLVED, CheckIn, Flag, Symptom, SymptomReport, Treatment
from ..messaging.alerts import urgent_alert_queued


def patient_checkin(patient_id: int, checkin_id: int) -> CheckIn | None:
    """One check-in after any of the patient's treatments, or None (also for anyone else's),
    with its treatment and its reports' symptoms (and their translations), read at once."""
    return db.session.scalar(
        select(CheckIn)
        .join(Treatment)
        .where(CheckIn.id == checkin_id, Treatment.patient_id == patient_id)
        .options(
            contains_eager(CheckIn.treatment),
            selectinload(CheckIn.reports)
            .selectinload(SymptomReport.symptom)
            .selectinload(Symptom.translations),
        )
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
    rows = db.session.execute(
        select(Flag.symptom_id, Flag.opened_at, urgent_alert_queued().label("alerted"))
        .where(
            Flag.treatment_id == checkin.treatment_id,
            Flag.status != RESOLVED,
            Flag.symptom_id.in_(list(symptom_ids)),
        )
        .order_by(Flag.opened_at, Flag.id)
    ).all()
    by_symptom: dict[int, list] = defaultdict(list)
    for row in rows:
        by_symptom[row.symptom_id].append(row)
    return {
        symptom_id: ClinicKnows(
            since=flags[0].opened_at,
            by_this_checkin=any(f.opened_at == checkin.created_at for f in flags),
            alerted=any(f.alerted and f.opened_at == checkin.created_at for f in flags),
        )
        for symptom_id, flags in by_symptom.items()
    }
