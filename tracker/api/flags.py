"""Flags: the list, acknowledge and resolve; and a treatment's FHIR R4 export."""

from __future__ import annotations

from flask import current_app, jsonify

from ..extensions import db
from ..models import Flag, Treatment
from ..services.flags import flag_actions
from ..services.flags import queue as queue_service
from ..services.flags.fhir import export_treatment
from ..services.flags.queue import ALL_STATUSES, FlagFilters
from . import bp, fhir, schemas
from .auth import current_user
from .common import audit_api, encode_cursor, flag_out, page
from .errors import ApiError
from .spec import operation


@bp.get("/flags")
@operation(
    "The clinic's flags",
    tag="flags",
    query=schemas.FlagQuery,
    responses={200: schemas.FlagPage},
)
def flags(query: schemas.FlagQuery):
    """Flags oldest first, filtered by status (default: open and acknowledged), reason and
    treatment, paged with `limit` and `cursor`."""
    status = query.status.value if query.status not in (None, "all") else query.status
    filters = FlagFilters(
        reason=query.reason.value if query.reason else None,
        status=ALL_STATUSES if status == "all" else status,
    )
    stmt = queue_service.queue_query(current_user().clinic_id, filters)
    if query.treatment_id is not None:
        stmt = stmt.where(Flag.treatment_id == query.treatment_id)
    rows, more = page(stmt, Flag.opened_at, Flag.id, query.limit, query.cursor)
    target = filters.describe() + (f";treatment={query.treatment_id}" if query.treatment_id else "")
    audit_api("flags.list", target=target)
    result = schemas.FlagPage(
        flags=[flag_out(f) for f in rows],
        next_cursor=encode_cursor(rows[-1].opened_at, rows[-1].id) if more else None,
    )
    db.session.commit()
    return result


@bp.post("/flags/<int:flag_id>/acknowledge")
@operation(
    "Acknowledge a flag",
    tag="flags",
    body=schemas.NoBody,
    body_required=False,
    responses={200: schemas.FlagOut},
    errors=(409,),
)
def acknowledge_flag(flag: Flag, body: schemas.NoBody):
    """Mark an open flag as being looked at, by the token's user; 409 if it is not open."""
    try:
        flag_actions.acknowledge(flag, current_user())
    except flag_actions.FlagConflict as conflict:
        raise ApiError(409, str(conflict)) from None
    audit_api("flag.acknowledge", flag.treatment.patient_id, target=f"flag:{flag.id}")
    result = flag_out(flag)
    db.session.commit()
    return result


@bp.post("/flags/<int:flag_id>/resolve")
@operation(
    "Resolve a flag with an outcome",
    tag="flags",
    body=schemas.ResolveIn,
    responses={200: schemas.FlagOut},
    errors=(409,),
    example={"outcome": "reassured", "note": "Settled by day 5."},
)
def resolve_flag(flag: Flag, body: schemas.ResolveIn):
    """Close an open or acknowledged flag with an outcome and an optional note; 409 if it is
    already resolved."""
    try:
        flag_actions.resolve(flag, current_user(), body.outcome.value, body.note)
    except flag_actions.FlagConflict as conflict:
        raise ApiError(409, str(conflict)) from None
    audit_api("flag.resolve", flag.treatment.patient_id, target=f"flag:{flag.id}")
    result = flag_out(flag)
    db.session.commit()
    return result


@bp.get("/treatments/<int:treatment_id>/fhir")
@operation(
    "A treatment as an HL7 FHIR R4 Bundle",
    tag="treatments",
    responses={200: fhir.FhirBundle},
    media_type="application/fhir+json",
)
def treatment_fhir(treatment: Treatment):
    """A Bundle (type collection) with the Patient, the Procedure, the product and batch as a
    Medication, one QuestionnaireResponse per check-in and one AdverseEvent per flag."""
    bundle = export_treatment(treatment, current_app.config["TRACKER_BASE_URL"])
    audit_api("treatment.export.fhir", treatment.patient_id, target=f"treatment:{treatment.id}")
    db.session.commit()
    response = jsonify(bundle)
    response.mimetype = "application/fhir+json"
    return response
