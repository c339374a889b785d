"""Staff credentials: the one sign-in check behind the sign-in page and the API, throttled.

Every check of something a person knows (a password, the current password on the password
page) is recorded as a `LoginAttempt`, so throttling holds across every worker process: too
many recent failures for an account or from an address, and even the right answer waits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select

from ..extensions import db
from ..models import LoginAttempt, User
from ..timeutil import utcnow
from . import staff_sessions
from .passwords import password_problem

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


class TooManyAttempts(Exception):
    """Too many recent failures for this account or from this address: wait, then try again."""


def normalise_email(email: str) -> str:
    """An email address as accounts are stored and looked up."""
    return email.strip().lower()


def is_throttled(email: str, ip_address: str, now: datetime | None = None) -> bool:
    """Too many recent failures for this account or from this address (no permanent lock)."""
    since = (now or utcnow()) - THROTTLE_WINDOW
    failures = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.at > since, LoginAttempt.succeeded.is_(False)
    )
    by_account = db.session.scalar(failures.where(LoginAttempt.email == normalise_email(email)))
    by_address = db.session.scalar(failures.where(LoginAttempt.ip_address == ip_address))
    return by_account >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS


def checked_attempt(
    email: str, ip_address: str, check: Callable[[], bool], now: datetime | None = None
) -> bool:
    """Run `check` unless throttled (raises `TooManyAttempts`), record the attempt, return it."""
    now = now or utcnow()
    email = normalise_email(email)
    if is_throttled(email, ip_address, now):
        raise TooManyAttempts
    ok = check()
    db.session.add(LoginAttempt(email=email, ip_address=ip_address, at=now, succeeded=ok))
    return ok


class Outcome(StrEnum):
    """What the sign-in check found."""

    SIGNED_IN = "signed_in"
    WRONG_CREDENTIALS = "wrong_credentials"


@dataclass(frozen=True)
class Authentication:
    """The outcome of the sign-in check, and whose account it was when the password was right."""

    outcome: Outcome
    user: User | None = None


def authenticate(
    email: str, password: str, ip_address: str, now: datetime | None = None
) -> Authentication:
    """The one credential check of the sign-in page and the API: an active user's password.

    Raises `TooManyAttempts` when throttled. The caller commits, whatever the outcome.
    """
    now = now or utcnow()
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))

    def password_is_right() -> bool:
        # Hash even for an unknown email, so timing does not tell which accounts exist.
        ok = user.check_password(password) if user else _burn_time(password)
        return bool(ok and user is not None and user.is_active)

    if not checked_attempt(email, ip_address, password_is_right, now) or user is None:
        return Authentication(Outcome.WRONG_CREDENTIALS)
    return Authentication(Outcome.SIGNED_IN, user)


@dataclass(frozen=True)
class SignIn:
    """A sign-in on the page: the check's outcome, and the new session's cookie token."""

    outcome: Outcome
    user: User | None = None
    token: str | None = None


def sign_in(email: str, password: str, ip_address: str, now: datetime | None = None) -> SignIn:
    """Check the credentials (raises `TooManyAttempts`) and start a session if they are right."""
    now = now or utcnow()
    checked = authenticate(email, password, ip_address, now)
    if checked.user is None:
        return SignIn(checked.outcome)
    token = staff_sessions.start_session(checked.user, ip_address, now)
    return SignIn(checked.outcome, checked.user, token)


_DUMMY_USER = User(password_hash="")


def _burn_time(password: str) -> bool:
    if not _DUMMY_USER.password_hash:
        _DUMMY_USER.set_password(secrets.token_hex(8))
    _DUMMY_USER.check_password(password)
    return False


def change_password(
    user: User, current: str, new: str, ip_address: str, now: datetime | None = None
) -> str | None:
    """Change a password and end every session of the user (the caller starts a fresh one).

    Returns what is wrong, or None on success. The current password is checked like a sign-in
    (recorded, throttled: raises `TooManyAttempts`), so a borrowed session cannot guess it.
    """
    if not checked_attempt(user.email, ip_address, lambda: user.check_password(current), now):
        return "Your current password is not right."
    if new == current:
        return "Choose a password different from your current one."
    problem = password_problem(new, user.email, user.name)
    if problem:
        return problem
    user.set_password(new)
    staff_sessions.end_all_sessions(user, now)
    return None
