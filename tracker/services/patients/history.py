"""Reading what a patient reported: one check-in of theirs, all of them, and what it alerted."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...models import RESOLVED, CheckIn, Flag, SymptomReport, Treatment


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


def alerted_symptom_ids(checkin: CheckIn, symptom_ids: Iterable[int]) -> set[int]:
    """Which of these symptoms the clinic has an unresolved flag about, for the check-in's
    treatment (the patient's answer page says the clinic knows)."""
    flags = db.session.scalars(
        select(Flag).where(
            Flag.treatment_id == checkin.treatment_id,
            Flag.status != RESOLVED,
            Flag.symptom_id.in_(list(symptom_ids)),
        )
    )
    return {flag.symptom_id for flag in flags}
