"""The batch watch's request and response models (GET and POST /api/v1/batches...)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..models import SIGNAL_KINDS, SIGNAL_OUTCOMES
from ..services.batches.reasons import NOTE_MAX_CHARS, REASON_MAX_CHARS
from .fields import In, Out, OutTimestamp
from .response_schemas import FlagOut, StaffBrief

SignalKind = Literal[tuple(SIGNAL_KINDS)]  # type: ignore[valid-type]
SignalOutcome = Literal[tuple(SIGNAL_OUTCOMES)]  # type: ignore[valid-type]


class BatchFigures(Out):
    """A batch's figures over the look-back, as the Batches page shows them."""

    treatments: int
    patients: int = Field(description="Distinct patients treated from it.")
    urgent_patients: int = Field(description="Patients with an urgent flag (any status).")
    severe_patients: int = Field(description="Patients with a severe flag (any status).")
    review_patients: int = Field(description="Patients with a review flag (any status).")
    serious_treatments: int = Field(description="Treatments with an urgent or severe flag.")
    serious_rate: float = Field(description="serious_treatments / treatments.")
    last_used_at: OutTimestamp


class BatchOut(BatchFigures):
    product: str = Field(description="As the clinic's latest treatment from it spelt it.")
    batch_number: str
    product_key: str = Field(description="The product however typed: trimmed, case folded.")
    batch_key: str = Field(description="The batch number without spaces, in capitals.")
    url: str = Field(description="This batch's path in the API (its keys encoded).")
    quarantined: bool
    open_signals: int


class BatchList(Out):
    lookback_days: int = Field(description="The batches used this many days back.")
    batches: list[BatchOut]


class BatchTreatmentOut(Out):
    id: int
    treated_at: OutTimestamp
    patient_id: int
    quarantine_reason: str | None = Field(
        description="Why it was given although the batch was quarantined; null: it was not."
    )


class QuarantineOut(Out):
    reason: str
    quarantined_at: OutTimestamp
    quarantined_by: StaffBrief
    lifted_at: OutTimestamp | None
    lifted_by: StaffBrief | None


class SignalOut(Out):
    id: int
    kind: SignalKind
    kind_label: str
    opened_at: OutTimestamp
    figures: dict[str, Any] = Field(
        description="What the rule counted (patients, rates, its p-value)."
    )
    case_treatment_ids: list[int] = Field(
        description="This clinic's treatments (cases) behind it; empty for a notice of another "
        "clinic's signal, which carries its counts only."
    )
    closed_at: OutTimestamp | None
    closed_by: StaffBrief | None
    outcome: SignalOutcome | None
    close_note: str | None


class BatchDetail(Out):
    product: str
    batch_number: str
    product_key: str
    batch_key: str
    figures: BatchFigures | None = Field(
        description="The Batches page's figures over the look-back; null: not used in it."
    )
    treatments: list[BatchTreatmentOut] = Field(description="The newest first, any date.")
    cases: list[FlagOut] = Field(description="The flags of those treatments, the newest first.")
    quarantine: QuarantineOut | None = Field(description="The quarantine in force, if any.")
    quarantines: list[QuarantineOut] = Field(description="Every quarantine, the latest first.")
    signals: list[SignalOut] = Field(description="The open first, then the closed; newest first.")


class QuarantineIn(In):
    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS, examples=["Vial cloudy"])


class SignalCloseIn(In):
    outcome: SignalOutcome
    note: str | None = Field(default=None, max_length=NOTE_MAX_CHARS)
