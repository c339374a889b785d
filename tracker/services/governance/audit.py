"""The audit trail: one append-only row for every view or change of a patient's data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...extensions import db
from ...models import AuditEvent, Clinic, User
from ...timeutil import utcnow


def record(
    action: str,
    *,
    actor_type: str,
    actor_id: int | None,
    clinic_id: int | None,
    patient_id: int | None = None,
    target: str | None = None,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> None:
    """Append one audit row. `action` names what happened (e.g. "checkin.create"), never content."""
    db.session.add(
        AuditEvent(
            at=now or utcnow(),
            actor_type=actor_type,
            actor_id=actor_id,
            clinic_id=clinic_id,
            patient_id=patient_id,
            action=action,
            target=target,
            ip_address=ip_address,
        )
    )


def record_staff_change(
    action: str,
    *,
    actor: User,
    user: User,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> None:
    """Append one audit row for something done to a staff account (`actor` may be `user`)."""
    record(
        action,
        actor_type="user",
        actor_id=actor.id,
        clinic_id=user.clinic_id,
        target=f"user:{user.id}",
        ip_address=ip_address,
        now=now,
    )


def record_clinic_change(
    action: str, *, actor: User, clinic: Clinic, ip_address: str | None = None
) -> None:
    """Append one audit row for a change of a clinic's settings by one of its admins."""
    record(
        action,
        actor_type="user",
        actor_id=actor.id,
        clinic_id=clinic.id,
        target=f"clinic:{clinic.id}",
        ip_address=ip_address,
    )


def change_clinic_setting(
    clinic: Clinic,
    setting: str,
    value: Any,
    *,
    actor: User,
    ip_address: str | None = None,
    action: str | None = None,
) -> bool:
    """Set the clinic's `setting` to `value` with an audit row (`action`, by default
    "clinic.<setting>.update"); False, and no row, if it already had that value. Flush only."""
    if getattr(clinic, setting) == value:
        return False
    setattr(clinic, setting, value)
    action = action or f"clinic.{setting}.update"
    record_clinic_change(action, actor=actor, clinic=clinic, ip_address=ip_address)
    db.session.flush()
    return True
