"""Staff accounts: passwords, throttled sign-in, and server-side sessions with time-outs."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import LoginAttempt, StaffSession, User
from ..timeutil import utcnow
from .passwords import password_problem

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
"""Activity is written at most this often, so a busy page does not write on every request."""
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_throttled(email: str, ip_address: str, now: datetime | None = None) -> bool:
    """Too many recent failures for this account or from this address (no permanent lock)."""
    since = (now or utcnow()) - THROTTLE_WINDOW
    failures = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.at > since, LoginAttempt.succeeded.is_(False)
    )
    by_account = db.session.scalar(failures.where(LoginAttempt.email == email.strip().lower()))
    by_address = db.session.scalar(failures.where(LoginAttempt.ip_address == ip_address))
    return by_account >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the user and the new session's cookie token, or why not."""

    user: User | None = None
    token: str | None = None
    throttled: bool = False


def sign_in(email: str, password: str, ip_address: str, now: datetime | None = None) -> SignIn:
    """Check the password (unless throttled), record the attempt, and start a session."""
    now = now or utcnow()
    email = email.strip().lower()
    if is_throttled(email, ip_address, now):
        return SignIn(throttled=True)
    user = db.session.scalar(select(User).where(User.email == email))
    # Hash even for an unknown email, so timing does not tell which accounts exist.
    ok = user.check_password(password) if user else _burn_time(password)
    ok = ok and user is not None and user.is_active
    db.session.add(LoginAttempt(email=email, ip_address=ip_address, at=now, succeeded=ok))
    if not ok or user is None:
        return SignIn()
    return SignIn(user=user, token=start_session(user, ip_address, now))


_DUMMY_USER = User(password_hash="")


def _burn_time(password: str) -> bool:
    if not _DUMMY_USER.password_hash:
        _DUMMY_USER.set_password(secrets.token_hex(8))
    _DUMMY_USER.check_password(password)
    return False


def start_session(user: User, ip_address: str | None, now: datetime | None = None) -> str:
    """A new server-side session; returns the token for the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    db.session.add(
        StaffSession(
            user_id=user.id,
            token_hash=_hash(token),
            created_at=now,
            last_seen_at=now,
            ip_address=ip_address,
        )
    )
    db.session.flush()
    return token


def session_user(token: str | None, now: datetime | None = None) -> User | None:
    """The active user of a live session, touching its activity time; None if it has ended."""
    if not token:
        return None
    now = now or utcnow()
    staff_session = db.session.scalar(
        select(StaffSession).where(StaffSession.token_hash == _hash(token))
    )
    if staff_session is None or staff_session.ended_at is not None:
        return None
    user = staff_session.user
    expired = (
        now - staff_session.last_seen_at > IDLE_TIMEOUT
        or now - staff_session.created_at > ABSOLUTE_TIMEOUT
    )
    if expired or not user.is_active:
        staff_session.ended_at = now
        return None
    if now - staff_session.last_seen_at >= LAST_SEEN_RESOLUTION:
        staff_session.last_seen_at = now
    return user


def end_session(token: str | None, now: datetime | None = None) -> None:
    """Sign out one browser."""
    if token:
        db.session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == _hash(token), StaffSession.ended_at.is_(None))
            .values(ended_at=now or utcnow())
        )


def end_all_sessions(user: User, now: datetime | None = None) -> None:
    """End every session of `user` (password change, deactivation)."""
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
    )


def change_password(user: User, current: str, new: str) -> str | None:
    """Change a password and end every session of the user (the caller starts a fresh one).

    Returns what is wrong, or None on success.
    """
    if not user.check_password(current):
        return "Your current password is not right."
    if new == current:
        return "Choose a password different from your current one."
    problem = password_problem(new, user.email)
    if problem:
        return problem
    user.set_password(new)
    end_all_sessions(user)
    return None
