"""Setting up a staff second factor (required for admins, and for clinicians when the clinic
asks), the clinic's rule, and an admin's reset."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from tests.api_helpers import Api, assert_error, get_token
from tests.conftest import STAFF_PASSWORD, StaffActions, csrf_token, fresh_code
from tests.factor_helpers import (
    ADMIN,
    NOW,
    NURSE,
    SECRET_RE,
    audit_actions,
    signed_in,
    user,
    words,
)
from tracker.extensions import db
from tracker.models import RecoveryCode, SecondFactor
from tracker.services.clinics.clinics import create_user


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


# --- enrolment ---------------------------------------------------------------------------------


def enrolment_secret(client) -> str:
    page = client.get("/account/second-factor")
    assert page.status_code == 200, page.status_code
    return SECRET_RE.search(page.text).group(1).replace(" ", "")


def test_an_admin_without_a_factor_is_sent_to_enrolment_and_reaches_nothing_else(
    client, clinic, admin
):
    response = StaffActions(client).submit_password(ADMIN)
    assert response.headers["Location"] == "/account/second-factor"
    for url in ["/clinic/", "/clinic/staff", "/account/password", "/signin/code"]:
        assert client.get(url).status_code == 302, url
    for url in ["/clinic/", "/clinic/staff", "/account/password"]:  # back to where they were
        assert client.get(url).headers["Location"] == "/account/second-factor", url
    page = client.get("/account/second-factor")
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in page.text and "<script" not in page.text
    assert SECRET_RE.search(page.text)


def test_enrolment_takes_a_first_code_then_shows_ten_recovery_codes_once(client, clinic, admin):
    staff = StaffActions(client)
    staff.submit_password(ADMIN)
    secret = enrolment_secret(client)
    assert enrolment_secret(client) == secret  # a reload keeps the QR code already scanned
    response = staff.submit_code(pyotp.TOTP(secret).now(), "/account/second-factor")
    assert response.status_code == 200
    codes = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", response.text)
    assert len(set(codes)) == 10
    assert signed_in(client)
    stored = {row.code_hash for row in db.session.scalars(select(RecoveryCode))}
    assert len(stored) == 10 and not {c.replace("-", "") for c in codes} & stored
    assert "staff.second_factor.enrol" in audit_actions()
    again = client.get("/account/second-factor")  # shown once: now it says it is done
    assert again.status_code == 302 and again.headers["Location"] == "/account/password"
    assert codes[0] not in client.get("/account/password").text


def test_the_enrolment_code_cannot_be_used_again_to_sign_in(app, clinic, admin):
    staff = StaffActions(app.test_client())
    staff.submit_password(ADMIN)
    code = pyotp.TOTP(enrolment_secret(staff.client)).now()
    staff.submit_code(code, "/account/second-factor")
    again = StaffActions(app.test_client())
    assert again.submit_password(ADMIN).headers["Location"] == "/signin/code"
    assert again.submit_code(code).status_code == 401


def test_each_sign_in_sets_up_with_a_new_key(app, clinic, admin):
    """A key shown in an earlier half sign-in (perhaps to someone who had the password) is never
    the one the admin confirms later."""
    earlier = StaffActions(app.test_client())
    earlier.submit_password(ADMIN)
    seen = enrolment_secret(earlier.client)
    later = StaffActions(app.test_client())
    later.submit_password(ADMIN)
    assert enrolment_secret(later.client) != seen
    assert earlier.submit_code(pyotp.TOTP(seen).now(), "/account/second-factor").status_code == 422
    assert db.session.scalars(select(SecondFactor)).one().confirmed_at is None


def test_a_wrong_enrolment_code_sets_up_nothing(client, clinic, admin):
    staff = StaffActions(client)
    staff.submit_password(ADMIN)
    secret = enrolment_secret(client)
    too_late = pyotp.TOTP(secret).at(NOW + timedelta(minutes=2))  # outside the window
    response = staff.submit_code(too_late, "/account/second-factor")
    assert response.status_code == 422 and "not right" in response.text
    assert db.session.scalars(select(SecondFactor)).one().confirmed_at is None
    assert not signed_in(client)
    assert enrolment_secret(client) == secret


def test_the_enrolment_step_times_out_after_ten_minutes(client, clinic, admin, frozen_clock):
    StaffActions(client).submit_password(ADMIN)
    frozen_clock.move_to(NOW + timedelta(minutes=10, seconds=1), tick=False)
    response = client.get("/account/second-factor")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")


def test_a_signed_in_clinician_may_set_up_a_factor_of_their_own(client, clinic):
    staff = StaffActions(client)
    staff.sign_in()
    assert "Set up a second factor" in client.get("/account/password").text
    secret = enrolment_secret(client)
    assert staff.submit_code(pyotp.TOTP(secret).now(), "/account/second-factor").status_code == 200
    assert "10 of your recovery codes are left" in words(client.get("/account/password").text)
    staff.sign_out()
    assert staff.submit_password(NURSE).headers["Location"] == "/signin/code"


def test_a_user_created_on_the_command_line_enrols_at_first_sign_in(client, clinic, runner):
    result = runner.invoke(
        args=[
            "tracker",
            "create-user",
            "--clinic",
            "Riverside Clinic",
            "--email",
            "boss@riverside.test",
            "--password",
            STAFF_PASSWORD,
            "--role",
            "admin",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "second factor" in result.output
    response = StaffActions(client).submit_password("boss@riverside.test")
    assert response.headers["Location"] == "/account/second-factor"


# --- the clinic's rule and an admin's reset ----------------------------------------------------


def admin_post(client, url: str, data: dict | None = None):
    token = csrf_token(client.get("/clinic/staff").text)
    return client.post(url, data={"csrf_token": token, **(data or {})})


@pytest.fixture
def admin_client(app, clinic, admin):
    browser = app.test_client()
    assert StaffActions(browser).sign_in(ADMIN).status_code == 302
    return browser


def test_the_clinic_can_require_a_second_factor_of_every_clinician(app, admin_client, other_clinic):
    response = admin_post(admin_client, "/clinic/staff/second-factor", {"required": "y"})
    assert response.status_code == 302
    assert "clinic.second_factor_requirement.update" in audit_actions()
    assert '<input checked id="required"' in admin_client.get("/clinic/staff").text
    nurse = StaffActions(app.test_client())
    assert nurse.submit_password(NURSE).headers["Location"] == "/account/second-factor"
    elsewhere = StaffActions(app.test_client()).submit_password("nurse@hillside.test")
    assert elsewhere.headers["Location"] == "/clinic/flags"  # another clinic's rule is its own
    admin_post(admin_client, "/clinic/staff/second-factor", {})
    assert (
        StaffActions(app.test_client()).submit_password(NURSE).headers["Location"]
        == "/clinic/flags"
    )


def test_an_admin_resets_a_colleagues_factor_ending_their_sessions_and_tokens(
    app, client, clinic, admin_client
):
    colleague = "second@riverside.test"
    create_user(clinic, colleague, STAFF_PASSWORD, "admin")
    db.session.commit()
    browser = app.test_client()
    StaffActions(browser).sign_in(colleague)
    token = Api(client, get_token(client, colleague, code=fresh_code(user(colleague))))
    target = user(colleague)
    assert "Reset second factor" in admin_client.get("/clinic/staff").text
    response = admin_post(admin_client, f"/clinic/staff/{target.id}/second-factor/reset")
    assert response.status_code == 302
    assert "staff.second_factor.reset" in audit_actions()
    assert not signed_in(browser)
    assert_error(token.get("/api/v1/symptoms"), 401, "invalid_token")
    assert db.session.scalar(select(func.count(SecondFactor.id))) == 1  # the resetting admin's
    assert (
        db.session.scalar(
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == target.id)
        )
        == 0
    )
    again = StaffActions(app.test_client()).submit_password(colleague)
    assert again.headers["Location"] == "/account/second-factor"


def test_an_admin_cannot_reset_their_own_factor(admin_client, admin):
    response = admin_post(admin_client, f"/clinic/staff/{admin.id}/second-factor/reset")
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(SecondFactor.id))) == 1


def test_clinicians_can_neither_reset_nor_change_the_rule(client, clinic, admin):
    StaffActions(client).sign_in()
    token = csrf_token(client.get("/clinic/patients").text)
    for url in [f"/clinic/staff/{admin.id}/second-factor/reset", "/clinic/staff/second-factor"]:
        assert client.post(url, data={"csrf_token": token, "required": "y"}).status_code == 403
