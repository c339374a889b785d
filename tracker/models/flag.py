"""Flags raised by the rules, and the clinicians' notes on them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..rules import ACKNOWLEDGED, OPEN, RESOLVED, Reason
from ..timeutil import utcnow
from .clinic import Symptom, User
from .patient import Treatment
from .types import UTCDateTime

STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)
OUTCOMES = {
    "reassured": "Reassured",
    "self_care": "Advised self-care",
    "seen_in_clinic": "Seen in clinic",
    "referred": "Referred",
    "emergency_care": "Emergency care",
    "reported_to_regulator": "Reported to regulator",
    "patient_checked_in": "Patient checked in",
}
SYSTEM_OUTCOMES = frozenset({"patient_checked_in"})
"""Outcomes only the system gives (a silence that ends closes itself), never a clinician."""
CLINICIAN_OUTCOMES = {
    code: label for code, label in OUTCOMES.items() if code not in SYSTEM_OUTCOMES
}
REASONS = tuple(r.value for r in Reason)
REASON_LABELS = {
    "urgent": "Urgent",
    "review": "Review",
    "severe": "Severe",
    "worsening": "Worsening",
    "overdue": "Overdue",
    "no_response": "No response",
}
"""Each reason as clinicians read it, in `Reason`'s order (most urgent first)."""
_NOT_RESOLVED = text(f"status <> '{RESOLVED}'")


class Flag(db.Model):
    """A case for the clinic to look at: one reason, one symptom (or none), one treatment.

    A unique index keeps one per (treatment, symptom, reason) while open or acknowledged
    (`symptom_id` is NULL for no response, hence the COALESCE). Whether a resolved flag covers
    a finding is decided by overlap in time (`rules.unflagged`), not by an episode's exact
    start, which a late check-in can move.

    A partial index holds only the active flags, whatever the number resolved: the case queue
    groups a clinic's by treatment from `ix_flags_active_cases` alone (it covers every column
    the grouping reads).
    """

    __tablename__ = "flags"
    __table_args__ = (
        CheckConstraint(f"reason IN {REASONS}", name="reason_known"),
        CheckConstraint(f"status IN {STATUSES}", name="status_known"),
        Index(
            "uq_flags_open",
            "treatment_id",
            func.coalesce(text("symptom_id"), 0),
            "reason",
            unique=True,
            sqlite_where=_NOT_RESOLVED,
            postgresql_where=_NOT_RESOLVED,
        ),
        Index("ix_flags_clinic_status", "clinic_id", "status", "opened_at"),
        # The batch watch's read of recent urgent and severe flags (tracker/services/batches).
        Index("ix_flags_reason_opened", "reason", "opened_at", "treatment_id"),
        Index(
            "ix_flags_active_cases",
            "clinic_id",
            "treatment_id",
            "reason",
            "status",
            "opened_at",
            sqlite_where=_NOT_RESOLVED,
            postgresql_where=_NOT_RESOLVED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"), index=True)
    symptom_id: Mapped[int | None] = mapped_column(ForeignKey("symptoms.id"))
    reason: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=OPEN)
    episode_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(40))

    treatment: Mapped[Treatment] = relationship()
    symptom: Mapped[Symptom | None] = relationship()
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    notes: Mapped[list[FlagNote]] = relationship(
        back_populates="flag", order_by="FlagNote.created_at"
    )


class FlagNote(db.Model):
    """A clinician's note on a flag."""

    __tablename__ = "flag_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    flag: Mapped[Flag] = relationship(back_populates="notes")
    author: Mapped[User] = relationship()
