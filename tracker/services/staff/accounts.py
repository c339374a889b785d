"""Staff credentials: the one sign-in check behind the sign-in page and the API, throttled.

The check is the password, then the second factor: a code when the user has set one up, or
enrolment first when they must have one. Every check of something a person knows or holds
(a password, a code, the current password on the password page) is recorded as a
`LoginAttempt`, so throttling holds across every worker process: too many recent failures for
an account or from an address, and even the right answer waits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select

from ...emails import as_compared
from ...extensions import db
from ...models import LoginAttempt, User
from ...timeutil import utcnow
from . import second_factor, staff_sessions
from .passwords import password_problem

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


class TooManyAttempts(Exception):
    """Too many recent failures for this account or from this address: wait, then try again."""


def is_throttled(email: str, ip_address: str, now: datetime | None = None) -> bool:
    """Too many recent failures for this account or from this address (no permanent lock)."""
    since = (now or utcnow()) - THROTTLE_WINDOW
    failures = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.at > since, LoginAttempt.succeeded.is_(False)
    )
    by_account = db.session.scalar(failures.where(LoginAttempt.email == as_compared(email)))
    by_address = db.session.scalar(failures.where(LoginAttempt.ip_address == ip_address))
    return by_account >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS


def checked_attempt(
    email: str, ip_address: str, check: Callable[[], bool], now: datetime | None = None
) -> bool:
    """Run `check` unless throttled (raises `TooManyAttempts`), record the attempt, return it."""
    now = now or utcnow()
    email = as_compared(email)
    if is_throttled(email, ip_address, now):
        raise TooManyAttempts
    ok = check()
    db.session.add(LoginAttempt(email=email, ip_address=ip_address, at=now, succeeded=ok))
    return ok


class Outcome(StrEnum):
    """What the sign-in check found."""

    SIGNED_IN = "signed_in"
    WRONG_CREDENTIALS = "wrong_credentials"
    CODE_REQUIRED = "code_required"  # the password was right; now the authenticator's code
    WRONG_CODE = "wrong_code"
    ENROLMENT_REQUIRED = "enrolment_required"  # right password; a factor to set up first


@dataclass(frozen=True)
class Authentication:
    """The outcome of the sign-in check, and whose account it was when the password was right."""

    outcome: Outcome
    user: User | None = None


def authenticate(
    email: str,
    password: str,
    ip_address: str,
    now: datetime | None = None,
    *,
    code: str | None = None,
) -> Authentication:
    """The one credential check of the sign-in page and the API: password, then second factor.

    `code` (an authenticator or recovery code) is checked when the user has a factor; without
    it the outcome is `CODE_REQUIRED`. Raises `TooManyAttempts` when throttled. The caller
    commits, whatever the outcome.
    """
    now = now or utcnow()
    user = db.session.scalar(select(User).where(User.email == as_compared(email)))

    def password_is_right() -> bool:
        # Hash even for an unknown email, so timing does not tell which accounts exist.
        ok = user.check_password(password) if user else _burn_time(password)
        return bool(ok and user is not None and user.is_active)

    if not checked_attempt(email, ip_address, password_is_right, now) or user is None:
        return Authentication(Outcome.WRONG_CREDENTIALS)
    if second_factor.is_enrolled(user):
        if code is None:
            return Authentication(Outcome.CODE_REQUIRED, user)
        return check_code(user, code, ip_address, now)
    if second_factor.is_required(user):
        return Authentication(Outcome.ENROLMENT_REQUIRED, user)
    return Authentication(Outcome.SIGNED_IN, user)


def check_code(
    user: User, code: str, ip_address: str, now: datetime | None = None
) -> Authentication:
    """The second step alone, for a user whose password was right: their factor's code.

    Raises `TooManyAttempts` when throttled: wrong codes count with wrong passwords.
    """

    def code_is_right() -> bool:
        return second_factor.verify(user, code, ip_address=ip_address, now=now)

    if checked_attempt(user.email, ip_address, code_is_right, now):
        return Authentication(Outcome.SIGNED_IN, user)
    return Authentication(Outcome.WRONG_CODE, user)


def confirm_enrolment(
    user: User, code: str, ip_address: str, now: datetime | None = None
) -> list[str] | None:
    """Finish setting up `user`'s authenticator with its first code (throttled like a sign-in).

    Returns the recovery codes to show once, or None for a wrong code.
    """
    codes: list[str] = []

    def code_is_right() -> bool:
        confirmed = second_factor.confirm_enrolment(user, code, ip_address=ip_address, now=now)
        codes.extend(confirmed or [])
        return confirmed is not None

    return codes if checked_attempt(user.email, ip_address, code_is_right, now) else None


@dataclass(frozen=True)
class SignIn:
    """A sign-in on the page: the check's outcome, and the new (maybe half) session's token."""

    outcome: Outcome
    user: User | None = None
    token: str | None = None


PENDING_STEPS = {
    Outcome.SIGNED_IN: None,
    Outcome.CODE_REQUIRED: staff_sessions.AWAITING_CODE,
    Outcome.ENROLMENT_REQUIRED: staff_sessions.AWAITING_ENROLMENT,
}


def sign_in(email: str, password: str, ip_address: str, now: datetime | None = None) -> SignIn:
    """The page's first step (raises `TooManyAttempts`): a session, or half of one, if right.

    Half a session waits for the second factor's code, or for its enrolment.
    """
    now = now or utcnow()
    checked = authenticate(email, password, ip_address, now)
    if checked.user is None or checked.outcome not in PENDING_STEPS:
        return SignIn(checked.outcome)
    second_factor.discard_unconfirmed(checked.user)
    pending = PENDING_STEPS[checked.outcome]
    token = staff_sessions.start_session(checked.user, ip_address, now, pending=pending)
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
