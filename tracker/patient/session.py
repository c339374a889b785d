"""The patient's session: started by a personal link, ended by time-out or revocation."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request, session
from sqlalchemy import select

from ..errors import render_error
from ..extensions import db
from ..models import Patient, Treatment
from ..services import audit
from ..timeutil import utcnow

PATIENT_KEYS = ("patient_id", "patient_epoch", "patient_since")


def start_patient_session(patient: Patient) -> None:
    """A fresh session for `patient` (whatever the cookie held before is dropped)."""
    session.clear()
    session.permanent = True
    session["patient_id"] = patient.id
    session["patient_epoch"] = patient.session_epoch
    session["patient_since"] = int(utcnow().timestamp())


def end_patient_session() -> None:
    """Forget the patient, but keep the CSRF token a link page in another tab may still need."""
    for key in PATIENT_KEYS:
        session.pop(key, None)


def current_patient() -> Patient | None:
    """The signed-in patient, or None if there is no session or it has ended."""
    patient_id = session.get("patient_id")
    if patient_id is None:
        return None
    max_age = current_app.config["PATIENT_SESSION_HOURS"] * 3600
    if utcnow().timestamp() - session.get("patient_since", 0) > max_age:
        return None
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.session_epoch != session.get("patient_epoch"):
        return None
    if patient.erased_at is not None:
        return None
    return patient


def patient_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run the view for a signed-in patient (as `g.patient`), or explain how to get in."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        patient = current_patient()
        if patient is None:
            end_patient_session()
            return render_error(
                401,
                "Your check-in session has ended. Open the link in your latest email "
                "from the clinic to continue.",
            )
        g.patient = patient
        return view(*args, **kwargs)

    return wrapped


def latest_treatment(patient: Patient) -> Treatment | None:
    """The patient's most recent treatment, which today's check-in is about."""
    return db.session.scalar(
        select(Treatment)
        .where(Treatment.patient_id == patient.id, Treatment.treated_at <= utcnow())
        .order_by(Treatment.treated_at.desc())
        .limit(1)
    )


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
