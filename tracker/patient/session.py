"""The patient's session as the patient pages see it: a token in the cookie, a row on the server
(services/patients/patient_sessions.py); started by a personal link, ended by sign-out,
time-out, a newer link in the same browser, or the clinic."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request, session
from flask_babel import gettext

from ..auth.login import SESSION_KEY as STAFF_SESSION_KEY
from ..errors import render_error
from ..extensions import db
from ..i18n import N_, show_page_to
from ..infrastructure.database import begin_write
from ..models import CheckIn, Patient
from ..services.governance import audit
from ..services.patients import patient_sessions as sessions
from ..services.patients.patient_sessions import Ended
from ..services.staff import staff_sessions
from ..timeutil import utcnow

SESSION_KEY = sessions.COOKIE_KEY
WAY_BACK = N_(
    "Open the link in your latest email from the clinic to continue. If that link has "
    "been used or has expired, its page lets you ask for a fresh one by email."
)


def load_patient_session() -> None:
    """Before each patient page: check this browser's session (as `g.patient`), note activity.

    The request's write transaction has begun already; what the check wrote (activity, or the
    end of a session that timed out) is committed on its own, and a fresh write transaction
    begins for the view, so the view rolling its own work back never undoes the check.
    """
    g.patient = None
    g.patient_session_started_at = None
    token = session.get(SESSION_KEY)
    if not token:
        return
    found = sessions.check_session(token)
    if found.wrote:
        db.session.commit()
        begin_write()
    if found.patient is None:
        session.pop(SESSION_KEY, None)
        g.patient_session_ended = found.ended
    g.patient = found.patient
    g.patient_session_started_at = found.started_at


def start_patient_session(patient: Patient) -> None:
    """A fresh session for `patient`; whatever session the cookie held before ends.

    A browser is one patient's, or a member of staff's, at a time: the previous patient's
    session row and a staff session held by this cookie both end on the server.
    """
    sessions.end_session(session.get(SESSION_KEY), Ended.REPLACED)
    staff_sessions.end_session(session.get(STAFF_SESSION_KEY))
    session.clear()
    session.permanent = True
    now = utcnow()
    session[SESSION_KEY] = sessions.start_session(patient, now)
    g.patient_session_started_at = now


def end_patient_session() -> bool:
    """Sign this browser's patient out on the server, keeping the cookie's CSRF token."""
    ended = sessions.end_session(session.pop(SESSION_KEY, None), Ended.SIGNED_OUT)
    if g.get("patient") is not None:
        show_page_to(g.patient)  # the signed-out page is still in their language
    g.patient = None
    return ended


def current_patient() -> Patient | None:
    """The signed-in patient of this request, or None if there is no live session."""
    return g.get("patient")


def sent_in_this_session(checkin: CheckIn) -> bool:
    """Whether the signed-in patient sent `checkin` in this very session (photos may be added
    to it only then: later, a photo would be dated by a check-in it was not taken for)."""
    started_at = g.get("patient_session_started_at")
    return (
        started_at is not None and checkin.source == "patient" and checkin.created_at >= started_at
    )


def ended_session_hint() -> str:
    """What the page for an ended session says: why, where known, and how to get back in."""
    reason = g.get("patient_session_ended")
    if reason is Ended.IDLE:
        minutes = int(sessions.idle_timeout().total_seconds() // 60)
        why = gettext(
            "For your privacy, you were signed out after %(num)d minutes without activity.",
            num=minutes,
        )
    elif reason is Ended.EXPIRED:
        hours = int(sessions.absolute_timeout().total_seconds() // 3600)
        why = gettext(
            "For your privacy, a check-in session lasts %(num)d hours at most.", num=hours
        )
    else:
        why = gettext("Your check-in session has ended.")
    return f"{why} {gettext(WAY_BACK)}"


def patient_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run the view for a signed-in patient (as `g.patient`), or explain how to get in."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_patient() is None:
            return render_error(401, ended_session_hint())
        return view(*args, **kwargs)

    return wrapped


def audit_patient(action: str, target: str | None = None) -> None:
    """Record that the signed-in patient viewed or changed their own data."""
    patient: Patient = g.patient
    audit.record(
        action,
        actor_type="patient",
        actor_id=patient.id,
        clinic_id=patient.clinic_id,
        patient_id=patient.id,
        target=target,
        ip_address=request.remote_addr,
    )
