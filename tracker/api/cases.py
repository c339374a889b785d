"""Cases: the clinic's queue of cases, assigning one, and resolving a whole case."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta

from ..extensions import db
from ..models import Flag, Treatment
from ..services.flags import case_actions, cases, regulator_report
from ..services.flags.cases import CaseFilters, QueuePlace
from . import bp, schemas
from .auth import current_user
from .common import audit_api, flag_out
from .errors import ApiError
from .report_schemas import ReportIn, ReportOut, report_out
from .spec import operation


def case_out(treatment: Treatment, flags: list[Flag]) -> schemas.CaseOut:
    """A case: the treatment and its active `flags`, most urgent first."""
    assignee = treatment.assigned_to
    return schemas.CaseOut(
        treatment_id=treatment.id,
        patient_id=treatment.patient_id,
        reasons=cases.reasons_of(flags),
        flags=[flag_out(f) for f in flags],
        assigned_to=schemas.StaffBrief(id=assignee.id, name=assignee.name) if assignee else None,
        opened_at=min((f.opened_at for f in flags), default=None),
    )


def encode_place(place: QueuePlace) -> str:
    raw = f"{place.top_priority}|{place.first_opened_at.isoformat()}|{place.treatment_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_place(cursor: str) -> QueuePlace:
    """The queue place a cursor names, or a 422 for anything this API did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        priority, at_text, id_text = raw.split("|")
        place = QueuePlace(int(priority), datetime.fromisoformat(at_text), int(id_text))
        if place.first_opened_at.utcoffset() != timedelta(0) or encode_place(place) != cursor:
            raise ValueError(raw)
        if not 0 <= place.top_priority < 10 or not 0 < place.treatment_id <= schemas.MAX_ID:
            raise ValueError(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ApiError(422, fields={"cursor": "Not a cursor from this API."}) from None
    return place


@bp.get("/cases")
@operation(
    "The clinic's cases",
    tag="cases",
    query=schemas.CaseQuery,
    responses={200: schemas.CasePage},
)
def case_list(query: schemas.CaseQuery):
    """Cases (treatments with open or acknowledged flags) in the queue's order: the most urgent
    reason first, then the oldest; filtered by reason, status, practitioner and "assigned to me",
    paged with `limit` and `cursor`."""
    user = current_user()
    filters = CaseFilters(
        reason=query.reason.value if query.reason else None,
        status=query.status,
        practitioner_id=query.practitioner_id,
        assigned_to_id=user.id if query.assigned == "me" else None,
    )
    after = decode_place(query.cursor) if query.cursor else None
    stmt = cases.cases_after_query(user.clinic_id, filters, after, query.limit + 1)
    loaded = cases.load_cases(stmt, None)
    more, loaded = len(loaded) > query.limit, loaded[: query.limit]
    audit_api("cases.list", target=filters.describe())
    result = schemas.CasePage(
        cases=[case_out(case.row.treatment, case.row.flags) for case in loaded],
        next_cursor=encode_place(loaded[-1].place) if more else None,
    )
    db.session.commit()
    return result


@bp.post("/cases/<int:treatment_id>/assign")
@operation(
    "Assign a case to a clinician, or to nobody",
    tag="cases",
    body=schemas.AssignIn,
    responses={200: schemas.CaseOut},
    errors=(409,),
    example={"assignee_id": 1},
)
def assign_case(treatment: Treatment, body: schemas.AssignIn):
    """Give the case to an active clinician of the clinic (or to nobody, with null); 409 for a
    user of another clinic, a deactivated account, or a case with no open flags."""
    try:
        assignee = case_actions.assign(treatment, body.assignee_id)
    except case_actions.CaseConflict as conflict:
        raise ApiError(409, str(conflict)) from None
    target = f"treatment:{treatment.id}" + (f";user:{assignee.id}" if assignee else "")
    audit_api("case.assign" if assignee else "case.unassign", treatment.patient_id, target)
    db.session.flush()
    db.session.refresh(treatment)
    result = case_out(treatment, case_actions.active_flags(treatment))
    db.session.commit()
    return result


@bp.post("/cases/<int:treatment_id>/resolve")
@operation(
    "Resolve every flag of a case with one outcome",
    tag="cases",
    body=schemas.CaseResolveIn,
    responses={200: schemas.CaseResolved},
    errors=(409,),
    example={"outcome": "reassured", "flag_ids": [1, 2]},
)
def resolve_case(treatment: Treatment, body: schemas.CaseResolveIn):
    """Close the case's open and acknowledged flags with an outcome (the note kept once);
    409, and nothing resolved, if `flag_ids` are not exactly the case's active flags. As
    `reported_to_regulator` it needs the regulator's `reference` (and takes `reported_on`),
    kept on the case's regulator report."""
    try:
        resolved = case_actions.resolve_case(
            treatment,
            current_user(),
            body.outcome.value,
            body.note,
            body.flag_ids,
            reported_on=body.reported_on,
            reference=body.reference,
        )
    except case_actions.CaseConflict as conflict:
        raise ApiError(409, str(conflict)) from None
    for flag in resolved:
        audit_api("flag.resolve", treatment.patient_id, target=f"flag:{flag.id}")
    result = schemas.CaseResolved(treatment_id=treatment.id, flags=[flag_out(f) for f in resolved])
    db.session.commit()
    return result


def _case_report(treatment: Treatment) -> regulator_report.Report:
    """The case's report with the token's user as its reporter; 404 for a treatment without
    flags (no case)."""
    if not regulator_report.case_flags(treatment):
        raise ApiError(404)
    return regulator_report.build_report(treatment, current_user())


@bp.get("/cases/<int:treatment_id>/report")
@operation("A case's regulator report", tag="cases", responses={200: ReportOut})
def get_case_report(treatment: Treatment):
    """Every field of the MHRA Yellow Card and the FDA MedWatch 3500, filled from the record
    with the token's user as the reporter; `missing` lists what the report still lacks."""
    result = report_out(_case_report(treatment))
    audit_api("report.view", treatment.patient_id, target=f"treatment:{treatment.id}")
    db.session.commit()
    return result


SYMPTOM_ID_KEY = re.compile(r"[0-9]{1,10}")


def _descriptions(sent: dict[str, str]) -> dict[int, str]:
    if any(not SYMPTOM_ID_KEY.fullmatch(key) for key in sent):  # not isdigit(): "²" is a digit
        raise ApiError(422, fields={"descriptions": "Key each description by a symptom_id."})
    return {int(key): text for key, text in sent.items()}


@bp.put("/cases/<int:treatment_id>/report")
@operation(
    "Give the clinician's part of a case's regulator report",
    tag="cases",
    body=ReportIn,
    responses={200: ReportOut},
    example=ReportIn.model_config["json_schema_extra"]["examples"][0],
)
def put_case_report(treatment: Treatment, body: ReportIn):
    """Replace the seriousness criteria, the confirmed outcome (null: not confirmed), other
    medicines and each reaction's description; 422, nothing saved, for a criterion or outcome
    that does not exist, a text too long or a symptom that is not a reaction of the case."""
    report = _case_report(treatment)
    changes = regulator_report.ReportChanges(
        seriousness=[c.value for c in body.seriousness],
        outcome=body.outcome.value if body.outcome else None,
        other_medicines=body.other_medicines,
        descriptions=_descriptions(body.descriptions),
    )
    regulator_report.update_report(report, current_user(), changes)
    audit_api("report.update", treatment.patient_id, target=f"treatment:{treatment.id}")
    result = report_out(regulator_report.build_report(treatment, current_user()))
    db.session.commit()
    return result
