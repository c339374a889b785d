"""The clinic's patients: a searchable, paged list; adding and editing; the patient page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.conftest import TREATED_AT, PatientActions, csrf_token
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import AuditEvent, Flag, OutboxMessage, Patient, PatientLink, Treatment
from tracker.services.patients.checkins import SymptomEntry, record_checkin
from tracker.services.patients.links import LinkState, check_link, issue_link
from tracker.services.patients.patients import PatientDetails, create_patient

NOW = TREATED_AT + timedelta(days=2)
VALID = {
    "name": "Maria Lopez",
    "email": "Maria.Lopez@Example.com",
    "phone": "+44 7700 900123",
    "timezone": "Europe/Madrid",
    "reminder_time": "08:30",
    "reminders_enabled": "y",
}


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def submit(client, url: str, data: dict):
    """GET the form at `url`, then POST `data` to it with the page's CSRF token."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


def audit_actions(patient_id: int | None = None) -> list[str]:
    query = select(AuditEvent.action).order_by(AuditEvent.id)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    return list(db.session.scalars(query))


def add_patients(clinic, names: list[str]) -> None:
    for name in names:
        email = name.lower().replace(" ", ".") + "@example.com"
        create_patient(clinic.id, PatientDetails(name=name, email=email, timezone="Europe/London"))
    db.session.commit()


def listed_names(html: str) -> list[str]:
    return re.findall(r'<a href="/clinic/patients/\d+">([^<]+)</a>', html)


# --- the list -----------------------------------------------------------------------------------


def test_list_shows_this_clinics_patients_only(client, nurse, clinic, other_clinic, make_patient):
    make_patient("Pat Example")
    make_patient("Olga Other", clinic=other_clinic)
    page = client.get("/clinic/patients")
    assert page.status_code == 200
    assert listed_names(page.text) == ["Pat Example"]
    assert "Olga" not in page.text
    assert audit_actions()[-1:] == ["patients.list"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ALICE", ["Alice Brown"]),
        ("brown", ["Alice Brown", "Bob Brown"]),
        ("bob.brown@EXAMPLE", ["Bob Brown"]),
        ("%", []),  # a wildcard is a literal character, not "everything"
        ("", ["Alice Brown", "Bob Brown", "Carol White"]),
    ],
)
def test_search_by_name_or_email_ignores_case(client, nurse, clinic, query, expected):
    add_patients(clinic, ["Carol White", "Bob Brown", "Alice Brown"])
    page = client.get("/clinic/patients", query_string={"q": query})
    assert listed_names(page.text) == expected


def test_search_never_finds_another_clinics_patients(client, nurse, other_clinic):
    add_patients(other_clinic, ["Alice Hidden"])
    page = client.get("/clinic/patients", query_string={"q": "alice"})
    assert listed_names(page.text) == []
    assert "No patients match" in page.text


def test_list_is_paged_25_at_a_time(client, nurse, clinic):
    add_patients(clinic, [f"Patient {n:02d}" for n in range(30)])
    first = client.get("/clinic/patients")
    assert len(listed_names(first.text)) == 25
    assert "Page 1 of 2" in first.text
    second = client.get("/clinic/patients", query_string={"page": 2})
    assert listed_names(second.text) == [f"Patient {n:02d}" for n in range(25, 30)]
    beyond = client.get("/clinic/patients", query_string={"page": 9})
    assert beyond.status_code == 200
    assert listed_names(beyond.text) == []


def test_search_results_are_paged_and_keep_the_query(client, nurse, clinic):
    add_patients(clinic, [f"Smith {n:02d}" for n in range(26)] + ["Jones 00"])
    page = client.get("/clinic/patients", query_string={"q": "smith"})
    assert "26 patients" in page.text
    assert "q=smith" in page.text and "page=2" in page.text


def test_list_needs_a_signed_in_clinician(client, clinic):
    response = client.get("/clinic/patients")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin")


# --- adding and editing -------------------------------------------------------------------------


def test_adding_a_patient_stores_them_and_shows_their_page(client, nurse, clinic):
    response = submit(client, "/clinic/patients/new", VALID)
    assert response.status_code == 302
    patient = db.session.scalars(select(Patient)).one()
    assert response.headers["Location"] == f"/clinic/patients/{patient.id}"
    assert patient.clinic_id == clinic.id
    assert patient.email == "Maria.Lopez@example.com"  # the domain is normalised
    assert (patient.timezone, patient.reminder_time) == ("Europe/Madrid", time(8, 30))
    assert patient.reminders_enabled is True
    assert patient.phone == "+44 7700 900123"
    assert audit_actions(patient.id) == ["patient.create"]


def test_the_new_patient_form_defaults_to_the_clinics_timezone(client, nurse):
    page = client.get("/clinic/patients/new")
    assert '<option selected value="Europe/London">' in page.text
    assert 'value="09:00"' in page.text


def test_unticking_reminders_turns_them_off(client, nurse):
    data = {k: v for k, v in VALID.items() if k != "reminders_enabled"}
    assert submit(client, "/clinic/patients/new", data).status_code == 302
    assert db.session.scalars(select(Patient)).one().reminders_enabled is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "maria.example.com", "Enter an email address"),
        ("email", "maria@", "Enter an email address"),
        ("timezone", "Mars/Olympus_Mons", "Not a valid choice"),
        ("reminder_time", "25:00", "Not a valid time"),
        ("reminder_time", "nine", "Not a valid time"),
        ("reminder_time", "23:55", "Choose a time between 06:00 and 22:00"),
        ("reminder_time", "05:59", "Choose a time between 06:00 and 22:00"),
        ("name", "   ", "Enter the patient&#39;s name"),
        ("phone", "call me maybe", "Enter a phone number"),
    ],
)
def test_invalid_patient_details_are_refused_and_nothing_stored(
    client, nurse, field, value, message
):
    response = submit(client, "/clinic/patients/new", {**VALID, field: value})
    assert response.status_code == 422
    assert message in response.text
    assert "Nothing was saved yet" in response.text
    assert count(Patient) == 0
    assert "patient.create" not in audit_actions()


def test_the_service_refuses_an_unknown_timezone_and_a_bad_email_together(clinic):
    with pytest.raises(InvalidInput) as refused:
        create_patient(clinic.id, PatientDetails("Pat", "not-an-email", "Europe/Londres"))
    assert set(refused.value.fields) == {"email", "timezone"}
    assert count(Patient) == 0


def test_editing_a_patient_saves_the_changes_and_audits_which_fields(client, nurse, make_patient):
    patient, _ = make_patient()
    url = f"/clinic/patients/{patient.id}/edit"
    page = client.get(url)
    assert 'value="pat@example.com"' in page.text
    response = submit(client, url, {**VALID, "name": patient.name, "timezone": "Asia/Tokyo"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (patient.timezone, patient.email) == ("Asia/Tokyo", "Maria.Lopez@example.com")
    update = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "patient.update")
    ).one()
    assert update.patient_id == patient.id
    assert update.target == "fields:email,timezone,phone,reminder_time"
    assert "withdraw" in client.get(response.headers["Location"]).text


def test_an_invalid_edit_changes_nothing(client, nurse, make_patient):
    patient, _ = make_patient()
    url = f"/clinic/patients/{patient.id}/edit"
    response = submit(client, url, {**VALID, "email": "nope", "timezone": "Asia/Tokyo"})
    assert response.status_code == 422
    db.session.expire_all()
    assert (patient.email, patient.timezone) == ("pat@example.com", "Europe/London")
    assert "patient.update" not in audit_actions()


# --- the patient page ---------------------------------------------------------------------------


def test_patient_page_shows_treatments_checkins_and_flags_in_clinic_time(
    client, nurse, clinic, make_patient
):
    clinic.timezone = "America/New_York"
    patient, treatment = make_patient()
    record_checkin(
        treatment,
        [SymptomEntry("headache", 2), SymptomEntry("difficulty_swallowing", 3)],
        reported_at=TREATED_AT + timedelta(hours=20),
        note="Started after lunch",
    )
    record_checkin(treatment, [], reported_at=TREATED_AT + timedelta(hours=44))
    db.session.commit()

    page = client.get(f"/clinic/patients/{patient.id}")
    assert page.status_code == 200
    html = page.text
    # 10:00 UTC on 2 March is 05:00 in New York; the check-in at 06:00 UTC next day is 01:00
    assert "Mon 02 Mar 2026, 05:00" in html
    assert "Tue 03 Mar 2026, 01:00" in html
    assert "Headache: moderate" in html
    assert "Difficulty swallowing: severe" in html
    assert "No symptoms" in html
    assert "Started after lunch" in html
    assert 'class="reason reason-urgent"' in html
    urgent = db.session.scalars(select(Flag).where(Flag.treatment_id == treatment.id)).first()
    assert f'href="/clinic/flags/{urgent.id}"' in html
    assert "C1234AB5" in html and "forehead (10)" in html


def test_viewing_a_patient_is_audited_without_symptom_text(client, nurse, make_patient):
    patient, treatment = make_patient()
    record_checkin(treatment, [SymptomEntry("bruising", 2)], note="a private note")
    db.session.commit()
    client.get(f"/clinic/patients/{patient.id}")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.view")).one()
    assert event.patient_id == patient.id
    assert event.actor_type == "user" and event.ip_address == "127.0.0.1"
    text = " ".join(str(getattr(event, c)) for c in ("action", "target"))
    assert "bruis" not in text.lower() and "private" not in text


def test_patient_page_lists_the_messages_sent(client, nurse, make_patient):
    patient, _ = make_patient()
    nurse.post(f"/clinic/patients/{patient.id}/resend-invite")
    page = client.get(f"/clinic/patients/{patient.id}")
    assert "<td>invite</td>" in page.text
    assert "pending" in page.text


# --- re-send invite and revoke links ------------------------------------------------------------


def test_resending_the_invite_queues_a_new_message_with_a_new_link(
    app, client, nurse, make_patient
):
    patient, treatment = make_patient()
    for _ in range(2):
        response = nurse.post(f"/clinic/patients/{patient.id}/resend-invite")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/clinic/patients/{patient.id}"
    invites = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.kind for m in invites] == ["invite", "invite"]
    assert all(m.dedupe_key.startswith(f"invite:{treatment.id}:resend:") for m in invites)
    assert invites[0].dedupe_key != invites[1].dedupe_key
    assert {m.to_address for m in invites} == {"pat@example.com"}
    tokens = [re.search(r"/p/(\S+)", m.body_text).group(1) for m in invites]
    assert tokens[0] != tokens[1]
    assert all(check_link(t).state is LinkState.VALID for t in tokens)
    assert audit_actions(patient.id).count("patient.invite.resend") == 2


def test_resending_without_a_treatment_queues_nothing(client, nurse, clinic):
    add_patients(clinic, ["Nora New"])
    patient = db.session.scalars(select(Patient)).one()
    response = nurse.post(f"/clinic/patients/{patient.id}/resend-invite", follow_redirects=True)
    assert "Record a treatment first" in response.text
    assert count(OutboxMessage) == 0


def test_actions_need_a_post_with_csrf(client, nurse, make_patient):
    patient, _ = make_patient()
    for action in ("resend-invite", "revoke-links"):
        url = f"/clinic/patients/{patient.id}/{action}"
        assert client.get(url).status_code == 405
        assert client.post(url).status_code == 400
    assert count(OutboxMessage) == 0


def test_revoking_links_withdraws_them_and_ends_the_patients_session(
    app, client, nurse, make_patient
):
    patient, _ = make_patient()
    phone = app.test_client()
    PatientActions(phone).sign_in(patient)
    assert phone.get("/checkin").status_code == 200
    unused = issue_link(patient)
    db.session.commit()

    response = nurse.post(f"/clinic/patients/{patient.id}/revoke-links", follow_redirects=True)
    assert "Withdrew 1 unused link(s)" in response.text
    assert check_link(unused).state is LinkState.REVOKED
    assert phone.get("/checkin").status_code == 401
    assert count(PatientLink, PatientLink.revoked_at.is_not(None)) == 1
    assert "patient.links.revoke" in audit_actions(patient.id)


# --- scoping ------------------------------------------------------------------------------------


def test_another_clinics_patient_and_treatment_are_404_on_every_route(
    client, nurse, other_clinic, make_patient
):
    patient, treatment = make_patient("Olga Other", clinic=other_clinic)
    get_urls = [
        f"/clinic/patients/{patient.id}",
        f"/clinic/patients/{patient.id}/edit",
        f"/clinic/patients/{patient.id}/treatments/new",
        f"/clinic/treatments/{treatment.id}",
    ]
    for url in get_urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Olga" not in response.text
    post_urls = [
        f"/clinic/patients/{patient.id}/edit",
        f"/clinic/patients/{patient.id}/treatments/new",
        f"/clinic/patients/{patient.id}/resend-invite",
        f"/clinic/patients/{patient.id}/revoke-links",
    ]
    for url in post_urls:
        response = nurse.post(url, {**VALID, "product": "x"})
        assert response.status_code == 404, url
    db.session.expire_all()
    assert patient.name == "Olga Other"
    assert count(OutboxMessage) == 0
    assert count(Treatment) == 1
    assert "patient.view" not in audit_actions()
    assert "patient.links.revoke" not in audit_actions()


def test_unknown_ids_are_404(client, nurse):
    assert client.get("/clinic/patients/999").status_code == 404
    assert client.get("/clinic/treatments/999").status_code == 404


def test_summaries_show_latest_treatment_and_unresolved_flags(client, nurse, make_patient):
    patient, treatment = make_patient()
    builders.treatment(
        patient, datetime(2026, 3, 3, 12, 0, tzinfo=UTC), batch="B2", units={"forehead": 8}
    )
    record_checkin(treatment, [SymptomEntry("eyelid_drooping", 2)])
    db.session.commit()
    page = client.get("/clinic/patients")
    assert "03 Mar 2026" in page.text
    assert "1 open" in page.text
