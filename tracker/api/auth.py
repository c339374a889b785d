"""Bearer tokens: issued for a staff email and password, throttled like the sign-in page.

A token is random, stored only as its SHA-256 hash, and ends after 12 hours, when its user is
deactivated, or when the user's password changes (the token keeps a stamp of the password hash
it was issued under).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import g, request
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import ApiToken, LoginAttempt, User
from ..services import accounts
from ..timeutil import utcnow
from .errors import ApiError

TOKEN_LIFETIME = timedelta(hours=12)
RETRY_AFTER_SECONDS = int(accounts.THROTTLE_WINDOW.total_seconds())
CHALLENGE = 'Bearer realm="aftercare"'


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def password_stamp(user: User) -> str:
    """Changes whenever the password does (each new hash has a new salt)."""
    return _sha256(user.password_hash)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


_dummy_hash: list[str] = []


def _burn_time(password: str) -> bool:
    """Hash anyway for an unknown email, so timing does not tell which accounts exist."""
    if not _dummy_hash:
        _dummy_hash.append(generate_password_hash(secrets.token_hex(8)))
    check_password_hash(_dummy_hash[0], password)
    return False


def issue_token(email: str, password: str, ip_address: str, now: datetime | None = None):
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
    token = secrets.token_urlsafe(32)
    expires_at = now + TOKEN_LIFETIME
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_sha256(token),
            password_stamp=password_stamp(user),
            created_at=now,
            expires_at=expires_at,
            ip_address=ip_address,
        )
    )
    db.session.flush()
    return IssuedToken(token, expires_at)


def token_user(token: str, now: datetime | None = None) -> User | None:
    """The user of a live token, or None. A token outlived by its user's access is revoked."""
    now = now or utcnow()
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _sha256(token)))
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        return None
    user = row.user
    if not user.is_active or row.password_stamp != password_stamp(user):
        row.revoked_at = now
        db.session.commit()  # keep the revocation although this request fails
        return None
    return user


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        return None
    return value


def require_user() -> User:
    """The token's user for this request (kept in `g.api_user`), or a 401 `ApiError`."""
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
    g.api_user = user
    return user


def current_user() -> User:
    """The authenticated user of this API request."""
    return g.api_user
