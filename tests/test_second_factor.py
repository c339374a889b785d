"""Staff second factor: an authenticator app's codes after the password, recovery codes,
enrolment (required for admins, and for clinicians when the clinic asks), an admin's reset."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from tests.api_helpers import Api, assert_error, get_token
from tests.conftest import RECOVERY_CODES, STAFF_PASSWORD, StaffActions, csrf_token, fresh_code
from tests.conftest import give_second_factor as _give_second_factor
from tracker.extensions import db
from tracker.models import AuditEvent, LoginAttempt, RecoveryCode, SecondFactor, StaffSession, User
from tracker.services import accounts, staff_sessions
from tracker.services.clinics import create_user

NOW = datetime(2026, 11, 24, 9, 0, 10, tzinfo=UTC)  # 10 s into a 30-second step
NURSE, ADMIN = "nurse@riverside.test", "admin@riverside.test"
SECRET_RE = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def user(email: str = NURSE) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def give_second_factor(email: str = NURSE) -> pyotp.TOTP:
    return pyotp.TOTP(_give_second_factor(user(email)).secret)


def code_at(totp: pyotp.TOTP, seconds: int = 0) -> str:
    return totp.at(NOW + timedelta(seconds=seconds))


def audit_actions() -> list[str]:
    return [event.action for event in db.session.scalars(select(AuditEvent))]


def words(html: str) -> str:
    return " ".join(html.split())


def signed_in(client) -> bool:
    return client.get("/clinic/").status_code == 200


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
