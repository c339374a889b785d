"""Patients' sessions kept on the server, like staff sessions: a random token in the cookie,
its SHA-256 in `patient_sessions`, an idle and an absolute time-out, and an end for each cause.

A personal link starts a session (see links.py); everything else here ends one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...models import Patient, PatientSession
from ...timeutil import utcnow
from ...tokens import new_token, stored_hash

COOKIE_KEY = "patient_token"
"""Where a browser's cookie holds its patient-session token."""
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
"""Activity is written at most this often, so a busy page does not write on every request."""


class Ended(StrEnum):
    """Why a session ended, kept on its row."""

    SIGNED_OUT = "signed_out"
    IDLE = "idle"
    EXPIRED = "expired"
    REPLACED = "replaced"  # a newer link was opened in the same browser
    REVOKED = "revoked"  # the clinic withdrew the patient's links, or erased the patient


@dataclass(frozen=True)
class SessionCheck:
    """The outcome of looking a cookie's token up.

    `patient` is set while the session is live; otherwise `ended` says why, where it is known.
    `wrote` says whether the check changed the row (activity noted, or the end recorded), so
    the caller commits that on its own.
    """

    patient: Patient | None = None
    ended: Ended | None = None
    wrote: bool = False
    started_at: datetime | None = None
    """When the live session began (what the patient did since is "this session's")."""


def idle_timeout() -> timedelta:
    """How long a session lasts without activity (`PATIENT_SESSION_IDLE_MINUTES`)."""
    return timedelta(minutes=current_app.config["PATIENT_SESSION_IDLE_MINUTES"])


def absolute_timeout() -> timedelta:
    """How long a session lasts however active (`PATIENT_SESSION_HOURS`)."""
    return timedelta(hours=current_app.config["PATIENT_SESSION_HOURS"])


def start_session(patient: Patient, now: datetime | None = None) -> str:
    """A new session for `patient` (flush only); returns the token for the cookie."""
    now = now or utcnow()
    token = new_token()
    db.session.add(
        PatientSession(
            patient_id=patient.id, token_hash=stored_hash(token), created_at=now, last_seen_at=now
        )
    )
    db.session.flush()
    return token


def check_session(token: str, now: datetime | None = None) -> SessionCheck:
    """The patient of a live session, noting activity; or why it ended (ending it if due)."""
    now = now or utcnow()
    row = db.session.scalar(
        select(PatientSession)
        .where(PatientSession.token_hash == stored_hash(token))
        .options(joinedload(PatientSession.patient))  # every patient page reads the patient
    )
    if row is None:
        return SessionCheck()
    if row.ended_at is not None:
        return SessionCheck(ended=Ended(row.end_reason) if row.end_reason else None)
    due = _due_to_end(row, now)
    if due is not None:
        _end_rows(PatientSession.id == row.id, due, now)
        return SessionCheck(ended=due, wrote=True)
    if now - row.last_seen_at < LAST_SEEN_RESOLUTION:
        return SessionCheck(patient=row.patient, started_at=row.created_at)
    row.last_seen_at = now
    db.session.flush()
    return SessionCheck(patient=row.patient, wrote=True, started_at=row.created_at)


def _due_to_end(row: PatientSession, now: datetime) -> Ended | None:
    if row.patient.erased_at is not None:
        return Ended.REVOKED
    if now - row.created_at > absolute_timeout():
        return Ended.EXPIRED
    if now - row.last_seen_at > idle_timeout():
        return Ended.IDLE
    return None


def end_session(token: str | None, reason: Ended, now: datetime | None = None) -> bool:
    """End one browser's session, if it is live; returns whether it was."""
    if not token:
        return False
    return _end_rows(PatientSession.token_hash == stored_hash(token), reason, now or utcnow()) > 0


def end_all_sessions(patient: Patient, reason: Ended, now: datetime | None = None) -> int:
    """End every live session of `patient`; returns how many."""
    return _end_rows(PatientSession.patient_id == patient.id, reason, now or utcnow())


def _end_rows(where, reason: Ended, now: datetime) -> int:
    # Only live rows, so the first cause to end a session is the one kept.
    result = db.session.execute(
        update(PatientSession)
        .where(where, PatientSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason.value)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
