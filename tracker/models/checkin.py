"""Check-ins and the symptom reports in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .clinic import Symptom, User
from .patient import Treatment
from .types import UTCDateTime

SOURCES = ("patient", "clinician")


class CheckIn(db.Model):
    """How a patient felt at one moment after a treatment, from the patient or a clinician."""

    __tablename__ = "checkins"
    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES}", name="source_known"),
        Index("ix_checkins_treatment_reported", "treatment_id", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(20), default="patient")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    treatment: Mapped[Treatment] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    reports: Mapped[list[SymptomReport]] = relationship(
        back_populates="checkin", order_by="SymptomReport.symptom_id"
    )


class SymptomReport(db.Model):
    """One symptom's severity (0 none to 4 very severe) in one check-in.

    `treatment_id` and `reported_at` are copied from the check-in so the sweep reads one
    index, (treatment, symptom, time, severity), instead of joining every check-in.
    """

    __tablename__ = "symptom_reports"
    __table_args__ = (
        UniqueConstraint("checkin_id", "symptom_id"),
        CheckConstraint("severity BETWEEN 0 AND 4", name="severity_range"),
        Index(
            "ix_reports_treatment_symptom_time",
            "treatment_id",
            "symptom_id",
            "reported_at",
            "severity",
        ),
        # The batch watch's read of recent spread signs (a few catalogue entries).
        Index("ix_reports_symptom_time", "symptom_id", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"))
    symptom_id: Mapped[int] = mapped_column(ForeignKey("symptoms.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    severity: Mapped[int] = mapped_column(SmallInteger)
    onset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    checkin: Mapped[CheckIn] = relationship(back_populates="reports")
    symptom: Mapped[Symptom] = relationship()
