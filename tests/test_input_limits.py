"""Numbers and times from outside that no column can hold: a clear 4xx or form error, never a 500.

A page number of 20 digits overflows SQLite's and PostgreSQL's integers; a year-1 or year-9999
time overflows when moved between timezones; a forged cursor names a place that cannot exist.
Each is refused before it reaches the database, on both engines.
"""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from tests.api_helpers import assert_error
from tests.cases import NOW, flagged_case
from tests.conftest import PatientActions, csrf_token
from tracker.api.common import encode_cursor
from tracker.extensions import db
from tracker.models import CheckIn, Treatment
from tracker.services.patients.checkins import SymptomEntry, record_checkin

BEYOND_64_BITS = "99999999999999999999"
BEYOND_INT4 = str(2**31)


@pytest.fixture
def case(app, admin, make_patient, time_machine):
    return flagged_case(app, admin, make_patient, time_machine)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- page numbers and ids ----------------------------------------------------------------------

PAGED_LISTS = ["/clinic/flags", "/clinic/patients", "/clinic/audit", "/clinic/messages"]


@pytest.mark.parametrize("url", PAGED_LISTS)
@pytest.mark.parametrize("number", [BEYOND_64_BITS, BEYOND_INT4], ids=["64-bit", "int4"])
def test_a_page_number_past_any_possible_page_is_not_found(case, url, number):
    assert case["staff"].get(f"{url}?page={number}").status_code == 404


@pytest.mark.parametrize("url", PAGED_LISTS)
@pytest.mark.parametrize("number", ["2147483647", "0", "-5", "two"])
def test_any_other_page_number_shows_a_page(case, url, number):
    assert case["staff"].get(f"{url}?page={number}").status_code == 200


@pytest.mark.parametrize("number", [BEYOND_64_BITS, BEYOND_INT4])
def test_a_patient_id_past_any_possible_id_is_a_filter_error_on_the_audit_log(case, number):
    page = case["staff"].get(f"/clinic/audit?patient={number}")
    assert page.status_code == 422
    assert "No patient of this clinic has that ID." in page.text


@pytest.mark.parametrize(
    "query",
    [f"limit={BEYOND_64_BITS}", f"treatment_id={BEYOND_64_BITS}", f"treatment_id={BEYOND_INT4}"],
)
def test_api_list_parameters_past_any_possible_value_are_422(case, query):
    assert_error(case["api"].get(f"/api/v1/flags?{query}"), 422, "invalid_fields")


def test_an_api_page_limit_past_64_bits_is_422(case):
    url = f"/api/v1/patients/{case['patient'].id}/checkins?limit={BEYOND_64_BITS}"
    assert_error(case["api"].get(url), 422, "invalid_fields")


@pytest.mark.parametrize("url", ["/clinic/flags/{n}", "/clinic/patients/{n}", "/api/v1/flags/{n}"])
def test_an_id_past_any_possible_id_in_a_url_is_not_found(case, url):
    client = case["api"] if url.startswith("/api/") else case["staff"]
    for number in (BEYOND_64_BITS, BEYOND_INT4):
        assert client.get(url.format(n=number)).status_code in (404, 405)


# --- year 1 and year 9999 ----------------------------------------------------------------------

# Year 1 at midnight in Tokyo is still year 0 in UTC; year 9999's last minute in New York is
# already year 10000 there: neither exists in Python, so moving them between zones overflows.
EDGE_WALL_TIMES = {
    "year 1 east of UTC": ("0001-01-01T00:00", "Asia/Tokyo"),
    "year 1 in London": ("0001-01-01T00:00", "Europe/London"),
    "year 9999 west of UTC": ("9999-12-31T23:59", "America/New_York"),
    "year 9999 in London": ("9999-12-31T23:59", "Europe/London"),
}
YEAR_MESSAGE = "Check the year"


def post_form(client, url: str, data: dict, form_page: str | None = None):
    """POST `data` to `url` with the CSRF token of the page with the form (default: `url`)."""
    token = csrf_token(client.get(form_page or url).text)
    return client.post(url, data={"csrf_token": token, **data})


@pytest.mark.parametrize(("wall", "zone"), EDGE_WALL_TIMES.values(), ids=EDGE_WALL_TIMES.keys())
def test_a_treatment_in_year_1_or_9999_is_a_form_error(case, clinic, wall, zone):
    clinic.timezone = zone
    db.session.commit()
    url = f"/clinic/patients/{case['patient'].id}/treatments/new"
    data = {
        "treated_at": wall,
        "product": "Botox",
        "batch_number": "C1",
        "indication": "cosmetic",
        "units_forehead": "10",
        "practitioner_id": str(case["admin"].id),
    }
    before = count(Treatment)
    response = post_form(case["staff"], url, data)
    assert response.status_code == 422
    assert YEAR_MESSAGE in response.text
    assert count(Treatment) == before


@pytest.mark.parametrize(("wall", "zone"), EDGE_WALL_TIMES.values(), ids=EDGE_WALL_TIMES.keys())
def test_a_phone_check_in_in_year_1_or_9999_is_a_form_error(case, clinic, wall, zone):
    clinic.timezone = zone
    db.session.commit()
    url = f"/clinic/flags/{case['flag'].id}"
    before = count(CheckIn)
    data = {"reported_at": wall, "severity_headache": "2"}
    response = post_form(case["staff"], f"{url}/checkin", data, form_page=url)
    assert response.status_code == 422
    assert YEAR_MESSAGE in response.text
    assert count(CheckIn) == before


@pytest.mark.parametrize(("wall", "zone"), EDGE_WALL_TIMES.values(), ids=EDGE_WALL_TIMES.keys())
def test_a_patients_onset_in_year_1_or_9999_is_a_form_error(app, case, wall, zone):
    patient = case["patient"]
    patient.timezone = zone
    db.session.commit()
    client = app.test_client()
    assert PatientActions(client).sign_in(patient).status_code == 302
    before = count(CheckIn)
    response = post_form(client, "/checkin", {"severity_headache": "2", "onset_headache": wall})
    assert response.status_code == 422
    assert YEAR_MESSAGE in response.text
    assert count(CheckIn) == before


EDGE_TIMESTAMPS = [
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59+00:00",
]


@pytest.mark.parametrize("at", EDGE_TIMESTAMPS)
def test_an_api_treatment_in_year_1_or_9999_is_422(case, at):
    body = {
        "treated_at": at,
        "product": "Botox",
        "batch_number": "C1",
        "indication": "cosmetic",
        "areas": ["forehead"],
        "units": 10,
    }
    before = count(Treatment)
    response = case["api"].post(f"/api/v1/patients/{case['patient'].id}/treatments", json=body)
    assert "treated_at" in assert_error(response, 422, "invalid_fields")
    assert count(Treatment) == before


@pytest.mark.parametrize("at", EDGE_TIMESTAMPS)
@pytest.mark.parametrize("where", ["reported_at", "onset"])
def test_an_api_check_in_in_year_1_or_9999_is_422(case, at, where):
    symptom = {"code": "headache", "severity": 2}
    body = {"reported_at": at, "symptoms": [symptom]}
    if where == "onset":
        body = {"symptoms": [{**symptom, "onset": at}]}
    before = count(CheckIn)
    url = f"/api/v1/treatments/{case['treatment'].id}/checkins"
    fields = assert_error(case["api"].post(url, json=body), 422, "invalid_fields")
    assert set(fields) == {"reported_at" if where == "reported_at" else "symptoms.0.onset"}
    assert count(CheckIn) == before


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED_CURSORS = {
    "year 1 east of UTC": b64(b"0001-01-01T00:00:00+05:00|1"),
    "year 9999 west of UTC": b64(b"9999-12-31T23:59:59-05:00|1"),
    "not in UTC": b64(b"2026-03-04T10:00:00+01:00|1"),
    "no offset": b64(b"2026-03-04T10:00:00|1"),
    "a NUL inside": b64(b"2026-03-04T10:00:00+00:00\x00|1"),
    "an id past int4": b64(f"2026-03-04T10:00:00+00:00|{2**31}".encode()),
    "an id past 64 bits": b64(f"2026-03-04T10:00:00+00:00|{BEYOND_64_BITS}".encode()),
    "a negative id": b64(b"2026-03-04T10:00:00+00:00|-1"),
    "three parts": b64(b"2026-03-04T10:00:00+00:00|1|2"),
    "not base64": "%%%",
    "garbled bytes": b64(b"\xff\xfe\x00"),
    "padded": encode_cursor(NOW, 1) + "==",
}


@pytest.mark.parametrize("cursor", FORGED_CURSORS.values(), ids=FORGED_CURSORS.keys())
def test_a_forged_or_garbled_cursor_is_an_invalid_cursor(case, cursor):
    for url in ("/api/v1/flags", f"/api/v1/patients/{case['patient'].id}/checkins"):
        response = case["api"].get(url, query_string={"cursor": cursor})
        fields = assert_error(response, 422, "invalid_fields")
        assert fields == {"cursor": "Not a cursor from this API."}


def test_a_cursor_the_api_handed_out_still_works(case, make_patient):
    for name in ("Ann One", "Bea Two"):
        _, treatment = make_patient(name)
        record_checkin(treatment, [SymptomEntry("eyelid_drooping", 2)])
    db.session.commit()
    first = case["api"].get("/api/v1/flags?limit=2").get_json()
    second = case["api"].get("/api/v1/flags", query_string={"cursor": first["next_cursor"]})
    assert second.status_code == 200
    assert len(first["flags"]) + len(second.get_json()["flags"]) == 3
