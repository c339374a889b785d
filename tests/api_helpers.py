"""Helpers for the JSON API tests: a client that sends a bearer token, and token fixtures."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import select

from tests.conftest import STAFF_PASSWORD
from tracker.extensions import db
from tracker.models import ApiToken, User
from tracker.services.staff.api_tokens import TOKEN_LIFETIME, password_stamp
from tracker.timeutil import utcnow

NURSE = "nurse@riverside.test"
OTHER_NURSE = "nurse@hillside.test"


def get_token(
    client, email: str = NURSE, password: str = STAFF_PASSWORD, code: str | None = None
) -> str:
    """A fresh token through POST /api/v1/token (with `code` as `otp` if given)."""
    body = {"email": email, "password": password} | ({"otp": code} if code else {})
    response = client.post("/api/v1/token", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def mint_token(email: str = NURSE) -> str:
    """A token stored as POST /api/v1/token stores it, without the slow password check.

    The endpoint itself is tested in test_api_auth; the other tests only need a valid token.
    """
    user = db.session.scalar(select(User).where(User.email == email))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            password_stamp=password_stamp(user),
            created_at=now,
            expires_at=now + TOKEN_LIFETIME,
        )
    )
    db.session.commit()
    return token


class Api:
    """The test client with `Authorization: Bearer <token>` on every request."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, url: str, **kwargs: Any):
        return self.client.get(url, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, url: str, json: Any = None, **kwargs: Any):
        headers = self.headers(kwargs.pop("headers", None))
        if json is not None:
            kwargs["json"] = json
        return self.client.post(url, headers=headers, **kwargs)

    def open(self, url: str, method: str, **kwargs: Any):
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.open(url, method=method, headers=headers, **kwargs)


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is the JSON error envelope with `status` (and `code`); returns its fields."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]["fields"]
