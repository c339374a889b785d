"""Recording a treatment, which invites the patient, in one transaction."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...batches import batch_key, product_key, tidy
from ...catalogue import DEFAULT_SCHEDULE
from ...extensions import db
from ...invalid import InvalidInput
from ...models import (
    INDICATIONS,
    CheckIn,
    Flag,
    OutboxMessage,
    Patient,
    SymptomReport,
    Treatment,
    User,
)
from ...timeutil import CLOCK_SKEW, time_problem, utcnow
from ..batches import quarantine
from ..batches.reasons import required_reason
from ..messaging import messages
from .erased import refuse_if_erased
from .followup import followed_up_treatment

TEXT_MAX_CHARS = {"product": 120, "batch_number": 60}
KEY_OF = {"product": product_key, "batch_number": batch_key}
"""Each text's key (tracker/batches.py), stored beside it in a column as long as the text's."""
AREA_MAX_CHARS = 60
MAX_UNITS_PER_AREA = 1000

COMMON_AREAS = ("forehead", "frown lines", "crow's feet", "underarms", "other")
"""The areas the clinic's form offers; the API may name others."""


@dataclass(frozen=True)
class TreatmentDetails:
    """What was given, where and by whom. `treated_at` is aware (any timezone).

    The units come per area (`units_by_area`), or as a total over `areas` without a split
    (`units_total`, as the API may give them): that treatment keeps the areas and the total only.
    """

    treated_at: datetime
    product: str
    batch_number: str
    indication: str
    units_by_area: dict[str, float] = field(default_factory=dict)
    practitioner_id: int | None = None
    areas: tuple[str, ...] = ()
    units_total: float | None = None
    quarantine_reason: str | None = None
    """Why it was given although its batch is quarantined at the clinic (needed then, and
    only then kept)."""


@dataclass(frozen=True)
class RecordedTreatment:
    """The stored treatment and the invite queued with it (None: its follow-up had ended)."""

    treatment: Treatment
    invite: OutboxMessage | None


def _check_units(units_by_area: dict[str, float], errors: dict[str, str]) -> dict[str, float]:
    units: dict[str, float] = {}
    for area, value in units_by_area.items():
        name = (area or "").strip()
        if not name or len(name) > AREA_MAX_CHARS:
            errors["units_by_area"] = f"Name each area in {AREA_MAX_CHARS} characters or fewer."
        elif isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            errors[f"units_by_area.{name}"] = "Give the units as a number."
        elif not 0 <= value <= MAX_UNITS_PER_AREA:
            errors[f"units_by_area.{name}"] = f"Units must be from 0 to {MAX_UNITS_PER_AREA}."
        elif value > 0:
            units[name] = float(value)
    if not units and not errors:
        errors["units_by_area"] = "Give the units for at least one area."
    return units


def _check_total(areas: Sequence[str], total: float, errors: dict[str, str]) -> dict[str, float]:
    """A total over several areas, checked as if shared evenly (so each area's limit holds);
    a problem is reported under `units`. Returns the even split."""
    if not areas:
        errors["areas"] = "Name at least one area."
        return {}
    found: dict[str, str] = {}
    units = _check_units({area: total / len(areas) for area in areas}, found)
    if found:
        errors["units"] = list(found.values())[-1]
    return units


QUARANTINE_REFUSAL = "This batch is quarantined: give a reason to go ahead."


def _quarantine_reason(
    patient: Patient, details: TreatmentDetails, errors: dict[str, str]
) -> str | None:
    """The reason to go ahead if the batch is quarantined at the clinic (an error without
    one), or None when it is not (a reason given anyway is not kept)."""
    if errors.keys() & TEXT_MAX_CHARS.keys():
        return None
    keys = product_key(details.product), batch_key(details.batch_number)
    if quarantine.in_force(patient.clinic_id, *keys) is None:
        return None
    if not (details.quarantine_reason or "").strip():
        errors["quarantine_reason"] = QUARANTINE_REFUSAL
        return None
    try:
        return required_reason(details.quarantine_reason, "quarantine_reason")
    except InvalidInput as invalid:
        errors.update(invalid.fields)
        return None


def _validate(
    patient: Patient, details: TreatmentDetails, now: datetime
) -> tuple[dict[str, float], User | None, str | None]:
    errors: dict[str, str] = {}
    if details.treated_at.tzinfo is None:
        errors["treated_at"] = "Give the time with its timezone."
    elif problem := time_problem(details.treated_at):
        errors["treated_at"] = problem
    elif details.treated_at > now + CLOCK_SKEW:
        errors["treated_at"] = "A treatment cannot be in the future."
    for name, limit in TEXT_MAX_CHARS.items():
        value = (getattr(details, name) or "").strip()
        if not value:
            errors[name] = "Required."
        elif len(value) > limit or len(KEY_OF[name](value)) > limit:  # "ß" keys as "SS"
            errors[name] = f"Keep it to {limit} characters or fewer."
    if details.indication not in INDICATIONS:
        errors["indication"] = "Choose one of: " + ", ".join(INDICATIONS) + "."
    if details.units_total is None:
        units = _check_units(details.units_by_area, errors)
    else:
        units = _check_total(details.areas, details.units_total, errors)
    practitioner = None
    if details.practitioner_id is not None:
        practitioner = db.session.scalar(
            select(User).where(
                User.id == details.practitioner_id,
                User.clinic_id == patient.clinic_id,
                User.is_active.is_(True),
            )
        )
        if practitioner is None:
            errors["practitioner_id"] = "Choose a practitioner of this clinic."
    override = _quarantine_reason(patient, details, errors)
    if errors:
        raise InvalidInput(errors)
    return units, practitioner, override


def record_treatment(
    patient: Patient, details: TreatmentDetails, now: datetime | None = None
) -> RecordedTreatment:
    """Store a treatment and queue the patient's invite with a fresh link, in the caller's
    transaction (flush only). Raises `PatientErased` or `InvalidInput` before writing anything.

    A batch quarantined at the clinic needs `details.quarantine_reason`, kept on the treatment
    (the interfaces audit it as "treatment.quarantine_override").

    A treatment entered after its follow-up window has ended (a record caught up late) invites
    nobody: the invite asks the patient to check in over the coming days.
    """
    refuse_if_erased(patient)
    now = now or utcnow()
    units, practitioner, override = _validate(patient, details, now)
    by_area, total = units, sum(units.values())
    if details.units_total is not None and len(units) > 1:  # a total only: no split is stored
        by_area, total = {}, float(details.units_total)
    treatment = Treatment(
        clinic_id=patient.clinic_id,
        patient=patient,
        practitioner_id=practitioner.id if practitioner else None,
        treated_at=details.treated_at.astimezone(UTC),
        product=tidy(details.product),
        batch_number=tidy(details.batch_number),
        indication=details.indication,
        areas=list(units),
        units_by_area=by_area,
        units_total=total,
        quarantine_reason=override,
        created_at=now,
    )
    db.session.add(treatment)
    db.session.flush()
    if treatment.treated_at < DEFAULT_SCHEDULE.window_start(now):
        return RecordedTreatment(treatment, None)
    return RecordedTreatment(treatment, messages.queue_invite(treatment, now=now))


def resend_invite(patient: Patient, now: datetime | None = None) -> OutboxMessage | None:
    """Queue a new invite with a new link for the treatment being followed up (flush only).

    Returns None when the patient has no treatment yet: there is nothing to check in about.
    Raises `PatientErased` for an erased patient.
    """
    refuse_if_erased(patient)
    now = now or utcnow()
    treatment = followed_up_treatment(patient.id, now)
    if treatment is None:
        return None
    return messages.queue_invite(treatment, resend=True, now=now)


def clinic_staff(clinic_id: int) -> list[User]:
    """The clinic's active staff, who may be named as a treatment's practitioner."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.clinic_id == clinic_id, User.is_active.is_(True))
            .order_by(User.name, User.id)
        )
    )


@dataclass
class TreatmentRecord:
    """A treatment with its check-ins (with severities) and flags, newest first."""

    treatment: Treatment
    checkins: list[CheckIn]
    flags: list[Flag]


def treatment_record(treatment: Treatment) -> TreatmentRecord:
    """Load what the treatment page shows, in three queries."""
    checkins = db.session.scalars(
        select(CheckIn)
        .where(CheckIn.treatment_id == treatment.id)
        .options(selectinload(CheckIn.reports).selectinload(SymptomReport.symptom))
        .order_by(CheckIn.reported_at.desc(), CheckIn.id.desc())
    )
    flags = db.session.scalars(
        select(Flag)
        .where(Flag.treatment_id == treatment.id)
        .options(selectinload(Flag.symptom))
        .order_by(Flag.opened_at.desc(), Flag.id.desc())
    )
    return TreatmentRecord(treatment, list(checkins), list(flags))
