"""The API's response models: what each answer holds, described in OpenAPI.

Timestamps come back as ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import url_for
from pydantic import Field, computed_field

from .fields import (
    Action,
    Area,
    FlagReason,
    FlagStatus,
    Indication,
    Language,
    Out,
    Outcome,
    OutTimestamp,
    Sex,
    TranslatedLanguage,
)

# --- errors --------------------------------------------------------------------------------


class ErrorDetail(Out):
    code: str = Field(examples=["invalid_fields"])
    message: str
    fields: dict[str, str] = Field(
        description="Each invalid field (dotted path) and what is wrong with it.",
        examples=[{"symptoms.0.severity": "Input should be less than or equal to 4"}],
    )


class ErrorOut(Out):
    """Every 4xx and 5xx answer."""

    error: ErrorDetail


# --- tokens --------------------------------------------------------------------------------


class TokenOut(Out):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: OutTimestamp


# --- the catalogue -------------------------------------------------------------------------


class SymptomTextOut(Out):
    name: str
    expected_text: str
    advice: str


class SymptomOut(Out):
    code: str = Field(examples=["bruising"])
    name: str
    action: Action
    area: Area = Field(
        description="Where it is felt: `sites` (at the injection sites), `head` (head and face), "
        "`eyes`, `body` (whole body). The patient's check-in groups its questions by it."
    )
    expected_hours: float | None = Field(
        description="How long it usually lasts; null for review and urgent symptoms."
    )
    expected_text: str
    advice: str
    translations: dict[TranslatedLanguage, SymptomTextOut] = Field(
        validation_alias="current_translations",
        description=(
            "What patients who read another language than English see, by language (`cy`: "
            "Welsh). A language is left out where the clinic has no current translation (the "
            "patient then sees the English); a field left untranslated is the English one."
        ),
    )


class SymptomList(Out):
    symptoms: list[SymptomOut]


# --- patients ------------------------------------------------------------------------------


class TreatmentBrief(Out):
    id: int
    treated_at: OutTimestamp
    product: str
    batch_number: str


class PatientOut(Out):
    id: int
    name: str
    email: str
    phone: str | None
    timezone: str
    reminder_time: str = Field(examples=["09:00"])
    reminders_enabled: bool
    language: Language = Field(description="The language of the patient's pages and emails.")
    sex: Sex | None = Field(description="null: not recorded.")
    date_of_birth: date | None = Field(description="null: not recorded (or erased).")
    created_at: OutTimestamp
    treatments: list[TreatmentBrief]


# --- treatments ----------------------------------------------------------------------------


class Practitioner(Out):
    id: int
    name: str
    registration_number: str | None


class TreatmentOut(Out):
    id: int
    patient_id: int
    treated_at: OutTimestamp
    product: str
    batch_number: str
    indication: Indication
    areas: list[str]
    units: float
    units_by_area: dict[str, float] = Field(
        description="Units per area; empty when only the total was given."
    )
    practitioner: Practitioner | None
    created_at: OutTimestamp


class TreatmentCreated(TreatmentOut):
    invite_queued: bool = Field(
        description="False when the follow-up period had already ended (nobody is invited)."
    )


# --- check-ins -----------------------------------------------------------------------------


class SymptomReportOut(Out):
    code: str
    severity: int
    onset: OutTimestamp | None


class CheckInOut(Out):
    id: int
    treatment_id: int
    reported_at: OutTimestamp
    source: Literal["patient", "clinician"]
    note: str | None
    symptoms: list[SymptomReportOut]


class CheckInPage(Out):
    checkins: list[CheckInOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")


# --- photos --------------------------------------------------------------------------------


class PhotoOut(Out):
    id: int
    checkin_id: int
    created_at: OutTimestamp
    content_type: Literal["image/jpeg"] = Field(
        description="Always a JPEG: every upload is re-encoded, with no metadata kept."
    )
    width: int
    height: int
    byte_size: int

    @computed_field(
        examples=["/api/v1/photos/7"],
        description="GET it with the same bearer token for the JPEG itself (audited).",
    )
    @property
    def download_url(self) -> str:
        return url_for("api.get_photo", photo_id=self.id)


class PhotoList(Out):
    photos: list[PhotoOut] = Field(description="In the order they were added (at most 3).")


# --- flags ---------------------------------------------------------------------------------


class FlagOut(Out):
    id: int
    treatment_id: int
    patient_id: int
    symptom: str | None = Field(description="The symptom's code; null for no response.")
    reason: FlagReason
    status: FlagStatus
    opened_at: OutTimestamp
    acknowledged_at: OutTimestamp | None
    resolved_at: OutTimestamp | None
    outcome: Outcome | None


class CheckInCreated(CheckInOut):
    new_flags: list[FlagOut] = Field(description="The flags this check-in raised at once.")


class FlagPage(Out):
    flags: list[FlagOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")


# --- cases ---------------------------------------------------------------------------------


class StaffBrief(Out):
    id: int
    name: str


class CaseOut(Out):
    treatment_id: int
    patient_id: int
    reasons: list[FlagReason] = Field(description="Each active reason once, most urgent first.")
    flags: list[FlagOut] = Field(description="The open and acknowledged flags, most urgent first.")
    assigned_to: StaffBrief | None
    opened_at: OutTimestamp | None = Field(
        description="When the earliest active flag opened; null once the case is resolved."
    )


class CasePage(Out):
    cases: list[CaseOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")


class CaseResolved(Out):
    treatment_id: int
    flags: list[FlagOut] = Field(description="The flags this request resolved.")
