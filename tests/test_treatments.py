"""Recording a treatment: clinic-local time stored as UTC, and the invite queued with it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import AuditEvent, OutboxMessage, PatientLink, Treatment, User
from tracker.services.clinics.clinics import create_user
from tracker.services.messaging import outbox
from tracker.services.patients.treatments import (
    TreatmentDetails,
    record_treatment,
)

# 12:00 UTC on 15 June 2026 is 13:00 in London (BST, UTC+1).
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
LINK_RE = re.compile(r"http://aftercare\.test/p/(\S+)")


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def patient(make_patient):
    """A patient in New York, treated earlier; the clinic is in London."""
    patient, _ = make_patient("Nina York", timezone="America/New_York")
    return patient


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def form(**overrides) -> dict:
    data = {
        "treated_at": "2026-06-15T10:30",
        "product": "Botox",
        "batch_number": "C5555XY1",
        "indication": "cosmetic",
        "units_forehead": "10",
        "units_frown_lines": "20",
        "units_crows_feet": "",
        "units_underarms": "",
        "units_other": "",
        "other_area": "",
    }
    data.update(overrides)
    return data


def record(client, patient, **overrides):
    url = f"/clinic/patients/{patient.id}/treatments/new"
    page = client.get(url)
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), **form(**overrides)}
    if "practitioner_id" not in data:
        data["practitioner_id"] = re.search(r'<option selected value="(\d+)"', page.text).group(1)
    return client.post(url, data=data)


def new_treatments(patient):
    return db.session.scalars(
        select(Treatment).where(Treatment.patient_id == patient.id).order_by(Treatment.id)
    ).all()[1:]  # the first is make_patient's


# --- the treatment ------------------------------------------------------------------------------


def test_clinic_local_time_is_stored_as_utc_during_british_summer_time(client, nurse, patient):
    response = record(client, patient)
    assert response.status_code == 302
    (treatment,) = new_treatments(patient)
    assert response.headers["Location"] == f"/clinic/treatments/{treatment.id}"
    assert treatment.treated_at == datetime(2026, 6, 15, 9, 30, tzinfo=UTC)


def test_clinic_local_time_in_winter_is_utc_in_london(client, nurse, patient):
    assert record(client, patient, treated_at="2026-01-15T10:30").status_code == 302
    assert new_treatments(patient)[0].treated_at == datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def test_a_clinic_elsewhere_enters_its_own_local_time(client, nurse, clinic, patient):
    clinic.timezone = "Australia/Sydney"
    db.session.commit()
    # 21:30 on 15 June in Sydney (AEST, UTC+10) is 11:30 UTC, half an hour before now.
    assert record(client, patient, treated_at="2026-06-15T21:30").status_code == 302
    assert new_treatments(patient)[0].treated_at == datetime(2026, 6, 15, 11, 30, tzinfo=UTC)


def test_the_form_defaults_to_now_in_clinic_time_and_the_signed_in_practitioner(
    client, nurse, clinic, patient
):
    colleague = create_user(clinic, "dr@riverside.test", "a long enough pass", name="Dr Aaron")
    colleague.registration_number = "GMC 1234567"
    db.session.commit()
    page = client.get(f"/clinic/patients/{patient.id}/treatments/new")
    assert 'value="2026-06-15T13:00"' in page.text
    nurse_id = db.session.scalar(select(User.id).where(User.email == "nurse@riverside.test"))
    assert f'<option selected value="{nurse_id}">' in page.text
    assert "Dr Aaron (GMC 1234567)" in page.text
    assert "Nina York" in page.text


def test_areas_units_and_practitioner_are_stored(client, nurse, clinic, patient):
    colleague = create_user(clinic, "dr@riverside.test", "a long enough pass", name="Dr Aaron")
    db.session.commit()
    response = record(
        client,
        patient,
        units_forehead="8",
        units_frown_lines="",
        units_crows_feet="12.5",
        units_other="4",
        other_area="Masseter",
        practitioner_id=str(colleague.id),
        indication="migraine",
    )
    assert response.status_code == 302
    (treatment,) = new_treatments(patient)
    assert treatment.areas == ["forehead", "crow's feet", "masseter"]
    assert treatment.units_by_area == {"forehead": 8, "crow's feet": 12.5, "masseter": 4}
    assert treatment.units_total == 24.5
    assert treatment.practitioner_id == colleague.id
    assert (treatment.indication, treatment.batch_number) == ("migraine", "C5555XY1")
    assert treatment.clinic_id == clinic.id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"treated_at": "2026-06-15T13:06"}, "cannot be in the future"),
        ({"treated_at": ""}, "This field is required"),
        ({"treated_at": "15/06/2026 10:30"}, "Not a valid datetime"),
        ({"units_forehead": "", "units_frown_lines": "0"}, "at least one area"),
        ({"units_forehead": "-2"}, "From 0 to 1000 units"),
        ({"units_forehead": "ten"}, "Not a valid float"),
        ({"units_forehead": "nan"}, "From 0 to 1000 units"),
        ({"product": ""}, "This field is required"),
        ({"batch_number": "   "}, "Required."),
        ({"indication": "vanity"}, "Not a valid choice"),
        ({"practitioner_id": "999"}, "Not a valid choice"),
        # 01:30 on 29 March 2026 does not exist in London: the clocks go from 01:00 to 02:00.
        ({"treated_at": "2026-03-29T01:30"}, "clocks went forward"),
        # 01:30 on 25 October 2026 happens twice: the clocks go back from 02:00 to 01:00.
        (
            {"treated_at": "2026-10-25T01:30"},
            "01:30 on 25 October 2026 happens twice in UK time: the clocks went back",
        ),
    ],
)
def test_invalid_treatments_are_refused_and_nothing_is_stored(
    client, nurse, patient, overrides, message
):
    response = record(client, patient, **overrides)
    assert response.status_code == 422
    assert message in response.text
    assert new_treatments(patient) == []
    assert count(OutboxMessage) == 0
    assert count(PatientLink) == 0
    assert "treatment.create" not in db.session.scalars(select(AuditEvent.action)).all()


def test_up_to_five_minutes_ahead_is_allowed_for_a_fast_clock(client, nurse, patient):
    assert record(client, patient, treated_at="2026-06-15T13:05").status_code == 302


def test_another_clinics_practitioner_cannot_be_named(app, patient, other_clinic):
    stranger = db.session.scalar(select(User).where(User.email == "nurse@hillside.test"))
    details = TreatmentDetails(
        treated_at=NOW - timedelta(hours=1),
        product="Botox",
        batch_number="B1",
        indication="cosmetic",
        units_by_area={"forehead": 10},
        practitioner_id=stranger.id,
    )
    with pytest.raises(InvalidInput) as refused:
        record_treatment(patient, details)
    assert set(refused.value.fields) == {"practitioner_id"}


@pytest.mark.parametrize(
    ("units", "key"),
    [
        ({"forehead": float("nan")}, "units_by_area.forehead"),
        ({"forehead": True}, "units_by_area.forehead"),
        ({"forehead": 1001}, "units_by_area.forehead"),
        ({"forehead": 0}, "units_by_area"),
        ({}, "units_by_area"),
        ({" ": 5}, "units_by_area"),
    ],
)
def test_the_service_refuses_units_that_are_not_sensible(app, patient, units, key):
    details = TreatmentDetails(
        treated_at=NOW,
        product="Botox",
        batch_number="B1",
        indication="cosmetic",
        units_by_area=units,
    )
    with pytest.raises(InvalidInput) as refused:
        record_treatment(patient, details)
    assert list(refused.value.fields) == [key]


def total_only(areas: tuple[str, ...], total: float, **changes) -> TreatmentDetails:
    """A treatment given to the service as a total over `areas`, as the API may give it."""
    fields = {"product": "Botox", "batch_number": "B1", "indication": "cosmetic"} | changes
    return TreatmentDetails(treated_at=NOW, areas=areas, units_total=total, **fields)


def test_a_total_over_several_areas_is_stored_as_given_without_a_split(app, patient):
    treatment = record_treatment(patient, total_only(("forehead", " frown lines "), 10)).treatment
    assert treatment.areas == ["forehead", "frown lines"]
    assert treatment.units_by_area == {} and treatment.units_total == 10


def test_a_total_over_one_area_is_that_areas_units(app, patient):
    details = total_only(("underarms",), 100, indication="sweating")
    treatment = record_treatment(patient, details).treatment
    assert treatment.units_by_area == {"underarms": 100} and treatment.units_total == 100


@pytest.mark.parametrize(("total", "areas"), [(2001, ("a", "b")), (0, ("a", "b")), (5, ())])
def test_a_total_that_no_area_could_hold_is_refused_as_the_total(app, patient, total, areas):
    with pytest.raises(InvalidInput) as refused:
        record_treatment(patient, total_only(areas, total))
    assert list(refused.value.fields) == ["units" if areas else "areas"]


def test_the_service_refuses_a_naive_time(app, patient):
    details = TreatmentDetails(
        treated_at=datetime(2026, 6, 15, 10, 0),
        product="Botox",
        batch_number="B1",
        indication="cosmetic",
        units_by_area={"forehead": 4},
    )
    with pytest.raises(InvalidInput) as refused:
        record_treatment(patient, details)
    assert list(refused.value.fields) == ["treated_at"]


def test_treatment_page_shows_the_record_in_clinic_time(client, nurse, patient):
    record(client, patient, units_crows_feet="6")
    (treatment,) = new_treatments(patient)
    page = client.get(f"/clinic/treatments/{treatment.id}")
    assert page.status_code == 200
    assert "Mon 15 Jun 2026, 10:30 (Europe/London)" in page.text
    assert "C5555XY1" in page.text and "<td>crow&#39;s feet</td><td>6</td>" in page.text
    assert "<dd>36</dd>" in page.text
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.patient_id == patient.id)
    ).all()
    assert actions == ["treatment.form.view", "treatment.create", "treatment.view"]


# --- the invite ---------------------------------------------------------------------------------


def test_saving_a_treatment_queues_the_invite_with_a_working_link(app, client, nurse, patient):
    assert record(client, patient).status_code == 302
    (treatment,) = new_treatments(patient)
    invite = db.session.scalars(select(OutboxMessage)).one()
    assert (invite.kind, invite.status, invite.dedupe_key) == (
        "invite",
        "pending",
        f"invite:{treatment.id}",
    )
    assert (invite.to_address, invite.patient_id) == ("nina@example.com", patient.id)
    assert invite.subject == "Your aftercare check-ins with Riverside Clinic"
    assert invite.next_attempt_at == NOW

    token = LINK_RE.search(invite.body_text).group(1)
    assert f'href="http://aftercare.test/p/{token}"' in invite.body_html
    phone = app.test_client()
    page = phone.get(f"/p/{token}")
    assert page.status_code == 200
    started = phone.post(f"/p/{token}", data={"csrf_token": csrf_token(page.text)})
    assert started.headers["Location"] == "/checkin"
    assert phone.get("/checkin").status_code == 200


def test_invite_text_names_the_clinic_and_shows_times_in_the_patients_timezone(
    client, nurse, patient
):
    record(client, patient)
    invite = db.session.scalars(select(OutboxMessage)).one()
    for body in (invite.body_text, invite.body_html):
        assert "Riverside Clinic" in body
        assert "Nina York" in body
        # 09:30 UTC is 05:30 in New York (EDT); the link lasts 72 hours from now (08:00 EDT)
        assert "Mon 15 Jun 2026 at 05:30 New York time" in body
        assert "Thu 18 Jun 2026 at 08:00 New York time" in body
        assert "call 999" in body


def test_a_treatment_recorded_after_its_follow_up_ended_invites_nobody(client, nurse, patient):
    response = record(client, patient, treated_at="2026-05-17T10:00")  # 29 days ago
    assert response.status_code == 302
    assert len(new_treatments(patient)) == 1
    assert count(OutboxMessage) == 0
    assert "No invite was sent" in client.get(response.headers["Location"]).text


def test_a_treatment_within_its_follow_up_still_invites(client, nurse, patient):
    assert record(client, patient, treated_at="2026-05-19T10:00").status_code == 302
    assert count(OutboxMessage) == 1


def test_invite_html_escapes_what_the_clinic_typed(client, nurse, patient):
    patient.name = "<b>Nina</b>"
    db.session.commit()
    record(client, patient)
    invite = db.session.scalars(select(OutboxMessage)).one()
    assert "&lt;b&gt;Nina&lt;/b&gt;" in invite.body_html
    assert "<b>Nina</b>" in invite.body_text  # plain text is not HTML


def test_the_treatment_and_its_invite_are_one_transaction(app, patient):
    details = TreatmentDetails(
        treated_at=NOW - timedelta(hours=1),
        product="Botox",
        batch_number="B1",
        indication="cosmetic",
        units_by_area={"forehead": 10},
    )
    recorded = record_treatment(patient, details)
    assert recorded.invite is not None and recorded.invite.kind == "invite"
    db.session.rollback()
    assert new_treatments(patient) == []
    assert count(OutboxMessage) == 0
    assert count(PatientLink) == 0


def test_if_the_invite_cannot_be_queued_the_treatment_is_not_saved(
    client, nurse, patient, monkeypatch
):
    def broken_enqueue(**kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(outbox, "enqueue", broken_enqueue)
    response = record(client, patient)
    assert response.status_code == 500
    assert new_treatments(patient) == []
    assert count(PatientLink) == 0
    assert "treatment.create" not in db.session.scalars(select(AuditEvent.action)).all()


def test_the_first_invite_of_a_treatment_is_written_once(app, patient):
    from tracker.services.messaging.messages import queue_invite

    treatment = db.session.scalars(select(Treatment)).one()
    assert queue_invite(treatment) is not None
    assert queue_invite(treatment) is None  # e.g. an API retry: one intent, one message
    db.session.commit()
    assert count(OutboxMessage) == 1


def test_areas_without_a_breakdown_show_a_dash_not_zero(client, nurse, make_patient):
    """The API may record a total only: the areas then have no units of their own."""
    patient, treatment = make_patient()
    treatment.areas, treatment.units_by_area, treatment.units_total = (
        ["forehead", "glabella"],
        {},
        30,
    )
    db.session.commit()
    html = client.get(f"/clinic/treatments/{treatment.id}").text
    assert "<td>forehead</td><td>—</td>" in html
    assert "forehead (—), glabella (—)" in client.get(f"/clinic/patients/{patient.id}").text
