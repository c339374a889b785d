"""Who may see what: every clinician query is scoped to the signed-in user's clinic.

Anything of another clinic answers 404, exactly as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import CheckIn, Flag, Patient, Treatment
from ..services.governance import audit

Model = TypeVar("Model", Patient, Treatment, Flag)


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in as an admin of the clinic, or 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def clinic_get_or_404(model: type[Model], object_id: int) -> Model:
    """A patient, treatment or flag of the signed-in user's clinic, or 404."""
    found = db.session.scalar(
        select(model).where(model.id == object_id, model.clinic_id == current_user.clinic_id)
    )
    if found is None:
        abort(404)
    return found


def clinic_checkin_or_404(checkin_id: int) -> CheckIn:
    """A check-in of the signed-in user's clinic, or 404."""
    found = db.session.scalar(
        select(CheckIn)
        .join(Treatment)
        .where(CheckIn.id == checkin_id, Treatment.clinic_id == current_user.clinic_id)
    )
    if found is None:
        abort(404)
    return found


def audit_staff(action: str, patient_id: int | None = None, target: str | None = None) -> None:
    """Record that the signed-in clinician viewed, listed, exported or changed patient data."""
    audit.record(
        action,
        actor_type="user",
        actor_id=current_user.id,
        clinic_id=current_user.clinic_id,
        patient_id=patient_id,
        target=target,
        ip_address=request.remote_addr,
    )
