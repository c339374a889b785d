"""Patients, their treatments, and the personal links that let them in without a password."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Index, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import batches, rules
from ..catalogue import DEFAULT_SCHEDULE, ENGLISH, LANGUAGES
from ..extensions import db
from ..timeutil import utcnow
from .clinic import Clinic, User
from .types import ServerSessionColumns, UTCDateTime

INDICATIONS = ("cosmetic", "sweating", "migraine", "other")
SEXES = ("female", "male", "other")
"""A patient's sex as the regulators' report forms ask for it (unknown: not recorded)."""


class Patient(db.Model):
    """A patient of one clinic, reminded at their local time in their own timezone."""

    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(f"language IN {LANGUAGES}", name="language_known"),
        CheckConstraint(f"sex IS NULL OR sex IN {SEXES}", name="sex_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    reminder_time: Mapped[time] = mapped_column(Time, default=time(9, 0))
    reminders_enabled: Mapped[bool] = mapped_column(default=True)
    # The language of the patient's pages and emails (catalogue.LANGUAGES): set by the clinic,
    # switchable by the patient.
    language: Mapped[str] = mapped_column(String(8), default=ENGLISH, server_default=ENGLISH)
    # Optional, for a regulator's report (its age and sex): never needed to follow up.
    sex: Mapped[str | None] = mapped_column(String(10))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by erasure: contact data is gone, the clinical record is kept but restricted.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    clinic: Mapped[Clinic] = relationship()
    treatments: Mapped[list[Treatment]] = relationship(
        back_populates="patient", order_by="Treatment.treated_at"
    )


def _first_judgement(context) -> datetime | None:
    """When the sweep must first judge a new treatment (however it is inserted): as the rules
    see a treatment with no check-in and no flag yet (when its silence would be too long)."""
    treated_at = context.get_current_parameters()["treated_at"]
    return rules.verdict(
        treated_at, (), {}, (), treated_at, DEFAULT_SCHEDULE.window_end(treated_at)
    ).next_due(flagging_now=False)


def _key_of(column: str):
    """The insert default of a batch key column: the key of `column`'s value, however the row
    is inserted (ORM or core)."""
    key = {"product": batches.product_key, "batch_number": batches.batch_key}[column]
    return lambda context: key(context.get_current_parameters()[column])


class Treatment(db.Model):
    """One injection session: what was given, where, by whom; check-ins and flags hang off it."""

    __tablename__ = "treatments"
    __table_args__ = (
        CheckConstraint(f"indication IN {INDICATIONS}", name="indication_known"),
        Index("ix_treatments_clinic_treated", "clinic_id", "treated_at"),
        Index("ix_treatments_followup_due", "followup_due_at", "id"),
        Index("ix_treatments_batch", "product_key", "batch_key", "clinic_id", "treated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The clinician working this treatment's case; cleared once the case is fully resolved.
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    treated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    product: Mapped[str] = mapped_column(String(120))
    batch_number: Mapped[str] = mapped_column(String(60))
    # The batch as one batch however typed (tracker/batches.py), set with product/batch_number.
    product_key: Mapped[str] = mapped_column(String(120), default=_key_of("product"))
    batch_key: Mapped[str] = mapped_column(String(60), default=_key_of("batch_number"))
    # Why it was given from a quarantined batch (None: the batch was not quarantined).
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    indication: Mapped[str] = mapped_column(String(20))
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    units_by_area: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    units_total: Mapped[float] = mapped_column(Float, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the sweep must next judge it (None: never, unless something changes it); kept by
    # services/flags/flagging.py.
    followup_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=_first_judgement)

    patient: Mapped[Patient] = relationship(back_populates="treatments")
    practitioner: Mapped[User | None] = relationship(foreign_keys=[practitioner_id])
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])


class PatientLink(db.Model):
    """A personal link, stored only as a hash; single use to start a patient session."""

    __tablename__ = "patient_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[Patient] = relationship()


class PatientSession(ServerSessionColumns, db.Model):
    """One browser signed in with a personal link. The cookie holds a random token; only its
    hash is stored here.

    Ending the row (sign-out, time-out, a newer link in that browser, the clinic revoking the
    patient's links, erasure) ends the session even if someone replays the old cookie.
    """

    __tablename__ = "patient_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    # Why it ended: signed_out, idle, expired, replaced or revoked (patient_sessions.Ended).
    end_reason: Mapped[str | None] = mapped_column(String(20))

    patient: Mapped[Patient] = relationship()
