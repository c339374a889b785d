"""Server-side staff sessions: one row per signed-in browser, with idle and absolute time-outs.

The cookie holds a random token; only its hash is stored. Ending the row (sign-out, password
change, deactivation, a second-factor reset, time-out, a new sign-in in the same browser) ends
the session even if someone replays the old cookie.

A pending session is half a sign-in: the password was right, and the second factor is still
to be given (`AWAITING_CODE`) or set up (`AWAITING_ENROLMENT`). It signs nobody in (only the
page of that step accepts it) and ends within minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from ...extensions import db
from ...models import StaffSession, User
from ...timeutil import utcnow
from ...tokens import new_token, stored_hash

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
"""Activity is written at most this often, so a busy page does not write on every request."""
AWAITING_CODE = "second_factor"
AWAITING_ENROLMENT = "enrolment"
PENDING_TIMEOUTS = {AWAITING_CODE: timedelta(minutes=5), AWAITING_ENROLMENT: timedelta(minutes=10)}


def start_session(
    user: User,
    ip_address: str | None,
    now: datetime | None = None,
    *,
    pending: str | None = None,
) -> str:
    """A new server-side session (half a one if `pending` names a step); returns its token."""
    now = now or utcnow()
    token = new_token()
    db.session.add(
        StaffSession(
            user_id=user.id,
            token_hash=stored_hash(token),
            created_at=now,
            last_seen_at=now,
            ip_address=ip_address,
            pending=pending,
        )
    )
    db.session.flush()
    return token


def _live_row(token: str | None) -> StaffSession | None:
    if not token:
        return None
    row = db.session.scalar(
        select(StaffSession).where(StaffSession.token_hash == stored_hash(token))
    )
    return row if row is not None and row.ended_at is None else None


def session_user(token: str | None, now: datetime | None = None) -> User | None:
    """The active user of a live session, touching its activity time; None if it has ended."""
    staff_session = _live_row(token)
    if staff_session is None or staff_session.pending is not None:
        return None
    now = now or utcnow()
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


def _half_sign_in_lapsed(staff_session: StaffSession, now: datetime) -> bool:
    """A half sign-in past its step's time limit, or of a user no longer active."""
    too_old = now - staff_session.created_at > PENDING_TIMEOUTS[staff_session.pending]
    return too_old or not staff_session.user.is_active


def pending_user(token: str | None, step: str, now: datetime | None = None) -> User | None:
    """The active user of a live half sign-in waiting for `step`; None once it has timed out."""
    staff_session = _live_row(token)
    if staff_session is None or staff_session.pending != step:
        return None
    now = now or utcnow()
    if _half_sign_in_lapsed(staff_session, now):
        staff_session.ended_at = now
        return None
    return staff_session.user


def pending_step(token: str | None, now: datetime | None = None) -> str | None:
    """The step a live half sign-in still waits for, or None (reads only; changes nothing)."""
    staff_session = _live_row(token)
    if staff_session is None or staff_session.pending is None:
        return None
    return None if _half_sign_in_lapsed(staff_session, now or utcnow()) else staff_session.pending


def end_session(token: str | None, now: datetime | None = None) -> None:
    """Sign out one browser."""
    if token:
        db.session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == stored_hash(token), StaffSession.ended_at.is_(None))
            .values(ended_at=now or utcnow())
        )


def end_all_sessions(user: User, now: datetime | None = None) -> None:
    """End every session of `user` (password change, deactivation, second-factor reset)."""
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
    )
