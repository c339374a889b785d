"""Stopping reminders from any email, with no sign-in, and turning them back on from one's pages."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from tests.conftest import TEST_SECRET, csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent, OutboxMessage, Patient
from tracker.services.messaging.messages import queue_fresh_link, queue_invite
from tracker.services.messaging.reminder_settings import stop_url
from tracker.services.messaging.reminders import send_due_reminders
from tracker.services.patients.links import check_link, issue_link


def path(url: str) -> str:
    return url.removeprefix("http://aftercare.test")


def reload(patient: Patient) -> Patient:
    db.session.expire_all()
    return db.session.get(Patient, patient.id)


def audit_actions(patient: Patient) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.patient_id == patient.id, AuditEvent.action.like("%reminders%"))
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def patient(make_patient):
    return make_patient()[0]


# --- every patient email carries the stop link ---------------------------------------------------


def test_the_invite_and_the_fresh_link_email_carry_the_stop_link_and_headers(make_patient):
    patient, treatment = make_patient()
    queue_invite(treatment)
    expired = check_link(issue_link(patient)).link
    queue_fresh_link(expired, now=datetime.now(UTC) + timedelta(days=5))
    db.session.commit()

    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.kind for r in rows] == ["invite", "fresh_link"]
    for row in rows:
        url = stop_url(patient.id)
        assert row.headers["List-Unsubscribe"] == f"<{url}>"
        assert row.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert url in row.body_text and url in row.body_html


# --- the stop link -------------------------------------------------------------------------------


def test_opening_the_stop_link_asks_first_and_changes_nothing(client, patient):
    page = client.get(path(stop_url(patient.id)))  # what a mail scanner does
    assert page.status_code == 200
    assert 'method="post"' in page.text and "Stop reminders" in page.text
    assert reload(patient).reminders_enabled is True
    assert audit_actions(patient) == []


def test_pressing_stop_turns_reminders_off_without_signing_in_and_is_audited(client, patient):
    url = path(stop_url(patient.id))
    page = client.get(url)
    response = client.post(url, data={})  # the page's button: no session, no CSRF token needed
    assert response.status_code == 200 and "Reminders stopped" in response.text
    assert page.status_code == 200
    assert reload(patient).reminders_enabled is False
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "patient.reminders.stop")
    ).one()
    assert (event.actor_type, event.actor_id, event.patient_id) == ("patient", None, patient.id)


def test_a_mail_clients_one_click_unsubscribe_works(client, patient):
    response = client.post(
        path(stop_url(patient.id)),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert reload(patient).reminders_enabled is False


def test_a_stopped_patient_gets_no_more_reminders(client, patient):
    client.post(path(stop_url(patient.id)))
    day_three = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    assert send_due_reminders(day_three).reminders == 0


def forged(payload) -> str:
    return URLSafeSerializer("not-our-secret", salt="stop-reminders").dumps(payload)


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        forged({"p": 1}),
        URLSafeSerializer(TEST_SECRET, salt="patient-link").dumps({"p": 1}),  # another kind
        URLSafeSerializer(TEST_SECRET, salt="stop-reminders").dumps({"p": 9999}),  # nobody
    ],
)
def test_a_tampered_or_unknown_stop_link_is_404_and_changes_nothing(client, patient, token):
    assert client.get(f"/stop/{token}").status_code == 404
    assert client.post(f"/stop/{token}").status_code == 404
    assert reload(patient).reminders_enabled is True


def test_a_stop_link_with_its_signature_changed_is_404(client, patient):
    url = path(stop_url(patient.id))
    tampered = url[:-1] + ("A" if url[-1] != "A" else "B")
    assert client.post(tampered).status_code == 404
    assert reload(patient).reminders_enabled is True


def test_stop_links_are_per_patient(client, make_patient):
    first, _ = make_patient("Ann One")
    second, _ = make_patient("Bob Two")
    client.post(path(stop_url(first.id)))
    assert (reload(first).reminders_enabled, reload(second).reminders_enabled) == (False, True)


# --- the patient's own reminder settings --------------------------------------------------------


def test_the_reminders_page_is_reachable_from_the_patients_pages(patient_actions, patient):
    patient_actions.sign_in(patient)
    timeline = patient_actions.client.get("/timeline")
    assert 'href="/reminders"' in timeline.text


def test_a_patient_turns_reminders_back_on_and_changes_the_time(patient_actions, patient):
    client = patient_actions.client
    client.post(path(stop_url(patient.id)))
    patient_actions.sign_in(patient)

    page = client.get("/reminders")
    assert page.status_code == 200
    assert "at the time you choose, in UK time." in page.text  # a place, not "Europe/London"
    response = client.post(
        "/reminders",
        data={
            "csrf_token": csrf_token(page.text),
            "reminders_enabled": "y",
            "reminder_time": "07:30",
        },
    )

    assert response.status_code == 302
    patient = reload(patient)
    assert (patient.reminders_enabled, patient.reminder_time) == (True, time(7, 30))
    assert audit_actions(patient) == [
        "patient.reminders.stop",
        "patient.reminders.view",
        "patient.reminders.update",
    ]
    assert "Saved your reminder settings" in client.get("/reminders").text


def test_the_reminders_page_can_turn_them_off_too(patient_actions, patient):
    patient_actions.sign_in(patient)
    page = patient_actions.client.get("/reminders")
    patient_actions.client.post(
        "/reminders", data={"csrf_token": csrf_token(page.text), "reminder_time": "09:00"}
    )
    assert reload(patient).reminders_enabled is False


@pytest.mark.parametrize("value", ["25:00", "23:55", "04:00"])
def test_a_bad_time_is_refused(patient_actions, patient, value):
    """Not a time, or outside the waking day (a reminder job needs a run before midnight)."""
    patient_actions.sign_in(patient)
    page = patient_actions.client.get("/reminders")
    response = patient_actions.client.post(
        "/reminders",
        data={
            "csrf_token": csrf_token(page.text),
            "reminders_enabled": "y",
            "reminder_time": value,
        },
    )
    assert response.status_code == 422
    assert reload(patient).reminder_time == time(9, 0)


def test_the_reminders_page_needs_the_patients_session_and_a_csrf_token(
    client, patient_actions, patient
):
    assert client.get("/reminders").status_code == 401
    token = csrf_token(client.get("/signin").text)
    response = client.post("/reminders", data={"csrf_token": token, "reminder_time": "07:00"})
    assert response.status_code == 401
    patient_actions.sign_in(patient)
    response = client.post("/reminders", data={"reminders_enabled": "y", "reminder_time": "07:00"})
    assert response.status_code == 400
    assert reload(patient).reminder_time == time(9, 0)
