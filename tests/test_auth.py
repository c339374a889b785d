"""Staff sign-in: passwords, throttling, server-side sessions and their time-outs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import STAFF_PASSWORD, StaffActions, csrf_token, make_app
from tracker import create_app
from tracker.extensions import db
from tracker.models import LoginAttempt, StaffSession, User
from tracker.services.staff import accounts

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_clinician_signs_in_and_reaches_the_queue(client, clinic, staff_actions):
    response = staff_actions.sign_in()
    assert response.status_code == 302
    assert response.headers["Location"] == "/clinic/flags"
    page = client.get("/clinic/")
    assert page.status_code == 200
    assert "Sign out" in page.text


def test_signed_out_staff_pages_redirect_to_sign_in(client, clinic):
    response = client.get("/clinic/patients")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=")


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("nurse@riverside.test", "wrong password!"),
        ("nobody@riverside.test", STAFF_PASSWORD),
        ("NURSE@riverside.test", "wrong password!"),
    ],
    ids=["wrong-password", "unknown-email", "wrong-password-any-case"],
)
def test_wrong_credentials_are_refused_with_one_message(client, clinic, email, password):
    response = StaffActions(client).sign_in(email, password)
    assert response.status_code == 401
    assert "do not match an active account" in response.text
    assert client.get("/clinic/").status_code == 302
    attempt = db.session.scalars(select(LoginAttempt)).one()
    assert (attempt.email, attempt.succeeded) == (email.lower(), False)


def test_email_is_matched_whatever_its_case(client, clinic):
    assert StaffActions(client).sign_in("  Nurse@Riverside.TEST ").status_code == 302


def test_sign_in_without_csrf_token_is_refused(client, clinic):
    response = client.post(
        "/signin", data={"email": "nurse@riverside.test", "password": STAFF_PASSWORD}
    )
    assert response.status_code == 400
    assert db.session.scalar(select(StaffSession)) is None


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_redirects_off_site(client, clinic, target):
    page = client.get("/signin")
    response = client.post(
        f"/signin?next={target}",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "nurse@riverside.test",
            "password": STAFF_PASSWORD,
        },
    )
    assert response.headers["Location"] == "/clinic/flags"


def test_sign_in_follows_a_local_next_page(client, clinic):
    page = client.get("/signin")
    response = client.post(
        "/signin?next=/clinic/patients",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "nurse@riverside.test",
            "password": STAFF_PASSWORD,
        },
    )
    assert response.headers["Location"] == "/clinic/patients"


def test_sign_in_starts_a_new_session(client, clinic, staff_actions):
    client.get("/signin")
    before = session_cookie(client)
    staff_actions.sign_in()
    assert session_cookie(client) != before
    assert db.session.scalars(select(StaffSession)).one().ended_at is None


def test_signing_in_again_in_the_same_browser_ends_the_earlier_session(app, client, clinic):
    StaffActions(client).sign_in()
    earlier = session_cookie(client)
    StaffActions(client).sign_in()
    rows = db.session.scalars(select(StaffSession).order_by(StaffSession.id)).all()
    assert [row.ended_at for row in rows] == [NOW, None]
    replay = app.test_client()
    replay.set_cookie("session", earlier)
    assert replay.get("/clinic/").status_code == 302
    assert client.get("/clinic/").status_code == 200


def test_old_cookie_is_refused_after_sign_out(client, app, clinic, staff_actions):
    staff_actions.sign_in()
    stolen = session_cookie(client)
    staff_actions.sign_out()
    assert client.get("/clinic/").status_code == 302
    client.set_cookie("session", stolen)
    assert client.get("/clinic/").status_code == 302
    assert db.session.scalars(select(StaffSession)).one().ended_at == NOW


def test_sign_out_needs_a_post_with_csrf(client, clinic, staff_actions):
    staff_actions.sign_in()
    assert client.get("/signout").status_code == 405
    client.post("/signout")  # no token: the cookie is dropped but the server session stays
    assert db.session.scalars(select(StaffSession)).one().ended_at is None


def change_password(client, current, new, confirm=None):
    page = client.get("/account/password")
    return client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page.text),
            "current": current,
            "new": new,
            "confirm": new if confirm is None else confirm,
        },
    )


def test_password_change_ends_every_other_session_and_keeps_this_one(app, clinic, database_uri):
    laptop, phone = app.test_client(), app.test_client()
    StaffActions(laptop).sign_in()
    StaffActions(phone).sign_in()
    stolen = session_cookie(laptop)
    response = change_password(laptop, STAFF_PASSWORD, "a much longer new phrase")
    assert response.status_code == 302
    assert laptop.get("/clinic/").status_code == 200
    assert session_cookie(laptop) != stolen
    assert phone.get("/clinic/").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/clinic/").status_code == 302
    assert StaffActions(app.test_client()).sign_in().status_code == 401
    fresh = StaffActions(app.test_client()).sign_in(password="a much longer new phrase")
    assert fresh.status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("not my password", "a much longer new phrase", None, "current password is not right"),
        (STAFF_PASSWORD, "short", None, "at least 8 characters"),
        (STAFF_PASSWORD, "password123", None, "too easy to guess"),
        (STAFF_PASSWORD, "Winter2026", None, "too easy to guess"),
        (STAFF_PASSWORD, "nurse-on-duty-2026", None, "email address"),
        (STAFF_PASSWORD, STAFF_PASSWORD, None, "different from your current"),
        (STAFF_PASSWORD, "a much longer new phrase", "something else", "do not match"),
    ],
)
def test_bad_password_changes_are_refused_and_change_nothing(
    client, clinic, staff_actions, current, new, confirm, message
):
    staff_actions.sign_in()
    response = change_password(client, current, new, confirm)
    assert response.status_code == 422
    assert message in response.text
    user = db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))
    assert user.check_password(STAFF_PASSWORD)
    assert client.get("/clinic/").status_code == 200


def test_wrong_current_passwords_are_throttled_like_sign_ins(client, clinic, staff_actions):
    staff_actions.sign_in()
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        response = change_password(client, "not my password", "a much longer new phrase")
        assert response.status_code == 422
    response = change_password(client, STAFF_PASSWORD, "a much longer new phrase")
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.text
    user = db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))
    assert user.check_password(STAFF_PASSWORD)
    failures = db.session.scalars(select(LoginAttempt).where(LoginAttempt.succeeded.is_(False)))
    assert len(failures.all()) == accounts.MAX_FAILURES_PER_ACCOUNT
    assert client.get("/clinic/").status_code == 200  # still signed in: only the change waits


def test_session_ends_after_thirty_idle_minutes(client, clinic, staff_actions, frozen_clock):
    staff_actions.sign_in()
    frozen_clock.move_to(NOW + timedelta(minutes=29), tick=False)
    assert client.get("/clinic/").status_code == 200  # activity keeps it alive
    frozen_clock.move_to(NOW + timedelta(minutes=58), tick=False)
    assert client.get("/clinic/").status_code == 200
    frozen_clock.move_to(NOW + timedelta(minutes=88, seconds=1), tick=False)
    assert client.get("/clinic/").status_code == 302


def test_session_ends_after_twelve_hours_however_busy(client, clinic, staff_actions, frozen_clock):
    staff_actions.sign_in()
    for minutes in range(20, 12 * 60, 20):
        frozen_clock.move_to(NOW + timedelta(minutes=minutes), tick=False)
        assert client.get("/clinic/").status_code == 200, minutes
    frozen_clock.move_to(NOW + timedelta(hours=12, seconds=1), tick=False)
    assert client.get("/clinic/").status_code == 302


def test_deactivated_user_cannot_sign_in_and_their_session_ends(client, app, clinic):
    StaffActions(client).sign_in()
    user = db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))
    user.is_active = False
    db.session.commit()
    assert client.get("/clinic/").status_code == 302
    assert StaffActions(app.test_client()).sign_in().status_code == 401


def failed_sign_ins(client, count, email="nurse@riverside.test"):
    return [
        StaffActions(client).sign_in(email, "wrong password!").status_code for _ in range(count)
    ]


def test_throttling_holds_across_two_app_instances_sharing_one_database(
    app, clinic, database_uri, frozen_clock
):
    first, second = app.test_client(), make_app(database_uri).test_client()
    assert failed_sign_ins(first, 3) == [401, 401, 401]
    assert failed_sign_ins(second, 2) == [401, 401]
    throttled = StaffActions(second).sign_in()  # even the right password now waits
    assert throttled.status_code == 429
    assert "Wait 15 minutes" in throttled.text
    assert StaffActions(first).sign_in().status_code == 429
    frozen_clock.move_to(NOW + accounts.THROTTLE_WINDOW + timedelta(seconds=1), tick=False)
    assert StaffActions(first).sign_in().status_code == 302  # no permanent lock-out


def test_throttling_one_account_leaves_others_alone(app, clinic, admin):
    client = app.test_client()
    failed_sign_ins(client, accounts.MAX_FAILURES_PER_ACCOUNT)
    assert StaffActions(client).sign_in().status_code == 429
    assert StaffActions(client).sign_in("admin@riverside.test").status_code == 302


def test_one_address_trying_many_accounts_is_throttled(app, clinic):
    client = app.test_client()
    for n in range(accounts.MAX_FAILURES_PER_ADDRESS):
        assert failed_sign_ins(client, 1, f"guess{n}@riverside.test") == [401]
    assert StaffActions(client).sign_in().status_code == 429


def test_staff_session_cookie_holds_no_user_data_and_database_holds_no_token(
    client, clinic, staff_actions
):
    staff_actions.sign_in()
    row = db.session.scalars(select(StaffSession)).one()
    assert len(row.token_hash) == 64
    assert row.token_hash not in (session_cookie(client) or "")


def test_production_hashes_are_full_strength_scrypt():
    """The suite lowers scrypt's cost to stay quick; the app itself must not."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40})
    with app.app_context():
        user = User(email="a@b.test")
        user.set_password("a long enough passphrase")
        assert user.password_hash.startswith("scrypt:32768:8:1$")
        assert user.check_password("a long enough passphrase")
