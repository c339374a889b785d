"""Staff second factor at sign-in: an authenticator app's code after the password, one-time
recovery codes, the throttle, and the API's `otp`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.api_helpers import assert_error
from tests.conftest import RECOVERY_CODES, STAFF_PASSWORD, StaffActions, csrf_token
from tests.factor_helpers import (
    ADMIN,
    NOW,
    NURSE,
    audit_actions,
    code_at,
    give_second_factor,
    signed_in,
    user,
)
from tracker.extensions import db
from tracker.models import LoginAttempt, RecoveryCode, SecondFactor, StaffSession
from tracker.services.staff import accounts, staff_sessions


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


# --- signing in with a code --------------------------------------------------------------------


def test_after_the_password_a_code_is_asked_before_any_page_opens(client, clinic):
    totp = give_second_factor()
    staff = StaffActions(client)
    response = staff.submit_password(NURSE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/signin/code"
    assert not signed_in(client)
    page = client.get("/signin/code")
    assert page.status_code == 200 and "authenticator app" in page.text
    response = staff.submit_code(code_at(totp))
    assert response.headers["Location"] == "/clinic/flags"
    assert signed_in(client)


def test_the_next_page_survives_the_code_step(client, clinic):
    totp = give_second_factor()
    staff = StaffActions(client)
    response = staff.submit_password(NURSE, url="/signin?next=/clinic/patients")
    assert response.headers["Location"] == "/signin/code?next=/clinic/patients"
    response = staff.submit_code(code_at(totp), response.headers["Location"])
    assert response.headers["Location"] == "/clinic/patients"


def test_a_half_sign_in_is_no_session_and_ends_when_the_code_is_given(client, clinic):
    totp = give_second_factor()
    staff = StaffActions(client)
    staff.submit_password(NURSE)
    half = db.session.scalars(select(StaffSession)).one()
    assert (half.pending, half.ended_at) == ("second_factor", None)
    staff.submit_code(code_at(totp))
    rows = db.session.scalars(select(StaffSession).order_by(StaffSession.id)).all()
    assert [(row.pending, row.ended_at) for row in rows] == [("second_factor", NOW), (None, None)]


def test_a_staff_page_sends_a_half_sign_in_back_to_its_code_until_it_times_out(
    client, clinic, time_machine
):
    give_second_factor()
    StaffActions(client).submit_password(NURSE)
    page = client.get("/clinic/patients")
    assert page.headers["Location"] == "/signin/code"
    time_machine.shift(staff_sessions.PENDING_TIMEOUTS[staff_sessions.AWAITING_CODE] * 2)
    page = client.get("/clinic/patients")
    assert page.headers["Location"].startswith("/signin?next=")


def test_a_half_sign_in_token_opens_only_its_own_step(app, clinic):
    token = staff_sessions.start_session(user(), "192.0.2.1", pending=staff_sessions.AWAITING_CODE)
    assert staff_sessions.session_user(token) is None
    assert staff_sessions.pending_user(token, staff_sessions.AWAITING_CODE) == user()
    assert staff_sessions.pending_user(token, staff_sessions.AWAITING_ENROLMENT) is None


def test_a_wrong_code_is_refused_and_counted_as_a_failed_attempt(client, clinic):
    give_second_factor()
    staff = StaffActions(client)
    staff.submit_password(NURSE)
    response = staff.submit_code("000000")
    assert response.status_code == 401
    assert "not right" in response.text
    assert not signed_in(client)
    attempts = db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
    assert [(a.email, a.succeeded) for a in attempts] == [(NURSE, True), (NURSE, False)]


@pytest.mark.parametrize(
    ("seconds", "accepted"), [(-30, True), (30, True), (-60, False), (60, False)]
)
def test_codes_of_the_step_before_and_after_are_accepted_not_further(
    client, clinic, seconds, accepted
):
    totp = give_second_factor()
    staff = StaffActions(client)
    staff.submit_password(NURSE)
    assert staff.submit_code(code_at(totp, seconds)).status_code == (302 if accepted else 401)


def test_a_code_works_once_and_an_older_one_not_after_it(app, clinic, frozen_clock):
    totp = give_second_factor()
    first = StaffActions(app.test_client())
    first.submit_password(NURSE)
    assert first.submit_code(code_at(totp)).status_code == 302
    replay = StaffActions(app.test_client())
    replay.submit_password(NURSE)
    assert replay.submit_code(code_at(totp)).status_code == 401  # the same code, again
    assert replay.submit_code(code_at(totp, -30)).status_code == 401  # an older step
    assert replay.submit_code(code_at(totp, 30)).status_code == 302  # the next one is fine
    assert db.session.scalars(select(SecondFactor)).one().last_used_step == totp.timecode(NOW) + 1


def test_the_code_step_times_out_after_five_minutes(client, clinic, frozen_clock):
    totp = give_second_factor()
    StaffActions(client).submit_password(NURSE)
    form = csrf_token(client.get("/signin/code").text)
    frozen_clock.move_to(NOW + timedelta(minutes=5, seconds=1), tick=False)
    response = client.post("/signin/code", data={"csrf_token": form, "code": totp.now()})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin")
    assert "sign in again" in client.get(response.headers["Location"]).text
    assert db.session.scalars(select(StaffSession)).one().ended_at is not None
    assert not signed_in(client)


def test_the_code_page_without_a_password_first_sends_to_sign_in(client, clinic):
    response = client.get("/signin/code")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")


def test_wrong_codes_are_throttled_like_wrong_passwords(app, clinic):
    totp = give_second_factor()
    staff = StaffActions(app.test_client())
    staff.submit_password(NURSE)
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        assert staff.submit_code("000000").status_code == 401
    throttled = staff.submit_code(code_at(totp))  # even the right code now waits
    assert throttled.status_code == 429 and "Wait 15 minutes" in throttled.text
    assert StaffActions(app.test_client()).submit_password(NURSE).status_code == 429


def test_a_recovery_code_signs_in_once(client, clinic):
    give_second_factor()
    code = RECOVERY_CODES[db.session.scalars(select(SecondFactor)).one().secret][0]
    staff = StaffActions(client)
    staff.submit_password(NURSE)
    assert staff.submit_code(code.upper().replace("-", " ")).status_code == 302  # as typed
    assert "staff.recovery_code.use" in audit_actions()
    staff.sign_out()
    staff.submit_password(NURSE)
    assert staff.submit_code(code).status_code == 401
    assert db.session.scalar(select(func.count()).where(RecoveryCode.used_at.is_(None))) == 9


# --- the API -----------------------------------------------------------------------------------


def test_the_api_asks_for_the_code_once_the_user_has_a_factor(client, clinic):
    totp = give_second_factor()
    body = {"email": NURSE, "password": STAFF_PASSWORD}
    assert_error(client.post("/api/v1/token", json=body), 401, "otp_required")
    assert_error(client.post("/api/v1/token", json={**body, "otp": "000000"}), 401, "invalid_otp")
    response = client.post("/api/v1/token", json={**body, "otp": code_at(totp)})
    assert response.status_code == 200
    assert_error(
        client.post("/api/v1/token", json={**body, "otp": code_at(totp)}), 401, "invalid_otp"
    )


def test_wrong_api_codes_count_towards_the_throttle(client, clinic):
    totp = give_second_factor()
    body = {"email": NURSE, "password": STAFF_PASSWORD, "otp": "000000"}
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        assert_error(client.post("/api/v1/token", json=body), 401, "invalid_otp")
    response = client.post("/api/v1/token", json={**body, "otp": code_at(totp)})
    assert_error(response, 429)


def test_an_admin_who_has_not_enrolled_gets_no_token(client, clinic, admin):
    response = client.post("/api/v1/token", json={"email": ADMIN, "password": STAFF_PASSWORD})
    assert_error(response, 401, "enrolment_required")


def test_the_openapi_document_describes_otp(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    otp = schemas["TokenIn"]["properties"]["otp"]
    assert "otp_required" in otp["description"] and "TokenIn" in schemas
    assert "otp" not in schemas["TokenIn"].get("required", [])
