"""Tokens, the catalogue, patients, treatments and check-ins.

Each view finds its rows within the token user's clinic (another clinic's ids are 404), calls
the same service as the web page, writes the same audit row, and commits once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from flask import Response, request, url_for

from ..extensions import db
from ..invalid import InvalidInput
from ..models import CheckIn, Patient, Treatment
from ..services.clinics import catalogue_admin
from ..services.patients import history
from ..services.patients import patients as patients_service
from ..services.patients import treatments as treatments_service
from ..services.patients.checkins import SymptomEntry, record_checkin
from ..services.patients.patients import PatientDetails
from ..services.patients.treatments import TreatmentDetails
from ..services.staff.api_tokens import revoke_token
from . import bp, schemas
from .auth import current_token, current_user, token_for_credentials
from .common import (
    audit_api,
    checkin_fields,
    encode_cursor,
    flag_out,
    page,
    patient_out,
    treatment_fields,
)
from .errors import ApiError
from .spec import operation


@bp.post("/token")
@operation(
    "Get a bearer token",
    tag="auth",
    body=schemas.TokenIn,
    responses={200: schemas.TokenOut},
    public=True,
    errors=(401, 429),
    example={"email": "nurse@riverside.example", "password": "correct horse battery"},
)
def token(body: schemas.TokenIn):
    """A token for a staff account, valid for 12 hours, after the sign-in page's own check:
    the password, then (once the account has a second factor) `otp`, the authenticator's code.
    A 401's code says what is missing: `bad_credentials`, `otp_required`, `invalid_otp`, or
    `enrolment_required` (an account that must set up a second factor in a browser first).
    Throttled like the sign-in page: 5 failures per account or 20 per address in 15 minutes
    answer 429."""
    address = request.remote_addr or ""
    try:
        issued = token_for_credentials(body.email, body.password, body.otp, address)
    except ApiError:
        db.session.commit()  # keep the failed attempt: it counts towards the throttle
        raise
    db.session.commit()
    return schemas.TokenOut(token=issued.token, expires_at=issued.expires_at)


@bp.delete("/token")
@operation("Revoke this token", tag="auth", responses={204: None})
def revoke_this_token():
    """End the token this request is sent with (signing out); other tokens keep working."""
    revoke_token(current_token())
    db.session.commit()
    return Response(status=204)


@bp.get("/symptoms")
@operation("The clinic's symptom catalogue", tag="catalogue", responses={200: schemas.SymptomList})
def symptoms():
    """Every symptom of the clinic's catalogue, in the order the check-in form shows them."""
    rows = catalogue_admin.clinic_symptoms(current_user().clinic_id)
    return schemas.SymptomList(symptoms=[schemas.SymptomOut.model_validate(s) for s in rows])


@bp.post("/patients")
@operation(
    "Add a patient",
    tag="patients",
    body=schemas.PatientIn,
    responses={201: schemas.PatientOut},
    example=schemas.PatientIn.model_config["json_schema_extra"]["examples"][0],
)
def create_patient(body: schemas.PatientIn):
    """Add a patient to the clinic. Record a treatment next: that sends the invite. `language`
    (default `en`) is the language of the patient's pages and emails."""
    details = PatientDetails(
        name=body.name,
        email=body.email,
        timezone=body.timezone,
        phone=body.phone,
        reminder_time=_reminder_time(body.reminder_time or "09:00"),
        language=body.language.value,
        sex=body.sex.value if body.sex else None,
        date_of_birth=body.date_of_birth,
    )
    patient = patients_service.create_patient(current_user().clinic_id, details)
    audit_api("patient.create", patient.id, target=f"patient:{patient.id}")
    db.session.commit()
    location = url_for("api.get_patient", patient_id=patient.id)
    return patient_out(patient), 201, {"Location": location}


@bp.get("/patients/<int:patient_id>")
@operation("A patient", tag="patients", responses={200: schemas.PatientOut})
def get_patient(patient: Patient):
    """The patient's details and treatments."""
    audit_api("patient.view", patient.id)
    result = patient_out(patient)
    db.session.commit()
    return result


def _reminder_time(text: str) -> time:
    """ "07:30" (already checked against `ReminderTime`'s pattern) as a time."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _changed_details(patient: Patient, body: schemas.PatientChangeIn) -> PatientDetails:
    """The patient's details as they are, with the fields the body sent in their place."""
    sent = {name: getattr(body, name) for name in body.model_fields_set}
    if "reminder_time" in sent:
        sent["reminder_time"] = _reminder_time(sent["reminder_time"])
    if "language" in sent:
        sent["language"] = sent["language"].value
    if sent.get("sex") is not None:
        sent["sex"] = sent["sex"].value
    return replace(patients_service.current_details(patient), **sent)


@bp.patch("/patients/<int:patient_id>")
@operation(
    "Change a patient's details",
    tag="patients",
    body=schemas.PatientChangeIn,
    responses={200: schemas.PatientOut},
    errors=(409,),
    example=schemas.PATIENT_CHANGE_EXAMPLE,
)
def update_patient(patient: Patient, body: schemas.PatientChangeIn):
    """Change what the clinic's edit page changes: the fields sent change, the others keep
    their values (`{"language": "cy"}` switches the patient's pages and emails to Welsh).
    Links already sent to an old address still work until they expire. An erased patient's
    record is closed to changes (409 `patient_erased`). Audited with the fields that changed."""
    changed = patients_service.update_patient(patient, _changed_details(patient, body))
    audit_api("patient.update", patient.id, target="fields:" + ",".join(changed))
    result = patient_out(patient)
    db.session.commit()
    return result


@bp.get("/patients/<int:patient_id>/checkins")
@operation(
    "A patient's check-ins",
    tag="patients",
    query=schemas.PageQuery,
    responses={200: schemas.CheckInPage},
)
def patient_checkins(patient: Patient, query: schemas.PageQuery):
    """Every check-in after any of the patient's treatments, oldest first, paged."""
    stmt = history.patient_checkins_query(patient.id)
    rows, more = page(stmt, CheckIn.reported_at, CheckIn.id, query.limit, query.cursor)
    audit_api("patient.checkins.list", patient.id)
    result = schemas.CheckInPage(
        checkins=[schemas.CheckInOut(**checkin_fields(c)) for c in rows],
        next_cursor=encode_cursor(rows[-1].reported_at, rows[-1].id) if more else None,
    )
    db.session.commit()
    return result


def _treatment_details(body: schemas.TreatmentIn) -> TreatmentDetails:
    """The service's details: the units per area when given, else the total over the areas."""
    areas = [area.strip() for area in body.areas]
    if len(set(areas)) != len(areas) or not all(areas):
        raise ApiError(422, fields={"areas": "Name each area once."})
    units: dict[str, float] = {}
    if body.units_by_area is not None:
        units = {area.strip(): value for area, value in body.units_by_area.items()}
        if set(units) != set(areas):
            raise ApiError(
                422, fields={"units_by_area": "Give units for exactly the areas in `areas`."}
            )
        if abs(sum(units.values()) - body.units) > 0.01:
            raise ApiError(422, fields={"units": "The units per area must add up to `units`."})
    return TreatmentDetails(
        treated_at=body.treated_at,
        product=body.product,
        batch_number=body.batch_number,
        indication=body.indication.value,
        units_by_area=units,
        practitioner_id=current_user().id,
        areas=tuple(areas),
        units_total=None if body.units_by_area is not None else body.units,
        quarantine_reason=body.quarantine_reason,
    )


@bp.post("/patients/<int:patient_id>/treatments")
@operation(
    "Record a treatment (sends the invite)",
    tag="treatments",
    body=schemas.TreatmentIn,
    responses={201: schemas.TreatmentCreated},
    errors=(409,),
    example=schemas.TreatmentIn.model_config["json_schema_extra"]["examples"][0],
)
def create_treatment(patient: Patient, body: schemas.TreatmentIn):
    """Record a treatment given by the token's user and queue the patient's invite with a
    fresh personal link, in one transaction. `units_by_area` is optional: without it the
    treatment keeps the areas and the total units only. An erased patient's record is closed
    to new treatments (409 `patient_erased`)."""
    try:
        recorded = treatments_service.record_treatment(patient, _treatment_details(body))
    except InvalidInput as invalid:
        raise ApiError(422, fields=invalid.fields) from None
    treatment = recorded.treatment
    audit_api("treatment.create", patient.id, target=f"treatment:{treatment.id}")
    if treatment.quarantine_reason is not None:
        audit_api("treatment.quarantine_override", patient.id, f"treatment:{treatment.id}")
    result = schemas.TreatmentCreated(
        **treatment_fields(treatment), invite_queued=recorded.invite is not None
    )
    db.session.commit()
    location = url_for("api.get_treatment", treatment_id=treatment.id)
    return result, 201, {"Location": location}


@bp.get("/treatments/<int:treatment_id>")
@operation("A treatment", tag="treatments", responses={200: schemas.TreatmentOut})
def get_treatment(treatment: Treatment):
    """What was given, where, and by whom."""
    audit_api("treatment.view", treatment.patient_id, target=f"treatment:{treatment.id}")
    result = schemas.TreatmentOut(**treatment_fields(treatment))
    db.session.commit()
    return result


def _checkin_error_fields(fields: dict[str, str], body: schemas.CheckInIn) -> dict[str, str]:
    """The service names symptoms by code; the API names them by position in `symptoms`."""
    positions = {entry.code: index for index, entry in enumerate(body.symptoms)}
    renamed = {}
    for key, message in fields.items():
        parts = key.split(".")
        if parts[0] == "symptoms" and len(parts) >= 2 and parts[1] in positions:
            suffix = ".onset" if parts[-1] == "onset_at" else ""
            key = f"symptoms.{positions[parts[1]]}{suffix}"
        renamed[key] = message
    return renamed


@bp.post("/treatments/<int:treatment_id>/checkins")
@operation(
    "Record a check-in (e.g. a phone follow-up)",
    tag="treatments",
    body=schemas.CheckInIn,
    responses={201: schemas.CheckInCreated},
    errors=(409,),
    example=schemas.CheckInIn.model_config["json_schema_extra"]["examples"][0],
)
def create_checkin(treatment: Treatment, body: schemas.CheckInIn):
    """Record how the patient is, as told to a clinician: judged at once by the same rules as
    the patient's own check-in. Symptoms left out count as none. Returns the flags it raised.
    An erased patient's record is closed to new check-ins (409 `patient_erased`)."""
    entries = [SymptomEntry(e.code, e.severity, e.onset) for e in body.symptoms]
    try:
        result = record_checkin(
            treatment,
            entries,
            note=body.note,
            reported_at=body.reported_at,
            source="clinician",
            recorded_by=current_user(),
        )
    except InvalidInput as invalid:
        raise ApiError(422, fields=_checkin_error_fields(invalid.fields, body)) from None
    checkin = result.checkin
    audit_api("checkin.create", treatment.patient_id, target=f"checkin:{checkin.id}")
    db.session.refresh(checkin)
    out = schemas.CheckInCreated(
        **checkin_fields(checkin), new_flags=[flag_out(f) for f in result.new_flags]
    )
    db.session.commit()
    return out, 201
