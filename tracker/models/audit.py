"""The audit trail: who viewed or changed which patient's data, when and from where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow
from .types import UTCDateTime


class AuditEvent(db.Model):
    """One append-only row per view or change of a patient's data: who, when, what, from where.

    Never holds symptom text or notes: only the kind of action and the ids involved.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_clinic_at", "clinic_id", "at"),
        Index("ix_audit_patient_at", "patient_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    actor_type: Mapped[str] = mapped_column(String(20))  # user, patient or system
    actor_id: Mapped[int | None]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(80))
    ip_address: Mapped[str | None] = mapped_column(String(45))
