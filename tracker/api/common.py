"""What every API view shares: clinic-scoped lookups, audit rows, cursors, and serialisers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import request
from sqlalchemy import Select, select

from ..extensions import db
from ..infrastructure.database import keyset_page
from ..models import CheckIn, Flag, Patient, Photo, Treatment
from ..services.governance import audit
from . import schemas
from .auth import current_user
from .errors import ApiError

Model = TypeVar("Model", Patient, Treatment, Flag, CheckIn, Photo)


def owned_or_404(model: type[Model], object_id: int) -> Model:
    """A patient, treatment, flag, check-in or photo of the token user's clinic; anything else
    is a 404 (a check-in is the clinic's through its treatment)."""
    clinic_id = current_user().clinic_id
    stmt = select(model).where(model.id == object_id)
    if model is CheckIn:
        stmt = stmt.join(Treatment, Treatment.id == CheckIn.treatment_id)
        stmt = stmt.where(Treatment.clinic_id == clinic_id)
    else:
        stmt = stmt.where(model.clinic_id == clinic_id)
    found = db.session.scalar(stmt)
    if found is None:
        raise ApiError(404)
    return found


PATH_RECORDS = {
    "patient_id": Patient,
    "treatment_id": Treatment,
    "flag_id": Flag,
    "checkin_id": CheckIn,
    "photo_id": Photo,
}
PATH_CHECKS: list[Callable[[dict[str, Any]], None]] = []
"""Other records a URL may name, each checked (404) with the ids: e.g. a batch by its keys."""


def load_path_records(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Replace each record id from the URL (`patient_id`) by the record (`patient`), or 404."""
    for check in PATH_CHECKS:
        check(kwargs)
    loaded = {}
    for name, value in kwargs.items():
        model = PATH_RECORDS.get(name)
        if model is None:
            loaded[name] = value
        else:
            loaded[name.removesuffix("_id")] = owned_or_404(model, value)
    return loaded


def audit_api(action: str, patient_id: int | None = None, target: str | None = None) -> None:
    """The same audit row the web pages write, with the token's user as the actor."""
    user = current_user()
    audit.record(
        action,
        actor_type="user",
        actor_id=user.id,
        clinic_id=user.clinic_id,
        patient_id=patient_id,
        target=target,
        ip_address=request.remote_addr,
    )


# --- cursors: opaque to clients, (timestamp, id) of the last row inside --------------------


def encode_cursor(at: datetime, row_id: int) -> str:
    raw = f"{at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position a cursor names, or a 422 for anything this API did not hand out.

    Only a cursor exactly as `encode_cursor` writes it is taken: a time in UTC (one in another
    offset, forged near year 1 or 9999, would overflow on its way to UTC) and an id that fits.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, id_text = raw.split("|")
        at = datetime.fromisoformat(at_text)
        row_id = int(id_text)
        if at.utcoffset() != timedelta(0) or not 0 < row_id <= schemas.MAX_ID:
            raise ValueError(raw)
        if encode_cursor(at, row_id) != cursor:
            raise ValueError(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ApiError(422, fields={"cursor": "Not a cursor from this API."}) from None
    return at, row_id


def page(stmt: Select, at_column: Any, id_column: Any, limit: int, cursor: str | None):
    """One page of `stmt` in (time, id) order after `cursor`, and whether more follow."""
    after = decode_cursor(cursor) if cursor else None
    return keyset_page(stmt, at_column, id_column, limit, after)


# --- serialisers -----------------------------------------------------------------------------


def patient_out(patient: Patient) -> schemas.PatientOut:
    return schemas.PatientOut(
        id=patient.id,
        name=patient.name,
        email=patient.email,
        phone=patient.phone,
        timezone=patient.timezone,
        reminder_time=patient.reminder_time.strftime("%H:%M"),
        reminders_enabled=patient.reminders_enabled,
        language=patient.language,
        sex=patient.sex,
        date_of_birth=patient.date_of_birth,
        created_at=patient.created_at,
        treatments=[schemas.TreatmentBrief.model_validate(t) for t in patient.treatments],
    )


def treatment_fields(treatment: Treatment) -> dict[str, Any]:
    practitioner = treatment.practitioner
    return {
        "id": treatment.id,
        "patient_id": treatment.patient_id,
        "treated_at": treatment.treated_at,
        "product": treatment.product,
        "batch_number": treatment.batch_number,
        "indication": treatment.indication,
        "areas": list(treatment.areas),
        "units": treatment.units_total,
        "units_by_area": dict(treatment.units_by_area),
        "practitioner": schemas.Practitioner.model_validate(practitioner) if practitioner else None,
        "created_at": treatment.created_at,
    }


def checkin_fields(checkin: CheckIn) -> dict[str, Any]:
    return {
        "id": checkin.id,
        "treatment_id": checkin.treatment_id,
        "reported_at": checkin.reported_at,
        "source": checkin.source,
        "note": checkin.note,
        "symptoms": [
            schemas.SymptomReportOut(code=r.symptom.code, severity=r.severity, onset=r.onset_at)
            for r in checkin.reports
        ],
    }


def flag_out(flag: Flag, patient_id: int | None = None) -> schemas.FlagOut:
    """The flag; `patient_id` saves loading its treatment when the caller knows it."""
    return schemas.FlagOut(
        id=flag.id,
        treatment_id=flag.treatment_id,
        patient_id=flag.treatment.patient_id if patient_id is None else patient_id,
        symptom=flag.symptom.code if flag.symptom else None,
        reason=flag.reason,
        status=flag.status,
        opened_at=flag.opened_at,
        acknowledged_at=flag.acknowledged_at,
        resolved_at=flag.resolved_at,
        outcome=flag.outcome,
    )
