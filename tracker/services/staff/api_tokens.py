"""Bearer tokens of the JSON API: issued after the sign-in check, stored only as hashes.

A token is random, stored as its SHA-256 hash, and ends after 12 hours, when it is revoked (by
its holder, or with every token of its user on deactivation or a second-factor reset), or when
the user's password changes (the token keeps a stamp of the password hash it was issued under).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ...extensions import db
from ...models import ApiToken, User
from ...timeutil import utcnow
from ...tokens import new_token, stored_hash

TOKEN_LIFETIME = timedelta(hours=12)


def password_stamp(user: User) -> str:
    """Changes whenever the password does (each new hash has a new salt)."""
    return stored_hash(user.password_hash)


@dataclass(frozen=True)
class IssuedToken:
    """A new token (shown once, never stored) and when it ends."""

    token: str
    expires_at: datetime


def issue_token(user: User, ip_address: str | None, now: datetime | None = None) -> IssuedToken:
    """A new token for `user`, who has just passed the sign-in check. The caller commits."""
    now = now or utcnow()
    token = new_token()
    expires_at = now + TOKEN_LIFETIME
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=stored_hash(token),
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
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == stored_hash(token)))
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        return None
    user = row.user
    if not user.is_active or row.password_stamp != password_stamp(user):
        row.revoked_at = now
        db.session.commit()  # keep the revocation although this request fails
        return None
    return user


def revoke_token(token: str, now: datetime | None = None) -> None:
    """End one token (its holder signs out)."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == stored_hash(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )


def revoke_all_tokens(user: User, now: datetime | None = None) -> None:
    """End every token of `user`, so none works again even if the account is reactivated."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
