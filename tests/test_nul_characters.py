"""A NUL character anywhere from outside is a clear field error or 4xx, never a 500 or a row.

PostgreSQL refuses NUL in text (SQLite would store it), so these run on both engines. Every
form's fields are walked in `test_form_fuzz`; here: the API's bodies and any query string.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.api_helpers import assert_error
from tests.cases import flagged_case
from tracker.api import schemas
from tracker.extensions import db
from tracker.inputs import NUL_ERROR
from tracker.models import AuditEvent, CheckIn, Flag, LoginAttempt, Patient, Treatment

NUL = "\x00"


@pytest.fixture
def case(app, admin, make_patient, time_machine):
    return flagged_case(app, admin, make_patient, time_machine)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def example(model) -> dict:
    """The valid body the OpenAPI document shows for `model`."""
    return model.model_config["json_schema_extra"]["examples"][0]


PATIENT = example(schemas.PatientIn)
TREATMENT = example(schemas.TreatmentIn)
CHECKIN = {**example(schemas.CheckInIn), "reported_at": None}

BODIES = {
    "patient name": ("patients", PATIENT, {"name": f"Ada{NUL}"}, "name"),
    "patient email": ("patients", PATIENT, {"email": f"ada{NUL}@example.com"}, "email"),
    "patient timezone": ("patients", PATIENT, {"timezone": f"Europe/London{NUL}"}, "timezone"),
    "patient phone": ("patients", PATIENT, {"phone": f"+44 20{NUL}"}, "phone"),
    "product": ("treatments", TREATMENT, {"product": f"Bo{NUL}tox"}, "product"),
    "batch": ("treatments", TREATMENT, {"batch_number": f"C{NUL}1"}, "batch_number"),
    "an area": (
        "treatments",
        TREATMENT,
        {"areas": [f"fore{NUL}head"], "units_by_area": {f"fore{NUL}head": 30}},
        "areas",
    ),
    "an area's units key": (
        "treatments",
        TREATMENT,
        {"units_by_area": {"forehead": 10, f"frown{NUL}": 20}},
        "units_by_area",
    ),
    "check-in note": ("checkins", CHECKIN, {"note": f"call{NUL}"}, "note"),
    "symptom code": (
        "checkins",
        CHECKIN,
        {"symptoms": [{"code": f"head{NUL}ache", "severity": 2}]},
        "symptoms.0.code",
    ),
}


@pytest.mark.parametrize(("where", "body", "change", "field"), BODIES.values(), ids=BODIES.keys())
def test_a_nul_in_any_string_of_an_api_body_is_422_naming_the_field(
    case, where, body, change, field
):
    url = {
        "patients": "/api/v1/patients",
        "treatments": f"/api/v1/patients/{case['patient'].id}/treatments",
        "checkins": f"/api/v1/treatments/{case['treatment'].id}/checkins",
    }[where]
    before = (count(Patient), count(Treatment), count(CheckIn), count(AuditEvent))
    fields = assert_error(case["api"].post(url, json={**body, **change}), 422, "invalid_fields")
    assert fields.get(field) == NUL_ERROR, fields
    assert (count(Patient), count(Treatment), count(CheckIn), count(AuditEvent)) == before


def test_a_nul_in_a_resolution_note_is_422_and_the_flag_stays_open(case):
    flag = case["flag"]
    url = f"/api/v1/flags/{flag.id}/resolve"
    body = {"outcome": "reassured", "note": f"fine{NUL}"}
    assert assert_error(case["api"].post(url, json=body), 422)["note"] == NUL_ERROR
    assert db.session.get(Flag, flag.id).status == "open"


@pytest.mark.parametrize("field", ["email", "password"])
def test_a_nul_in_a_token_request_is_422_and_records_no_attempt(client, clinic, field):
    body = {"email": "nurse@riverside.test", "password": "correct horse battery"}
    body[field] = body[field] + NUL
    assert assert_error(client.post("/api/v1/token", json=body), 422)[field] == NUL_ERROR
    assert count(LoginAttempt) == 0


@pytest.mark.parametrize(
    "url",
    [
        "/clinic/patients?q=%00",
        "/clinic/patients?q=pat%00",
        "/clinic/flags?reason=%00",
        "/clinic/audit?patient=%00",
        "/clinic/flags.csv?status=%00",
        "/clinic/patients?%00=1",
        "/signin?next=/clinic%00",
    ],
)
def test_a_nul_in_a_web_query_string_is_a_400_page(case, url):
    response = case["staff"].get(url)
    assert response.status_code == 400
    assert "Something was wrong with that request" in response.text


@pytest.mark.parametrize("query", ["cursor=%00", "status=open%00", "limit=1%00"])
def test_a_nul_in_an_api_query_string_is_a_json_400(case, query):
    assert_error(case["api"].get(f"/api/v1/flags?{query}"), 400, "bad_request")
