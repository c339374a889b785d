"""API tokens: issued for a password, stored hashed, expiring, revoked with the user's access."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.api_helpers import NURSE, Api, assert_error, get_token, mint_token
from tests.conftest import STAFF_PASSWORD
from tracker.extensions import db
from tracker.models import ApiToken, LoginAttempt, User
from tracker.timeutil import utcnow


@pytest.fixture
def api(client, clinic) -> Api:
    """The Riverside nurse's token on the test client."""
    return Api(client, mint_token())


def _nurse() -> User:
    return db.session.scalar(select(User).where(User.email == NURSE))


def test_a_right_password_gets_a_token_that_expires_in_twelve_hours(client, clinic):
    before = utcnow()
    response = client.post("/api/v1/token", json={"email": NURSE, "password": STAFF_PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    assert len(body["token"]) >= 40
    row = db.session.scalars(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
    assert body["token"] not in (row.token_hash, row.password_stamp)
    assert timedelta(hours=12) <= row.expires_at - before < timedelta(hours=12, minutes=1)
    assert body["expires_at"].endswith("Z")


def test_the_email_is_matched_whatever_its_case(client, clinic):
    response = client.post(
        "/api/v1/token", json={"email": " Nurse@Riverside.TEST ", "password": STAFF_PASSWORD}
    )
    assert response.status_code == 200


def test_a_wrong_password_or_unknown_email_is_401_and_recorded(client, clinic):
    for email, password in [(NURSE, "wrong password"), ("nobody@riverside.test", "whatever1")]:
        response = client.post("/api/v1/token", json={"email": email, "password": password})
        assert_error(response, 401, "bad_credentials")
    assert db.session.scalar(select(func.count(ApiToken.id))) == 0
    attempts = db.session.scalars(select(LoginAttempt)).all()
    assert [a.succeeded for a in attempts] == [False, False]


def test_a_deactivated_user_gets_no_token(client, clinic):
    _nurse().is_active = False
    db.session.commit()
    response = client.post("/api/v1/token", json={"email": NURSE, "password": STAFF_PASSWORD})
    assert_error(response, 401)


def test_token_requests_are_validated(client, clinic):
    fields = assert_error(
        client.post("/api/v1/token", json={"email": NURSE, "password": "x", "remember": True}),
        422,
        "invalid_fields",
    )
    assert fields == {"remember": "Unknown field."}
    assert "password" in assert_error(client.post("/api/v1/token", json={"email": NURSE}), 422)
    assert_error(client.post("/api/v1/token", data={"email": NURSE}), 415)


def test_five_failures_throttle_the_account_with_429_and_retry_after(client, clinic):
    for _ in range(5):
        assert_error(client.post("/api/v1/token", json={"email": NURSE, "password": "nope"}), 401)
    response = client.post("/api/v1/token", json={"email": NURSE, "password": STAFF_PASSWORD})
    assert_error(response, 429, "too_many_requests")
    assert response.headers["Retry-After"] == "900"


def test_the_token_endpoint_shares_the_sign_in_pages_throttle(client, clinic, staff_actions):
    for _ in range(5):
        staff_actions.sign_in(password="wrong password")
    response = client.post("/api/v1/token", json={"email": NURSE, "password": STAFF_PASSWORD})
    assert_error(response, 429)


def test_throttling_lifts_after_fifteen_minutes(client, clinic, time_machine):
    time_machine.move_to(utcnow(), tick=False)
    for _ in range(5):
        client.post("/api/v1/token", json={"email": NURSE, "password": "nope"})
    time_machine.shift(timedelta(minutes=16))
    assert get_token(client)


def test_no_token_is_401_json_with_a_bearer_challenge(client, clinic):
    response = client.get("/api/v1/symptoms")
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_made_up_or_malformed_token_is_401(client, clinic):
    for header in ["Bearer not-a-real-token", "Basic abc", "Bearer", "Bearer " + "x" * 500]:
        response = client.get("/api/v1/symptoms", headers={"Authorization": header})
        assert_error(response, 401)


def test_a_signed_in_browser_session_is_not_enough(client, clinic, staff_actions):
    assert staff_actions.sign_in().status_code == 302
    assert_error(client.get("/api/v1/symptoms"), 401)


def test_a_token_works_until_it_expires(client, clinic, time_machine):
    time_machine.move_to(utcnow(), tick=False)
    token_api = Api(client, get_token(client))
    time_machine.shift(timedelta(hours=11, minutes=59))
    assert token_api.get("/api/v1/symptoms").status_code == 200
    time_machine.shift(timedelta(minutes=1))
    assert_error(token_api.get("/api/v1/symptoms"), 401, "invalid_token")


def test_deactivating_the_user_revokes_their_tokens(api):
    assert api.get("/api/v1/symptoms").status_code == 200
    _nurse().is_active = False
    db.session.commit()
    assert_error(api.get("/api/v1/symptoms"), 401, "invalid_token")
    assert db.session.scalars(select(ApiToken)).one().revoked_at is not None
    _nurse().is_active = True
    db.session.commit()
    assert_error(api.get("/api/v1/symptoms"), 401)


def test_changing_the_password_revokes_tokens_issued_before(api, client):
    _nurse().set_password("a brand new passphrase")
    db.session.commit()
    assert_error(api.get("/api/v1/symptoms"), 401, "invalid_token")
    fresh = Api(client, get_token(client, password="a brand new passphrase"))
    assert fresh.get("/api/v1/symptoms").status_code == 200


def _deactivate_and_reactivate_by_an_admin(admin) -> None:
    from tracker.services.staff import staff_admin

    staff_admin.deactivate(_nurse(), actor=admin)
    db.session.commit()
    staff_admin.reactivate(_nurse(), actor=admin)
    db.session.commit()


def test_a_reactivated_users_old_token_stays_dead(client, clinic, admin):
    old = Api(client, get_token(client))
    _deactivate_and_reactivate_by_an_admin(admin)
    assert db.session.scalars(select(ApiToken)).one().revoked_at is not None
    assert_error(old.get("/api/v1/symptoms"), 401, "invalid_token")
    assert Api(client, get_token(client)).get("/api/v1/symptoms").status_code == 200


def test_delete_token_revokes_the_calling_token_only(client, clinic):
    first, second = Api(client, get_token(client)), Api(client, get_token(client))
    response = first.open("/api/v1/token", "DELETE")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(first.get("/api/v1/symptoms"), 401, "invalid_token")
    assert_error(first.open("/api/v1/token", "DELETE"), 401, "invalid_token")
    assert second.get("/api/v1/symptoms").status_code == 200


def test_delete_token_without_a_token_is_401(client, clinic):
    assert_error(client.delete("/api/v1/token"), 401, "unauthorized")
