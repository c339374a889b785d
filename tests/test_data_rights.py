"""Data rights: an admin downloads a patient's whole record, and erases their contact data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.api_helpers import Api, mint_token
from tests.conftest import STAFF_PASSWORD, TREATED_AT, PatientActions, StaffActions, csrf_token
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    CheckIn,
    Flag,
    FlagNote,
    OutboxMessage,
    Patient,
    PatientLink,
    RegulatorReport,
    Treatment,
    User,
)
from tracker.services.clinics.clinics import create_user
from tracker.services.flags import flag_actions
from tracker.services.messaging.outbox import enqueue
from tracker.services.messaging.reminders import send_due_reminders
from tracker.services.patients.checkins import SymptomEntry, record_checkin
from tracker.services.patients.links import LinkState, check_link, issue_link

NOW = TREATED_AT + timedelta(days=1)
ADMIN = "admin@riverside.test"
NOTE = "Drooping left lid, mild; call back Friday"


@pytest.fixture
def case(app, clinic, admin, make_patient, time_machine):
    """Riley, a day after treatment: a check-in with a review flag resolved with a note."""
    time_machine.move_to(NOW, tick=False)
    patient, treatment = make_patient("Riley Private")
    patient.phone = "+44 20 7946 0000"
    record_checkin(treatment, [SymptomEntry("eyelid_drooping", 2)], note="Left eye feels heavy")
    flag = db.session.scalars(select(Flag)).one()
    flag_actions.resolve(flag, admin, "reassured", NOTE)
    db.session.commit()
    return patient


def signed_in(app, email=ADMIN):
    client = app.test_client()
    assert StaffActions(client).sign_in(email, STAFF_PASSWORD).status_code == 302
    return client


def audit_rows(action):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def erase(client, patient_id, confirm_name):
    page = client.get(f"/clinic/patients/{patient_id}/erase")
    return client.post(
        f"/clinic/patients/{patient_id}/erase",
        data={"csrf_token": csrf_token(page.text), "confirm_name": confirm_name},
    )


# --- export -------------------------------------------------------------------------------------


def test_admin_downloads_the_whole_record_as_json_attachment(app, case):
    response = signed_in(app).get(f"/clinic/patients/{case.id}/export.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.text)
    assert data["patient"]["name"] == "Riley Private"
    assert data["patient"]["email"] == "riley@example.com"
    assert data["patient"]["phone"] == "+44 20 7946 0000"
    assert data["reminder_settings"] == {
        "enabled": True,
        "time": "09:00",
        "timezone": "Europe/London",
    }
    (treatment,) = data["treatments"]
    assert treatment["treated_at"] == "2026-03-02T10:00:00+00:00"
    assert treatment["batch_number"] == "C1234AB5"
    (checkin,) = data["checkins"]
    assert checkin["reported_at"] == NOW.isoformat()
    assert checkin["note"] == "Left eye feels heavy"
    reported = {s["code"]: s["severity"] for s in checkin["symptoms"]}
    assert reported["eyelid_drooping"] == 2
    (flag,) = data["flags"]
    assert (flag["reason"], flag["symptom"], flag["outcome"]) == (
        "review",
        "eyelid_drooping",
        "reassured",
    )
    assert flag["notes"][0]["body"] == NOTE
    assert flag["resolved_at"].endswith("+00:00")
    assert (treatment["quarantine_reason"], treatment["regulator_report"]) == (None, None)


def test_the_export_holds_the_reason_a_quarantine_was_passed_and_the_regulator_report(app, case):
    treatment = case.treatments[0]
    treatment.quarantine_reason = "Only stock; patient agreed."
    db.session.add(
        RegulatorReport(
            clinic_id=case.clinic_id,
            treatment_id=treatment.id,
            seriousness=["medically_important"],
            outcome="recovering",
            other_medicines="Ibuprofen",
            reaction_notes={"9": "Heavy lid by evening."},
            reported_on=NOW.date(),
            reference="YC-1",
        )
    )
    db.session.commit()

    (exported,) = json.loads(signed_in(app).get(f"/clinic/patients/{case.id}/export.json").text)[
        "treatments"
    ]

    assert exported["quarantine_reason"] == "Only stock; patient agreed."
    report = exported["regulator_report"]
    assert (report["seriousness"], report["outcome"]) == (["medically_important"], "recovering")
    assert report["reaction_descriptions"] == {"9": "Heavy lid by evening."}
    assert (report["reported_on"], report["reference"]) == ("2026-03-03", "YC-1")


def test_export_is_audited_without_symptom_text(app, case):
    signed_in(app).get(f"/clinic/patients/{case.id}/export.json")
    (row,) = audit_rows("patient.export")
    assert row.patient_id == case.id
    assert row.actor_id == db.session.scalar(select(User.id).where(User.email == ADMIN))
    for text in ("eyelid", "heavy", "Drooping", "Riley"):
        assert text not in (row.target or "")


def test_export_is_for_this_clinics_admins_only(app, case, other_clinic):
    create_user(other_clinic, "boss@hillside.test", STAFF_PASSWORD, "admin")
    db.session.commit()
    url = f"/clinic/patients/{case.id}/export.json"
    assert signed_in(app, "boss@hillside.test").get(url).status_code == 404
    assert signed_in(app, "nurse@riverside.test").get(url).status_code == 403
    signed_out = app.test_client().get(url)
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith("/signin")
    assert audit_rows("patient.export") == []


def test_patient_page_offers_export_and_erasure_to_admins_only(app, case):
    page = signed_in(app).get(f"/clinic/patients/{case.id}").text
    assert f"/clinic/patients/{case.id}/export.json" in page
    assert f"/clinic/patients/{case.id}/erase" in page
    page = signed_in(app, "nurse@riverside.test").get(f"/clinic/patients/{case.id}").text
    assert "export.json" not in page and "/erase" not in page


# --- erasure: asking first ----------------------------------------------------------------------


def test_erasure_asks_for_the_patients_name_first(app, case):
    page = signed_in(app).get(f"/clinic/patients/{case.id}/erase")
    assert page.status_code == 200
    assert "Type the patient" in page.text
    assert len(audit_rows("patient.erase.view")) == 1


@pytest.mark.parametrize("typed", ["", "Riley", "Someone Else"])
def test_erasure_without_the_name_changes_nothing(app, case, typed):
    response = erase(signed_in(app), case.id, typed)
    assert response.status_code == 422
    db.session.refresh(case)
    assert (case.name, case.email, case.erased_at) == ("Riley Private", "riley@example.com", None)
    assert audit_rows("patient.erase") == []


def test_erasure_accepts_the_name_in_any_case_and_spacing(app, case):
    response = erase(signed_in(app), case.id, "  riley   PRIVATE ")
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.erased_at is not None


def test_erasure_refuses_a_post_without_csrf_token(app, case):
    client = signed_in(app)
    response = client.post(
        f"/clinic/patients/{case.id}/erase", data={"confirm_name": "Riley Private"}
    )
    assert response.status_code == 400
    db.session.refresh(case)
    assert case.erased_at is None


def test_erasure_is_for_this_clinics_admins_only(app, case, other_clinic):
    create_user(other_clinic, "boss@hillside.test", STAFF_PASSWORD, "admin")
    db.session.commit()
    url = f"/clinic/patients/{case.id}/erase"
    outsider = signed_in(app, "boss@hillside.test")
    assert outsider.get(url).status_code == 404
    assert erase_with_token_from(outsider, url, "/clinic/patients").status_code == 404
    nurse = signed_in(app, "nurse@riverside.test")
    assert nurse.get(url).status_code == 403
    assert erase_with_token_from(nurse, url, "/clinic/patients").status_code == 403
    db.session.refresh(case)
    assert case.erased_at is None


def erase_with_token_from(client, url, page_url):
    token = csrf_token(client.get(page_url).text)
    return client.post(url, data={"csrf_token": token, "confirm_name": "Riley Private"})


# --- erasure: what it does ----------------------------------------------------------------------


def test_erasure_removes_contact_data_unsent_messages_links_and_sessions(app, clinic, case):
    pending = enqueue(
        clinic_id=clinic.id,
        patient_id=case.id,
        kind="reminder",
        to_address=case.email,
        subject="Riley, how are you?",
        body_text="Riley Private, your link",
    )
    sent = enqueue(
        clinic_id=clinic.id,
        patient_id=case.id,
        kind="invite",
        to_address=case.email,
        subject="Riley's invite",
        body_text="Riley Private, your link",
    )
    sent.status, sent.sent_at = "sent", NOW
    token = issue_link(case)
    db.session.commit()
    pending_id, sent_id = pending.id, sent.id
    patient_client = app.test_client()
    PatientActions(patient_client).sign_in(case)
    assert patient_client.get("/checkin").status_code == 200

    response = erase(signed_in(app), case.id, "Riley Private")
    assert response.status_code == 302

    db.session.expire_all()
    patient = db.session.get(Patient, case.id)
    assert patient.name == f"Erased patient #{case.id}"
    assert patient.email == f"erased-{case.id}@invalid"
    assert patient.phone is None
    assert patient.reminders_enabled is False
    assert patient.erased_at == NOW
    assert db.session.get(OutboxMessage, pending_id) is None
    kept = db.session.get(OutboxMessage, sent_id)
    assert (kept.status, kept.to_address, kept.body_text) == ("sent", patient.email, "")
    assert "Riley" not in kept.subject
    assert check_link(token).state is LinkState.REVOKED
    assert patient_client.get("/checkin").status_code == 401
    (row,) = audit_rows("patient.erase")
    assert row.patient_id == case.id and "Riley" not in (row.target or "")


def test_erased_patients_clinical_record_is_kept(app, case):
    erase(signed_in(app), case.id, "Riley Private")
    assert db.session.scalar(select(func.count(Treatment.id))) == 1
    assert db.session.scalar(select(func.count(CheckIn.id))) == 1
    assert db.session.scalar(select(func.count(Flag.id))) == 1
    assert db.session.scalar(select(func.count(FlagNote.id))) == 1


def test_erased_patient_gets_no_reminders(app, clinic, case, make_patient):
    other, _ = make_patient("Olive Other")
    erase(signed_in(app), case.id, "Riley Private")
    erased = db.session.get(Patient, case.id)
    erased.reminders_enabled = True  # even if switched back on, erasure alone keeps them off
    db.session.commit()
    result = send_due_reminders(NOW + timedelta(hours=1))
    db.session.commit()
    assert result.reminders == 1
    recipients = db.session.scalars(
        select(OutboxMessage.patient_id).where(OutboxMessage.kind == "reminder")
    ).all()
    assert recipients == [other.id]
    assert (
        db.session.scalar(
            select(func.count(PatientLink.id)).where(
                PatientLink.patient_id == case.id, PatientLink.revoked_at.is_(None)
            )
        )
        == 0
    )


def test_erased_patient_is_hidden_from_the_list_and_search(app, case, make_patient):
    make_patient("Olive Other")
    client = signed_in(app)
    erase(client, case.id, "Riley Private")
    listing = client.get("/clinic/patients").text
    assert "Olive Other" in listing
    assert "Erased patient" not in listing and "Riley" not in listing
    assert "Erased patient" not in client.get("/clinic/patients?q=erased").text
    assert f"Erased patient #{case.id}" in client.get("/clinic/patients?erased=1").text


def test_erased_patients_page_shows_a_banner_and_no_actions(app, case):
    client = signed_in(app)
    erase(client, case.id, "Riley Private")
    page = client.get(f"/clinic/patients/{case.id}").text
    assert "Contact data erased on" in page
    for action in ("export.json", "/erase", "/edit", "resend-invite", "treatments/new"):
        assert action not in page
    assert "Riley" not in page


def test_erased_patient_cannot_be_edited_exported_reinvited_or_erased_again(app, case):
    client = signed_in(app)
    erase(client, case.id, "Riley Private")
    token = csrf_token(client.get("/clinic/patients").text)
    base = f"/clinic/patients/{case.id}"
    assert client.get(f"{base}/edit").status_code == 409
    edit = {"csrf_token": token, "name": "Riley Private", "email": "riley@example.com"}
    assert client.post(f"{base}/edit", data=edit).status_code == 409
    assert client.get(f"{base}/export.json").status_code == 409
    assert client.post(f"{base}/resend-invite", data={"csrf_token": token}).status_code == 409
    assert client.get(f"{base}/treatments/new").status_code == 409
    assert client.get(f"{base}/erase").status_code == 409
    db.session.refresh(case)
    assert case.name == f"Erased patient #{case.id}"
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_flags_of_an_erased_patient_stay_in_the_queue_with_the_placeholder(app, case):
    client = signed_in(app)
    flag = db.session.scalars(select(Flag)).one()
    flag.status, flag.outcome, flag.resolved_at = "open", None, None
    db.session.commit()
    erase(client, case.id, "Riley Private")
    queue = client.get("/clinic/flags").text
    assert f"Erased patient #{case.id}" in queue and "Riley" not in queue
    detail = client.get(f"/clinic/flags/{flag.id}").text
    assert f"Erased patient #{case.id}" in detail and "Riley" not in detail


def test_api_shows_only_the_placeholders_and_takes_no_new_treatment(app, case):
    erase(signed_in(app), case.id, "Riley Private")
    api = Api(app.test_client(), mint_token(ADMIN))
    body = api.get(f"/api/v1/patients/{case.id}").get_json()
    assert body["name"] == f"Erased patient #{case.id}"
    assert body["email"] == f"erased-{case.id}@invalid"
    assert body["phone"] is None
    treatment = {
        "treated_at": NOW.isoformat(),
        "product": "Botox",
        "batch_number": "C1",
        "indication": "cosmetic",
        "areas": ["forehead"],
        "units": 10,
    }
    response = api.post(f"/api/v1/patients/{case.id}/treatments", json=treatment)
    assert response.status_code == 409
