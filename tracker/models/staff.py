"""Staff sign-in state kept on the server: sessions, sign-in attempts, catalogue edits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .clinic import Symptom, User
from .types import ServerSessionColumns, UTCDateTime

PENDING_STAGES = ("second_factor", "enrolment")


class StaffSession(ServerSessionColumns, db.Model):
    """One signed-in browser. The cookie holds a random id; only its hash is stored here.

    Ending the row (sign-out, password change, deactivation, time-out) ends the session even
    if someone replays the old cookie. A `pending` row is a half sign-in: the password was
    right, and the second factor is still to be given ("second_factor") or set up
    ("enrolment"); it grants no access and ends within minutes.
    """

    __tablename__ = "staff_sessions"
    __table_args__ = (
        CheckConstraint(f"pending IS NULL OR pending IN {PENDING_STAGES}", name="pending_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    pending: Mapped[str | None] = mapped_column(String(20))

    user: Mapped[User] = relationship()


class LoginAttempt(db.Model):
    """A sign-in attempt, kept so throttling holds across every worker process."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip_address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip_address: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded: Mapped[bool] = mapped_column(default=False)


class CatalogueChange(db.Model):
    """One edit of a catalogue entry: who, when, and each changed field's old and new value."""

    __tablename__ = "catalogue_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    symptom_id: Mapped[int] = mapped_column(ForeignKey("symptoms.id"))
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[dict[str, list]] = mapped_column(JSON)  # field -> [old, new]

    symptom: Mapped[Symptom] = relationship()
    changed_by: Mapped[User] = relationship()
