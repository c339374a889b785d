"""Staff management by a clinic admin, through the browser (CSRF on).

Admins add clinicians and admins, deactivate them (they cannot sign in, and every session they
had ends at once) and reactivate them. Clinicians get 403; another clinic's admin gets 404.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import STAFF_PASSWORD, StaffActions, csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent, StaffSession, User
from tracker.services.clinics.clinics import create_user

NEW_PASSWORD = "plum orchard ninety"


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def user_count() -> int:
    return db.session.scalar(select(func.count(User.id)))


def live_sessions(user: User) -> int:
    return db.session.scalar(
        select(func.count(StaffSession.id)).where(
            StaffSession.user_id == user.id, StaffSession.ended_at.is_(None)
        )
    )


def audit_actions() -> list[tuple[str, str | None]]:
    return [(e.action, e.target) for e in db.session.scalars(select(AuditEvent))]


def signed_in(app, email: str):
    """A separate browser, signed in as `email`."""
    browser = app.test_client()
    assert StaffActions(browser).sign_in(email).status_code == 302
    return browser


def post(client, url: str, data: dict | None = None, form_page: str = "/clinic/staff/new"):
    """POST with a valid CSRF token taken from `form_page`."""
    token = csrf_token(client.get(form_page).text)
    return client.post(url, data={"csrf_token": token, **(data or {})})


def add_form(**changes: str) -> dict[str, str]:
    return {
        "name": "Sam Practitioner",
        "email": "sam@riverside.test",
        "role": "clinician",
        "registration_number": "GMC 7654321",
        "password": NEW_PASSWORD,
        **changes,
    }


@pytest.fixture
def nurse(clinic) -> User:
    user = user_by_email("nurse@riverside.test")
    user.name = "Nia Nurse"
    user.registration_number = "NMC 12A3456B"
    db.session.commit()
    return user


@pytest.fixture
def admin_client(app, admin):
    return signed_in(app, "admin@riverside.test")


# --- the list ----------------------------------------------------------------------------------


def test_admin_sees_each_staff_member_with_role_registration_status_and_last_sign_in(
    app, admin_client, nurse, other_clinic
):
    deactivated = create_user(nurse.clinic, "old@riverside.test", STAFF_PASSWORD, name="Ola Old")
    deactivated.is_active = False
    db.session.commit()
    page = admin_client.get("/clinic/staff")
    assert page.status_code == 200
    row = page.text[page.text.index(f'id="staff-{nurse.id}"') :]
    row = row[: row.index("</tr>")]
    for text in ("Nia Nurse", "nurse@riverside.test", "Clinician", "NMC 12A3456B", "Active"):
        assert text in row
    assert "never" in row
    assert "Deactivate" in row
    old_row = page.text[page.text.index(f'id="staff-{deactivated.id}"') :]
    old_row = old_row[: old_row.index("</tr>")]
    assert "Deactivated" in old_row and "Reactivate" in old_row
    assert "nurse@hillside.test" not in page.text

    signed_in(app, "nurse@riverside.test")
    page = admin_client.get("/clinic/staff")
    row = page.text[page.text.index(f'id="staff-{nurse.id}"') :]
    assert "never" not in row[: row.index("</tr>")]


def test_admin_is_offered_no_button_to_deactivate_themself(admin_client, admin):
    page = admin_client.get("/clinic/staff")
    row = page.text[page.text.index(f'id="staff-{admin.id}"') :]
    row = row[: row.index("</tr>")]
    assert "(you)" in row
    assert "Deactivate" not in row


# --- adding staff ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_admin_adds_staff_who_can_then_sign_in_with_their_initial_password(
    app, admin_client, clinic, admin, role
):
    response = post(
        admin_client, "/clinic/staff/new", add_form(role=role, email=" Sam@Riverside.TEST")
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/clinic/staff"
    user = user_by_email("sam@riverside.test")
    assert (user.name, user.role, user.registration_number, user.clinic_id, user.is_active) == (
        "Sam Practitioner",
        role,
        "GMC 7654321",
        clinic.id,
        True,
    )
    assert user.password_hash != NEW_PASSWORD
    assert ("staff.create", f"user:{user.id}") in audit_actions()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.create"))
    assert (event.actor_id, event.patient_id, event.clinic_id) == (admin.id, None, clinic.id)

    browser = app.test_client()
    assert StaffActions(browser).sign_in("sam@riverside.test", NEW_PASSWORD).status_code == 302
    assert browser.get("/clinic/staff").status_code == (200 if role == "admin" else 403)


def test_registration_number_is_optional(admin_client):
    response = post(admin_client, "/clinic/staff/new", add_form(registration_number=""))
    assert response.status_code == 302
    assert user_by_email("sam@riverside.test").registration_number is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "  "}, "Give the person&#39;s name."),
        ({"email": ""}, "This field is required."),
        ({"email": "sam.riverside.test"}, "Enter an email address like name@example.com."),
        ({"email": "sam@localhost"}, "Enter an email address like name@example.com."),
        ({"email": "NURSE@riverside.test"}, "This address cannot be used for a new account."),
        # The same words for another clinic's account: adding staff does not reveal it.
        ({"email": "nurse@hillside.test"}, "This address cannot be used for a new account."),
        ({"role": "superuser"}, "Not a valid choice."),
        ({"password": ""}, "This field is required."),
        ({"password": "short"}, "Use at least 8 characters."),
        ({"password": "password123"}, "That password is too easy to guess."),
        (
            {"email": "samuel@riverside.test", "password": "i-am-SAMUEL-2026"},
            "Do not use your email address",
        ),
        ({"registration_number": "x" * 61}, "60 characters"),
    ],
    ids=[
        "name-missing",
        "name-blank",
        "email-missing",
        "email-without-at",
        "email-without-domain",
        "email-taken-any-case",
        "email-taken-in-another-clinic",
        "role-unknown",
        "password-missing",
        "password-short",
        "password-common",
        "password-contains-email",
        "registration-too-long",
    ],
)
def test_invalid_new_staff_is_refused_with_422_and_nobody_is_added(
    admin_client, nurse, other_clinic, changes, message
):
    before = user_count()
    response = post(admin_client, "/clinic/staff/new", add_form(**changes))
    assert response.status_code == 422
    assert "Please check the form" in response.text
    assert message in response.text
    assert user_count() == before
    assert audit_actions() == []


# --- deactivating and reactivating -------------------------------------------------------------


def test_deactivated_user_is_refused_at_once_everywhere_and_cannot_sign_in(
    app, admin_client, nurse, admin
):
    phone = signed_in(app, "nurse@riverside.test")
    desktop = signed_in(app, "nurse@riverside.test")
    assert phone.get("/account/password").status_code == 200
    assert live_sessions(nurse) == 2

    response = post(admin_client, f"/clinic/staff/{nurse.id}/deactivate")
    assert response.status_code == 302
    db.session.refresh(nurse)
    assert nurse.is_active is False
    assert live_sessions(nurse) == 0
    for browser in (phone, desktop):
        refused = browser.get("/account/password")
        assert refused.status_code == 302
        assert refused.headers["Location"].startswith("/signin")
    assert StaffActions(app.test_client()).sign_in("nurse@riverside.test").status_code == 401
    assert audit_actions() == [("staff.deactivate", f"user:{nurse.id}")]
    assert admin_client.get("/clinic/staff").status_code == 200  # the admin carries on


def test_deactivating_twice_changes_and_records_nothing_more(admin_client, nurse):
    post(admin_client, f"/clinic/staff/{nurse.id}/deactivate")
    assert post(admin_client, f"/clinic/staff/{nurse.id}/deactivate").status_code == 302
    assert audit_actions() == [("staff.deactivate", f"user:{nurse.id}")]


def test_reactivated_user_signs_in_again_but_old_sessions_stay_ended(app, admin_client, nurse):
    old_browser = signed_in(app, "nurse@riverside.test")
    post(admin_client, f"/clinic/staff/{nurse.id}/deactivate")
    response = post(admin_client, f"/clinic/staff/{nurse.id}/reactivate")
    assert response.status_code == 302
    db.session.refresh(nurse)
    assert nurse.is_active is True
    assert old_browser.get("/account/password").status_code == 302
    assert StaffActions(app.test_client()).sign_in("nurse@riverside.test").status_code == 302
    assert [a for a, _ in audit_actions()] == ["staff.deactivate", "staff.reactivate"]


def test_admin_cannot_deactivate_themself(admin_client, admin):
    response = post(admin_client, f"/clinic/staff/{admin.id}/deactivate")
    assert response.status_code == 403
    assert "You cannot deactivate your own account." in response.text
    db.session.refresh(admin)
    assert admin.is_active is True
    assert live_sessions(admin) == 1
    assert admin_client.get("/clinic/staff").status_code == 200
    assert audit_actions() == []


def test_an_admin_can_deactivate_another_admin(app, admin_client, clinic):
    other = create_user(clinic, "second@riverside.test", STAFF_PASSWORD, "admin")
    db.session.commit()
    browser = signed_in(app, "second@riverside.test")
    assert post(admin_client, f"/clinic/staff/{other.id}/deactivate").status_code == 302
    assert browser.get("/clinic/staff").status_code == 302


def test_deactivation_without_csrf_token_is_refused(admin_client, nurse):
    assert admin_client.post(f"/clinic/staff/{nurse.id}/deactivate").status_code == 400
    db.session.refresh(nurse)
    assert nurse.is_active is True


def test_deactivation_by_get_is_not_possible(admin_client, nurse):
    assert admin_client.get(f"/clinic/staff/{nurse.id}/deactivate").status_code == 405
    db.session.refresh(nurse)
    assert nurse.is_active is True


# --- who may -----------------------------------------------------------------------------------


def test_clinician_gets_403_on_every_staff_page_and_post(app, clinic, nurse, admin):
    browser = signed_in(app, "nurse@riverside.test")
    assert browser.get("/clinic/staff").status_code == 403
    assert browser.get("/clinic/staff/new").status_code == 403
    for url, data in [
        ("/clinic/staff/new", add_form()),
        (f"/clinic/staff/{admin.id}/deactivate", {}),
        (f"/clinic/staff/{admin.id}/reactivate", {}),
    ]:
        assert post(browser, url, data, form_page="/account/password").status_code == 403
    assert user_by_email("sam@riverside.test") is None
    db.session.refresh(admin)
    assert admin.is_active is True
    assert audit_actions() == []


def test_admin_of_another_clinic_gets_404_for_our_staff(app, clinic, nurse, other_clinic):
    create_user(other_clinic, "admin@hillside.test", STAFF_PASSWORD, "admin")
    theirs = user_by_email("nurse@hillside.test")
    db.session.commit()
    browser = signed_in(app, "admin@hillside.test")
    for action in ("deactivate", "reactivate"):
        assert post(browser, f"/clinic/staff/{nurse.id}/{action}").status_code == 404
    db.session.refresh(nurse)
    assert nurse.is_active is True
    assert "nurse@riverside.test" not in browser.get("/clinic/staff").text
    assert post(browser, f"/clinic/staff/{theirs.id}/deactivate").status_code == 302


def test_new_staff_join_the_admins_own_clinic_whatever_is_posted(
    app, admin_client, clinic, other_clinic
):
    data = add_form(clinic_id=str(other_clinic.id))
    assert post(admin_client, "/clinic/staff/new", data).status_code == 302
    assert user_by_email("sam@riverside.test").clinic_id == clinic.id
