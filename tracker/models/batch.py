"""The batch watch: quarantined batches, batch signals, and regulator reports of cases."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .clinic import User
from .patient import Treatment
from .types import UTCDateTime

SPREAD = "spread"
EXCESS = "excess"
NOTICE = "notice"
SIGNAL_KINDS = {
    SPREAD: "Possible toxin spread",
    EXCESS: "More serious reactions than the product's other batches",
    NOTICE: "Signal at another clinic",
}
"""Each kind of batch signal as staff read it: a spread or an excess found in the clinic's own
treatments, or a notice that another clinic on this installation found one in the same batch."""
SIGNAL_OUTCOMES = {
    "reported": "Reported to the manufacturer or regulator",
    "quarantined": "Batch quarantined",
    "no_concern": "No concern",
}
SERIOUSNESS = {
    "death": "Resulted in death",
    "life_threatening": "Life-threatening",
    "hospitalisation": "Hospitalisation, or a longer stay in hospital",
    "disability": "Disability or permanent damage",
    "congenital_anomaly": "Congenital anomaly or birth defect",
    "intervention": "Needed intervention to prevent permanent damage",
    "medically_important": "Other medically important condition",
}
"""The seriousness criteria of the MHRA Yellow Card and FDA MedWatch 3500 forms."""
REACTION_OUTCOMES = {
    "recovered": "Recovered",
    "recovering": "Recovering",
    "not_recovered": "Not recovered",
    "recovered_with_sequelae": "Recovered with lasting effects",
    "fatal": "Fatal",
    "unknown": "Unknown",
}
"""A reaction's outcome in the regulators' terms (and FHIR's adverse-event-outcome codes)."""

_NOT_LIFTED = text("lifted_at IS NULL")
_NOT_CLOSED = text("closed_at IS NULL")


class BatchQuarantine(db.Model):
    """A batch an admin has quarantined at their clinic: treating from it asks for a reason.

    At most one is in force per clinic and batch (`lifted_at` NULL); lifted ones are kept."""

    __tablename__ = "batch_quarantines"
    __table_args__ = (
        Index(
            "uq_batch_quarantines_in_force",
            "clinic_id",
            "product_key",
            "batch_key",
            unique=True,
            sqlite_where=_NOT_LIFTED,
            postgresql_where=_NOT_LIFTED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    product_key: Mapped[str] = mapped_column(String(120))
    batch_key: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text)
    quarantined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    quarantined_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    quarantined_by: Mapped[User] = relationship(foreign_keys=[quarantined_by_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])


class BatchSignal(db.Model):
    """A batch watch signal at one clinic, open until an admin closes it with an outcome.

    `treatment_ids` are the clinic's own treatments (cases) behind it; a closed signal is not
    raised again by the same ones (only a new case makes a new signal). `figures` holds what
    the rule counted (patients, rates, the test's p-value). A notice carries the counts of the
    other clinic's signal (`source_id`), never its patients: its `treatment_ids` are empty.

    At most one is open per clinic, kind and batch."""

    __tablename__ = "batch_signals"
    __table_args__ = (
        CheckConstraint(f"kind IN {tuple(SIGNAL_KINDS)}", name="signal_kind_known"),
        CheckConstraint(
            f"outcome IS NULL OR outcome IN {tuple(SIGNAL_OUTCOMES)}", name="signal_outcome_known"
        ),
        Index(
            "uq_batch_signals_open",
            "clinic_id",
            "kind",
            "product_key",
            "batch_key",
            unique=True,
            sqlite_where=_NOT_CLOSED,
            postgresql_where=_NOT_CLOSED,
        ),
        Index("ix_batch_signals_batch", "product_key", "batch_key", "clinic_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    kind: Mapped[str] = mapped_column(String(20))
    product_key: Mapped[str] = mapped_column(String(120))
    batch_key: Mapped[str] = mapped_column(String(60))
    product: Mapped[str] = mapped_column(String(120))
    batch_number: Mapped[str] = mapped_column(String(60))
    treatment_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("batch_signals.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    close_note: Mapped[str | None] = mapped_column(Text)

    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])


class RegulatorReport(db.Model):
    """What a clinician has added to a case's regulator report (MHRA Yellow Card, FDA MedWatch
    3500) beyond the record: the rest of the report is read from the record when it is shown.

    One per case (treatment). `reaction_notes` are the clinician's descriptions by symptom id
    (as a string, JSON's keys); `reported_on` and `reference` are set when the case is resolved
    as reported to the regulator."""

    __tablename__ = "regulator_reports"
    __table_args__ = (
        CheckConstraint(
            f"outcome IS NULL OR outcome IN {tuple(REACTION_OUTCOMES)}",
            name="report_outcome_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"), unique=True)
    seriousness: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome: Mapped[str | None] = mapped_column(String(30))
    """The outcome the clinician confirmed (None: not yet; the page proposes one)."""
    other_medicines: Mapped[str] = mapped_column(Text, default="")
    reaction_notes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    reported_on: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    treatment: Mapped[Treatment] = relationship()
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
