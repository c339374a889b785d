"""Email addresses: one rule for every address the app stores, and no 500 for any it is sent.

Patients', staff's and the clinic's alert address are checked by the same function (a real
address by `email-validator`, no CR/LF, fitting its column once lower-cased). Adding staff does
not tell an admin that an address belongs to another clinic's account.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from tests.api_helpers import Api, assert_error, mint_token
from tests.conftest import STAFF_PASSWORD, StaffActions, csrf_token
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import Clinic, LoginAttempt, Patient, User
from tracker.services.clinics.clinics import create_user
from tracker.services.messaging import alerts
from tracker.services.patients.patients import PatientDetails, create_patient
from tracker.services.staff import staff_admin

GROWS_PAST_ITS_COLUMN = "İ" * 125 + "@example.com"
"""137 characters as typed; 262 lower-cased ("İ" becomes "i" and a combining dot)."""
TOO_LONG = "a" * 60 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + "." + "e" * 20 + ".com"
INVALID = "Enter an email address like name@example.com."
TOO_LONG_MESSAGE = "Keep the email address to 254 characters or fewer."

BAD_ADDRESSES = {
    "no domain dot": "sam@riverside",
    "localhost": "sam@localhost",
    "two at signs": "sam@@riverside.example",
    "empty label": "sam@riverside..example",
    "a space": "sa m@riverside.example",
    "a display name": "Sam <sam@riverside.example>",
    "a domain literal": "sam@[127.0.0.1]",
    "a line break": "sam@riverside.example\r\nBcc: all@elsewhere.example",
    "a line feed inside": "sam\n@riverside.example",
}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def new_staff(email: str) -> staff_admin.NewStaff:
    return staff_admin.NewStaff("Sam Practitioner", email, "clinician", "plum orchard ninety")


@pytest.mark.parametrize("address", BAD_ADDRESSES.values(), ids=BAD_ADDRESSES.keys())
def test_every_address_the_app_stores_is_refused_by_the_same_rule(clinic, admin, address):
    with pytest.raises(InvalidInput) as patient:
        create_patient(clinic.id, PatientDetails("Pat", address, "Europe/London"))
    with pytest.raises(InvalidInput) as staff:
        staff_admin.add_staff(clinic, new_staff(address), actor=admin)
    with pytest.raises(InvalidInput) as alert:
        alerts.set_alert_email(clinic, address, actor=admin)
    with pytest.raises(InvalidInput, match="is not an email address"):
        create_user(clinic, address, STAFF_PASSWORD)
    assert patient.value.fields["email"] == staff.value.fields["email"] == str(alert.value)
    assert str(alert.value) == INVALID
    assert alert.value.fields == {"alert_email": INVALID}
    db.session.rollback()
    assert (count(Patient), count(User)) == (0, 2)  # the fixtures' nurse and admin
    assert db.session.get(Clinic, clinic.id).alert_email is None


@pytest.mark.parametrize("address", [GROWS_PAST_ITS_COLUMN, TOO_LONG], ids=["grows", "long"])
def test_a_staff_address_past_its_column_once_lower_cased_is_a_clear_refusal(
    clinic, admin, address
):
    with pytest.raises(InvalidInput) as staff:
        staff_admin.add_staff(clinic, new_staff(address), actor=admin)
    assert staff.value.fields["email"] == TOO_LONG_MESSAGE
    with pytest.raises(InvalidInput, match="254 characters"):
        create_user(clinic, address, STAFF_PASSWORD)


def test_a_patient_address_too_long_is_a_clear_refusal(clinic):
    with pytest.raises(InvalidInput) as patient:
        create_patient(clinic.id, PatientDetails("Pat", TOO_LONG, "Europe/London"))
    assert patient.value.fields["email"] == TOO_LONG_MESSAGE


def test_staff_addresses_are_stored_lower_case_as_sign_in_compares_them(clinic, admin):
    user = staff_admin.add_staff(clinic, new_staff(" Sam@Riverside.Example "), actor=admin)
    assert user.email == "sam@riverside.example"


# --- through the pages and the API -------------------------------------------------------------


@pytest.fixture
def admin_client(app, admin):
    client = app.test_client()
    assert StaffActions(client).sign_in(admin.email).status_code == 302
    return client


def field_errors(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'class="field-error"[^>]*>([^<]+)<', html)]


def add_staff(client, email: str):
    page = client.get("/clinic/staff/new")
    data = {
        "csrf_token": csrf_token(page.text),
        "name": "Sam Practitioner",
        "email": email,
        "role": "clinician",
        "password": "plum orchard ninety",
    }
    return client.post("/clinic/staff/new", data=data)


def test_adding_staff_with_another_clinics_address_answers_as_for_our_own_staffs(
    admin_client, other_clinic
):
    ours = add_staff(admin_client, "nurse@riverside.test")
    theirs = add_staff(admin_client, "nurse@hillside.test")
    assert ours.status_code == theirs.status_code == 422
    assert field_errors(ours.text) == field_errors(theirs.text) != []
    shown = " ".join(field_errors(theirs.text)).lower()
    assert "clinic" not in shown and "already has an account" not in shown
    assert count(User) == 3  # the two nurses and the admin


@pytest.mark.parametrize("address", [GROWS_PAST_ITS_COLUMN, "sam\r\n@riverside.example"])
def test_the_add_staff_form_shows_a_field_error_for_a_bad_address(admin_client, address):
    response = add_staff(admin_client, address)
    assert response.status_code == 422
    assert field_errors(response.text)
    assert count(User) == 2


def test_the_patient_form_shows_a_field_error_for_an_address_too_long(admin_client):
    page = admin_client.get("/clinic/patients/new")
    data = {"name": "Pat", "email": TOO_LONG, "timezone": "Europe/London", "reminder_time": "09:00"}
    response = admin_client.post(
        "/clinic/patients/new", data={"csrf_token": csrf_token(page.text), **data}
    )
    assert response.status_code == 422
    assert TOO_LONG_MESSAGE in field_errors(response.text)


def test_signing_in_with_an_address_that_grows_past_its_column_is_a_form_error(client, clinic):
    response = StaffActions(client).sign_in(GROWS_PAST_ITS_COLUMN)
    assert response.status_code == 422
    assert TOO_LONG_MESSAGE in field_errors(response.text)
    assert count(LoginAttempt) == 0


def test_a_token_for_an_address_that_grows_past_its_column_is_422(client, clinic):
    body = {"email": GROWS_PAST_ITS_COLUMN, "password": STAFF_PASSWORD}
    fields = assert_error(client.post("/api/v1/token", json=body), 422, "invalid_fields")
    assert fields == {"email": TOO_LONG_MESSAGE}
    assert count(LoginAttempt) == 0


@pytest.mark.parametrize("address", [GROWS_PAST_ITS_COLUMN, TOO_LONG, "pat\r\n@example.com"])
def test_an_api_patient_with_a_bad_address_is_422(client, clinic, address):
    api = Api(client, mint_token())
    body = {"name": "Pat", "email": address, "timezone": "Europe/London"}
    assert "email" in assert_error(api.post("/api/v1/patients", json=body), 422)
    assert count(Patient) == 0
