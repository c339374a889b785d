"""A refused form that shows a patient's data again is a view of that data, and is audited.

A clinician whose note is empty, or a patient whose check-in has a mistake, sees the page again
with the patient's record on it. That page is audited exactly as the same page fetched with GET.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.cases import flagged_case
from tests.conftest import PatientActions, csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent


@pytest.fixture
def case(app, admin, make_patient, time_machine):
    return flagged_case(app, admin, make_patient, time_machine)


def views_of(action: str, patient_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.patient_id == patient_id
            )
        )
    )


def refused_post(client, page_url: str, post_url: str, data: dict):
    """GET the page (its own audit row), then POST a refused form from it."""
    token = csrf_token(client.get(page_url).text)
    return client.post(post_url, data={"csrf_token": token, **data})


FLAG_FORMS = {
    "an empty note": ("notes", {"body": ""}),
    "an unknown outcome": ("resolve", {"outcome": "cured-by-magic"}),
    "no outcome": ("resolve", {"outcome": ""}),
    "a phone check-in in the future": (
        "checkin",
        {"reported_at": "2026-03-09T10:00", "severity_headache": "2"},
    ),
}


@pytest.mark.parametrize(("action", "data"), FLAG_FORMS.values(), ids=FLAG_FORMS.keys())
def test_a_refused_flag_action_that_shows_the_flag_again_is_audited_as_a_view(case, action, data):
    flag, patient = case["flag"], case["patient"]
    url = f"/clinic/flags/{flag.id}"
    response = refused_post(case["staff"], url, f"{url}/{action}", data)
    assert response.status_code == 422
    assert patient.name in response.text
    rows = views_of("case.view", patient.id)
    assert len(rows) == 2  # the GET, and the page shown again
    assert rows[-1].target == f"treatment:{flag.treatment_id}"
    assert rows[-1].actor_id == case["admin"].id


CASE_FORMS = {
    "an empty case note": ("notes", {"body": ""}, 422),
    "a case resolved without an outcome": ("resolve", {"outcome": "", "flag_ids": "1"}, 422),
    "a case resolved with flags it did not show": (
        "resolve",
        {"outcome": "reassured", "flag_ids": "999"},
        409,
    ),
    "an assignee of no clinic": ("assign", {"assignee": "999"}, 409),
    "a phone check-in in the future": (
        "checkin",
        {"reported_at": "2026-03-09T10:00", "severity_headache": "2"},
        422,
    ),
}


@pytest.mark.parametrize(("action", "data", "status"), CASE_FORMS.values(), ids=CASE_FORMS.keys())
def test_a_refused_case_action_that_shows_the_case_again_is_audited_as_a_view(
    case, action, data, status
):
    treatment, patient = case["treatment"], case["patient"]
    url = f"/clinic/cases/{treatment.id}"
    response = refused_post(case["staff"], url, f"{url}/{action}", data)
    assert response.status_code == status
    assert patient.name in response.text
    rows = views_of("case.view", patient.id)
    assert len(rows) == 2
    assert rows[-1].target == f"treatment:{treatment.id}"
    assert views_of("case.assign", patient.id) == views_of("flag.resolve", patient.id) == []
    assert views_of("flag.note", patient.id) == []


def test_a_wrong_name_on_the_erase_page_is_audited_as_a_view(case):
    patient = case["patient"]
    url = f"/clinic/patients/{patient.id}/erase"
    response = refused_post(case["staff"], url, url, {"confirm_name": "Someone Else"})
    assert response.status_code == 422
    assert patient.name in response.text
    assert len(views_of("patient.erase.view", patient.id)) == 2
    assert views_of("patient.erase", patient.id) == []


def test_a_refused_edit_of_a_patient_is_audited_as_a_view(case):
    patient = case["patient"]
    url = f"/clinic/patients/{patient.id}/edit"
    data = {"name": patient.name, "email": "not-an-address", "timezone": "Europe/London"}
    response = refused_post(case["staff"], url, url, {**data, "reminder_time": "09:00"})
    assert response.status_code == 422
    assert len(views_of("patient.edit.view", patient.id)) == 2
    assert views_of("patient.update", patient.id) == []


@pytest.mark.parametrize(
    "treated_at", ["2026-03-09T10:00", "not a time"], ids=["in the future", "not a time"]
)
def test_a_refused_new_treatment_is_audited_as_a_view_of_the_form(case, treated_at):
    patient = case["patient"]
    url = f"/clinic/patients/{patient.id}/treatments/new"
    data = {
        "treated_at": treated_at,
        "product": "Botox",
        "batch_number": "C1",
        "indication": "cosmetic",
        "units_forehead": "10",
        "practitioner_id": str(case["admin"].id),
    }
    response = refused_post(case["staff"], url, url, data)
    assert response.status_code == 422
    assert len(views_of("treatment.form.view", patient.id)) == 2
    assert views_of("treatment.create", patient.id) == []


@pytest.fixture
def patient_client(app, case):
    """Pat, signed in from a personal link."""
    client = app.test_client()
    assert PatientActions(client).sign_in(case["patient"]).status_code == 302
    return client


def test_a_refused_check_in_that_shows_the_history_again_is_audited(case, patient_client):
    patient = case["patient"]
    response = refused_post(patient_client, "/checkin", "/checkin", {"severity_headache": "9"})
    assert response.status_code == 422
    rows = views_of("patient.checkin_form.view", patient.id)
    assert len(rows) == 2
    assert rows[-1].actor_type == "patient"
    assert views_of("patient.checkin.create", patient.id) == []


def test_refused_reminder_settings_are_audited_as_a_view(case, patient_client):
    patient = case["patient"]
    response = refused_post(patient_client, "/reminders", "/reminders", {"reminder_time": "25:00"})
    assert response.status_code == 422
    assert len(views_of("patient.reminders.view", patient.id)) == 2
