"""Bearer tokens: issued for a staff email and password, throttled like the sign-in page.

Tokens themselves (issuing, checking, revoking) live in `services.api_tokens`.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import g, request
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import LoginAttempt, User
from ..services import accounts
from ..services.api_tokens import IssuedToken, token_user
from ..services.api_tokens import issue_token as new_token
from ..timeutil import utcnow
from .errors import ApiError

RETRY_AFTER_SECONDS = int(accounts.THROTTLE_WINDOW.total_seconds())
CHALLENGE = 'Bearer realm="aftercare"'
_dummy_hash: list[str] = []


def _burn_time(password: str) -> bool:
    """Hash anyway for an unknown email, so timing does not tell which accounts exist."""
    if not _dummy_hash:
        _dummy_hash.append(generate_password_hash(secrets.token_hex(8)))
    check_password_hash(_dummy_hash[0], password)
    return False


def issue_token(
    email: str, password: str, ip_address: str, now: datetime | None = None
) -> IssuedToken | None:
    """A new token for an active user's right password; records the attempt like sign-in.

    Returns the `IssuedToken`, or None for a wrong email or password. Raises a 429 `ApiError`
    when the account or address has failed too often. The caller commits either way.
    """
    now = now or utcnow()
    email = email.strip().lower()
    if accounts.is_throttled(email, ip_address, now):
        raise ApiError(
            429,
            "Too many failed attempts. Wait 15 minutes and try again.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    user = db.session.scalar(select(User).where(User.email == email))
    ok = user.check_password(password) if user else _burn_time(password)
    ok = bool(ok and user is not None and user.is_active)
    db.session.add(LoginAttempt(email=email, ip_address=ip_address, at=now, succeeded=ok))
    if not ok or user is None:
        return None
    return new_token(user, ip_address, now)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        return None
    return value


def require_user() -> User:
    """The token's user for this request (kept in `g.api_user`, its token in `g.api_token`)."""
    token = _bearer_token()
    if token is None:
        raise ApiError(401, headers={"WWW-Authenticate": CHALLENGE})
    user = token_user(token)
    if user is None:
        raise ApiError(
            401,
            "The token is invalid, expired or revoked: ask for a new one.",
            code="invalid_token",
            headers={"WWW-Authenticate": CHALLENGE + ', error="invalid_token"'},
        )
    g.api_user, g.api_token = user, token
    return user


def current_user() -> User:
    """The authenticated user of this API request."""
    return g.api_user


def current_token() -> str:
    """The bearer token this API request was authenticated with."""
    return g.api_token
