"""The patient's session, kept on the server: started by a personal link, ended by signing out,
by 30 idle minutes, after 24 hours, by a newer link in the same browser, or by the clinic.

The cookie holds only a random token; the database holds its SHA-256. Every test drives the real
pages with CSRF on; time is moved with `time_machine`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import TREATED_AT, PatientActions, StaffActions, csrf_token, make_app
from tracker.extensions import db
from tracker.models import AuditEvent, PatientSession, StaffSession
from tracker.services.governance.data_rights import erase_patient
from tracker.services.patients.links import issue_link, revoke_links

DAY1 = TREATED_AT + timedelta(days=1)
SIGNED_OUT_FORM = re.compile(r'<form method="post" action="/patient/signout"[^>]*>\s*<input')
WAY_BACK = "Open the link in your latest email from the clinic"
ASK_FOR_FRESH = "ask for a fresh one"


def session_rows() -> list[PatientSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(PatientSession).order_by(PatientSession.id)))


def cookie(client) -> str:
    return client.get_cookie("session").value


def replay(client, value: str) -> None:
    """Put an old cookie back, as someone who copied it would."""
    client.set_cookie("session", value)


@pytest.fixture
def signed_in(make_patient, patient_actions, time_machine):
    """Pat, treated yesterday, has opened this morning's link."""
    time_machine.move_to(DAY1, tick=False)
    patient, treatment = make_patient()
    assert patient_actions.sign_in(patient).status_code == 302
    return patient


def sign_out(client):
    page = client.get("/timeline")
    return client.post("/patient/signout", data={"csrf_token": csrf_token(page.text)})


# --- the row and the cookie ----------------------------------------------------------------------


def test_the_cookie_holds_a_random_token_and_the_database_only_its_hash(app, client, signed_in):
    (row,) = session_rows()
    assert row.patient_id == signed_in.id and row.ended_at is None
    assert row.created_at == row.last_seen_at == DAY1
    data = app.session_interface.get_signing_serializer(app).loads(cookie(client))
    token = data["patient_token"]
    assert len(token) >= 40
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert "patient_id" not in data  # who the patient is lives on the server


def test_a_forged_token_in_a_signed_cookie_gets_nobody_in(app, client, signed_in):
    with client.session_transaction() as session:
        session["patient_token"] = "made-up"
    assert client.get("/checkin").status_code == 401


# --- idle and absolute time-outs -----------------------------------------------------------------


def test_the_session_ends_after_30_idle_minutes_and_says_how_to_get_back_in(
    client, signed_in, time_machine
):
    time_machine.move_to(DAY1 + timedelta(minutes=29), tick=False)
    assert client.get("/checkin").status_code == 200
    time_machine.move_to(DAY1 + timedelta(minutes=58), tick=False)  # 29 idle minutes again
    assert client.get("/timeline").status_code == 200
    time_machine.move_to(DAY1 + timedelta(minutes=88, seconds=1), tick=False)
    response = client.get("/checkin")
    assert response.status_code == 401
    assert "30 minutes without activity" in response.text
    assert WAY_BACK in response.text and ASK_FOR_FRESH in response.text
    (row,) = session_rows()
    assert (row.ended_at, row.end_reason) == (DAY1 + timedelta(minutes=88, seconds=1), "idle")


def test_the_idle_time_out_follows_configuration(database_uri, make_patient, time_machine):
    time_machine.move_to(DAY1, tick=False)
    patient, _ = make_patient()
    client = make_app(database_uri, PATIENT_SESSION_IDLE_MINUTES=5).test_client()
    assert PatientActions(client).sign_in(patient).status_code == 302
    time_machine.move_to(DAY1 + timedelta(minutes=6), tick=False)
    response = client.get("/checkin")
    assert response.status_code == 401
    assert "5 minutes without activity" in response.text


def test_the_session_ends_after_patient_session_hours_however_active(
    app, client, signed_in, time_machine
):
    app.config["PATIENT_SESSION_IDLE_MINUTES"] = 600  # so only the absolute limit can end it
    hours = app.config["PATIENT_SESSION_HOURS"]
    for hour in range(0, hours, 6):
        time_machine.move_to(DAY1 + timedelta(hours=hour, minutes=1), tick=False)
        assert client.get("/checkin").status_code == 200
    time_machine.move_to(DAY1 + timedelta(hours=hours, minutes=-1), tick=False)
    assert client.get("/checkin").status_code == 200
    time_machine.move_to(DAY1 + timedelta(hours=hours, minutes=1), tick=False)
    response = client.get("/checkin")
    assert response.status_code == 401
    assert WAY_BACK in response.text
    assert session_rows()[0].end_reason == "expired"
    time_machine.move_to(DAY1 + timedelta(hours=hours, minutes=-1), tick=False)
    assert client.get("/checkin").status_code == 401  # ended on the server: time travel is no use


def test_activity_is_written_at_most_once_a_minute(client, signed_in, time_machine):
    time_machine.move_to(DAY1 + timedelta(seconds=59), tick=False)
    assert client.get("/checkin").status_code == 200
    assert session_rows()[0].last_seen_at == DAY1
    time_machine.move_to(DAY1 + timedelta(seconds=61), tick=False)
    assert client.get("/checkin").status_code == 200
    assert session_rows()[0].last_seen_at == DAY1 + timedelta(seconds=61)


def test_activity_is_kept_when_the_page_itself_saves_nothing(
    client, signed_in, patient_actions, time_machine
):
    time_machine.move_to(DAY1 + timedelta(minutes=2), tick=False)
    page = client.get("/checkin")  # activity noted here...
    time_machine.move_to(DAY1 + timedelta(minutes=4), tick=False)
    refused = client.post(
        "/checkin", data={"csrf_token": csrf_token(page.text), "severity_headache": "9"}
    )
    assert refused.status_code == 422  # ...and here, though this view rolls its own work back
    assert session_rows()[0].last_seen_at == DAY1 + timedelta(minutes=4)


# --- signing out ---------------------------------------------------------------------------------


def test_every_patient_page_offers_sign_out(client, signed_in, patient_actions):
    answer = patient_actions.submit_checkin({"headache": 1})
    token = issue_link(signed_in)
    db.session.commit()
    pages = {
        "check-in": "/checkin",
        "answer": answer.headers["Location"],
        "timeline": "/timeline",
        "reminders": "/reminders",
        "another link": f"/p/{token}",
    }
    for name, url in pages.items():
        page = client.get(url)
        assert page.status_code == 200, name
        assert SIGNED_OUT_FORM.search(page.text), name
        assert ">Sign out</button>" in page.text, name


def test_a_page_without_a_session_offers_no_sign_out(client, make_patient):
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    assert "Sign out" not in client.get(f"/p/{token}").text


def test_signing_out_ends_the_session_on_the_server(client, signed_in):
    before = cookie(client)
    response = sign_out(client)
    assert response.status_code == 200
    assert "You have signed out" in response.text
    assert WAY_BACK in response.text
    assert "Sign out" not in response.text
    (row,) = session_rows()
    assert row.ended_at == DAY1 and row.end_reason == "signed_out"
    assert client.get("/checkin").status_code == 401
    replay(client, before)
    assert client.get("/checkin").status_code == 401
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "patient.session.end")
    ).all()
    assert event.patient_id == signed_in.id


def test_signing_out_needs_the_csrf_token(client, signed_in):
    response = client.post("/patient/signout")
    assert response.status_code == 400
    assert session_rows()[0].ended_at is None
    assert client.get("/checkin").status_code == 200


def test_signing_out_twice_or_without_a_session_just_says_signed_out(client, signed_in):
    page = client.get("/checkin")
    assert sign_out(client).status_code == 200
    again = client.post("/patient/signout", data={"csrf_token": csrf_token(page.text)})
    assert again.status_code == 200 and "You have signed out" in again.text


# --- one browser, one session --------------------------------------------------------------------


def test_a_new_link_in_the_same_browser_ends_the_previous_session(
    client, signed_in, patient_actions
):
    first = cookie(client)
    assert patient_actions.sign_in(signed_in).status_code == 302
    old, new = session_rows()
    assert old.end_reason == "replaced" and new.ended_at is None
    replay(client, first)
    assert client.get("/checkin").status_code == 401


def test_another_patients_link_in_the_same_browser_ends_the_first_patients_session(
    client, signed_in, patient_actions, make_patient
):
    other, _ = make_patient("Sam Sibling")
    assert patient_actions.sign_in(other).status_code == 302
    pat, sam = session_rows()
    assert (pat.patient_id, pat.end_reason) == (signed_in.id, "replaced")
    assert (sam.patient_id, sam.ended_at) == (other.id, None)


def test_a_patient_link_ends_the_staff_session_the_browser_held(
    client, clinic, make_patient, patient_actions
):
    assert StaffActions(client).sign_in().status_code == 302
    staff_cookie = cookie(client)
    patient, _ = make_patient()
    assert patient_actions.sign_in(patient).status_code == 302
    db.session.expire_all()
    assert db.session.scalars(select(StaffSession)).one().ended_at is not None
    assert client.get("/clinic/patients").status_code == 302  # to sign-in
    replay(client, staff_cookie)
    assert client.get("/clinic/patients").status_code == 302


def test_a_staff_sign_in_ends_the_patient_session_the_browser_held(client, clinic, signed_in):
    patient_cookie = cookie(client)
    assert StaffActions(client).sign_in().status_code == 302
    assert [row.end_reason for row in session_rows()] == ["replaced"]
    replay(client, patient_cookie)
    assert client.get("/timeline").status_code == 401


# --- the clinic ends every session ---------------------------------------------------------------


def test_revoking_links_ends_every_session_of_the_patient(app, client, signed_in, make_patient):
    phone = app.test_client()
    assert PatientActions(phone).sign_in(signed_in).status_code == 302
    other, _ = make_patient("Sam Sibling")
    bystander = app.test_client()
    assert PatientActions(bystander).sign_in(other).status_code == 302
    revoke_links(signed_in)
    db.session.commit()
    rows = session_rows()
    assert [r.end_reason for r in rows] == ["revoked", "revoked", None]
    for browser in (client, phone):
        response = browser.get("/checkin")
        assert response.status_code == 401 and WAY_BACK in response.text
    assert bystander.get("/checkin").status_code == 200


def test_erasure_ends_every_session(client, signed_in):
    erase_patient(signed_in)
    db.session.commit()
    assert session_rows()[0].end_reason == "revoked"
    assert client.get("/checkin").status_code == 401
