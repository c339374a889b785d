"""The audit trail: one append-only row for every view or change of a patient's data."""

from __future__ import annotations

from datetime import datetime

from ..extensions import db
from ..models import AuditEvent
from ..timeutil import utcnow


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
