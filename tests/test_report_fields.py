"""What a regulator's report needs on the record: a patient's optional sex and date of birth (the
form, the page, the API, the JSON export, erasure), a staff member's profession, and the
clinic's postal address. Bad values are form errors or 422 and nothing is saved."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.api_helpers import Api, mint_token
from tests.conftest import TREATED_AT, csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent, Clinic, Patient, User
from tracker.services.governance.data_rights import erase_patient, export_record
from tracker.services.patients.patients import birth_date_problem

NOW = TREATED_AT + timedelta(days=2)
VALID = {
    "name": "Maria Lopez",
    "email": "maria@example.com",
    "timezone": "Europe/Madrid",
    "reminder_time": "08:30",
    "language": "en",
}


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def _patients() -> int:
    return db.session.scalar(select(func.count(Patient.id)))


def _submit(client, url: str, data: dict):
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


@pytest.mark.parametrize(
    ("born", "problem"),
    [
        (None, None),
        (date(1980, 4, 21), None),
        (date(1900, 1, 1), None),
        (NOW.date(), None),
        (NOW.date() + timedelta(days=1), "A date of birth cannot be in the future."),
        (date(1899, 12, 31), "Give a date of birth from 1900 on."),
    ],
)
def test_which_dates_of_birth_are_refused(born, problem):
    assert birth_date_problem(born, NOW.date()) == problem


def test_a_patient_is_added_with_sex_and_date_of_birth_and_the_page_shows_them(client, nurse):
    response = _submit(
        client, "/clinic/patients/new", {**VALID, "sex": "female", "date_of_birth": "1980-04-21"}
    )

    assert response.status_code == 302
    patient = db.session.scalar(select(Patient))
    assert (patient.sex, patient.date_of_birth) == ("female", date(1980, 4, 21))
    page = client.get(f"/clinic/patients/{patient.id}").text
    assert "<dt>Sex</dt><dd>Female</dd>" in page
    assert "<dt>Date of birth</dt><dd>1980-04-21</dd>" in page


def test_both_stay_optional(client, nurse):
    assert _submit(client, "/clinic/patients/new", VALID).status_code == 302

    patient = db.session.scalar(select(Patient))
    assert (patient.sex, patient.date_of_birth) == (None, None)
    assert "<dt>Sex</dt><dd>not recorded</dd>" in client.get(f"/clinic/patients/{patient.id}").text


@pytest.mark.parametrize(
    "values",
    [
        {"sex": "unknown-sex"},
        {"date_of_birth": (NOW.date() + timedelta(days=30)).isoformat()},
        {"date_of_birth": "1850-01-01"},
        {"date_of_birth": "not a date"},
    ],
)
def test_bad_values_are_form_errors_and_nothing_is_saved(client, nurse, values):
    response = _submit(client, "/clinic/patients/new", {**VALID, **values})

    assert response.status_code == 422
    assert "field-error" in response.text
    assert _patients() == 0


def test_editing_sets_and_clears_them(client, nurse, make_patient):
    patient, _ = make_patient("Maria Lopez")
    url = f"/clinic/patients/{patient.id}/edit"
    data = {
        **VALID,
        "email": patient.email,
        "timezone": patient.timezone,
        "reminder_time": "09:00",
        "reminders_enabled": "y",
    }

    assert (
        _submit(client, url, {**data, "sex": "male", "date_of_birth": "1970-01-02"}).status_code
        == 302
    )
    assert (patient.sex, patient.date_of_birth) == ("male", date(1970, 1, 2))
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "patient.update")
    ).one()
    assert event.target == "fields:sex,date_of_birth"

    bad = _submit(client, url, {**data, "sex": "male", "date_of_birth": "2999-01-01"})
    assert bad.status_code == 422
    db.session.refresh(patient)
    assert patient.date_of_birth == date(1970, 1, 2)

    assert _submit(client, url, {**data, "sex": "", "date_of_birth": ""}).status_code == 302
    db.session.refresh(patient)
    assert (patient.sex, patient.date_of_birth) == (None, None)


@pytest.fixture
def api(app, clinic) -> Api:
    return Api(app.test_client(), mint_token())


def test_the_api_creates_reads_and_changes_them(api):
    body = {**VALID, "sex": "other", "date_of_birth": "1991-07-08"}

    created = api.post("/api/v1/patients", json=body)

    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["sex"], created.get_json()["date_of_birth"]) == (
        "other",
        "1991-07-08",
    )
    patient_id = created.get_json()["id"]
    read = api.get(f"/api/v1/patients/{patient_id}").get_json()
    assert (read["sex"], read["date_of_birth"]) == ("other", "1991-07-08")
    changed = api.open(f"/api/v1/patients/{patient_id}", "PATCH", json={"sex": None})
    assert changed.status_code == 200
    assert changed.get_json()["sex"] is None
    assert changed.get_json()["date_of_birth"] == "1991-07-08"


@pytest.mark.parametrize(
    "values",
    [
        {"sex": "unknown-sex"},
        {"sex": 1},
        {"date_of_birth": "2999-01-01"},
        {"date_of_birth": "1850-06-01"},
        {"date_of_birth": "21/04/1980"},
    ],
)
def test_the_api_refuses_bad_values_with_422_and_saves_nothing(api, values):
    response = api.post("/api/v1/patients", json={**VALID, **values})

    assert response.status_code == 422
    assert _patients() == 0


def test_the_api_refuses_a_future_date_of_birth_in_a_change(api, make_patient):
    patient, _ = make_patient("Maria Lopez")

    response = api.open(
        f"/api/v1/patients/{patient.id}", "PATCH", json={"date_of_birth": "2999-01-01"}
    )

    assert response.status_code == 422
    db.session.refresh(patient)
    assert patient.date_of_birth is None


def test_the_export_has_them_and_erasure_clears_the_date_of_birth_only(app, make_patient):
    patient, _ = make_patient("Maria Lopez")
    patient.sex, patient.date_of_birth = "female", date(1980, 4, 21)
    db.session.commit()

    exported = export_record(patient)["patient"]
    assert (exported["sex"], exported["date_of_birth"]) == ("female", "1980-04-21")

    erase_patient(patient)
    db.session.commit()
    assert (patient.sex, patient.date_of_birth) == ("female", None)


# --- staff and clinic ----------------------------------------------------------------------


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_new_staff_member_has_a_profession(admin_client):
    response = _submit(
        admin_client,
        "/clinic/staff/new",
        {
            "name": "Dana Doctor",
            "email": "dana@riverside.test",
            "role": "clinician",
            "registration_number": "GMC 1234567",
            "profession": "  Doctor ",
            "password": "a long enough passphrase 42",
        },
    )

    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "dana@riverside.test"))
    assert user.profession == "Doctor"
    assert "Doctor" in admin_client.get("/clinic/staff").text


def test_an_admin_sets_a_colleagues_professional_details(admin_client, clinic):
    nurse = db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))
    url = f"/clinic/staff/{nurse.id}/details"

    response = _submit(
        admin_client, url, {"profession": "Nurse prescriber", "registration_number": "NMC 1"}
    )

    assert response.status_code == 302
    db.session.refresh(nurse)
    assert (nurse.profession, nurse.registration_number) == ("Nurse prescriber", "NMC 1")
    (event,) = _audit("staff.update")
    assert event.target == f"user:{nurse.id}"
    too_long = _submit(admin_client, url, {"profession": "p" * 81, "registration_number": ""})
    assert too_long.status_code == 422
    db.session.refresh(nurse)
    assert nurse.profession == "Nurse prescriber"


def test_professional_details_are_for_admins_of_the_same_clinic(
    client, nurse, clinic, other_clinic, admin
):
    other = db.session.scalar(select(User).where(User.email == "nurse@hillside.test"))

    assert client.get(f"/clinic/staff/{admin.id}/details").status_code == 403
    nurse.sign_out()
    nurse.sign_in("admin@riverside.test")
    assert client.get(f"/clinic/staff/{other.id}/details").status_code == 404


def test_an_admin_sets_the_clinics_address_and_phone(admin_client, clinic):
    page = admin_client.get("/clinic/staff").text
    token = csrf_token(page.split('id="address"')[1])
    address = "1 River Street\r\n\r\n  Riverside  RV1 2AB "

    response = admin_client.post(
        "/clinic/staff/address",
        data={"csrf_token": token, "address": address, "phone": " 020 7946 0000 "},
    )

    assert response.status_code == 302
    db.session.refresh(clinic)
    assert clinic.address == "1 River Street\nRiverside RV1 2AB"
    assert clinic.phone == "020 7946 0000"
    assert len(_audit("clinic.address.update")) == len(_audit("clinic.phone.update")) == 1


@pytest.mark.parametrize(
    "values",
    [{"address": "x" * 10_000}, {"phone": "call me"}, {"phone": "1" * 41}],
)
def test_a_bad_address_or_phone_changes_neither(admin_client, clinic, values):
    token = csrf_token(admin_client.get("/clinic/staff").text.split('id="address"')[1])

    response = admin_client.post(
        "/clinic/staff/address",
        data={"csrf_token": token, "address": "1 River Street", "phone": "", **values},
    )

    assert response.status_code == 422
    db.session.refresh(clinic)
    assert (clinic.address, clinic.phone) == (None, None)
    assert not _audit("clinic.address.update")


def test_only_admins_set_the_address(client, nurse, clinic):
    response = nurse.post("/clinic/staff/address", {"address": "Somewhere"})

    assert response.status_code == 403
    assert db.session.get(Clinic, clinic.id).address is None


def test_the_report_links_to_where_each_missing_field_is_filled_in(admin_client, make_patient):
    patient, treatment = make_patient("Maria Lopez")
    builders.flag(treatment, "urgent", "difficulty_breathing", opened_at=TREATED_AT)
    db.session.commit()
    admin = db.session.scalar(select(User).where(User.email == "admin@riverside.test"))

    page = admin_client.get(f"/clinic/cases/{treatment.id}/report").text

    assert f'href="/clinic/patients/{patient.id}/edit"' in page
    assert 'href="/clinic/staff#address"' in page
    assert f'href="/clinic/staff/{admin.id}/details"' in page
    assert 'href="#report-form"' in page
