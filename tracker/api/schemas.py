"""The API's request and response models: they validate requests and describe them in OpenAPI.

Request models refuse unknown fields and parse strictly (a number is not a string, a time has
an offset); timestamps come back as ISO 8601 in UTC. Their building blocks are in `fields`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..catalogue import ACTIONS
from ..infrastructure.database import MAX_ID
from ..models import INDICATIONS, OUTCOMES, STATUSES
from ..rules import Reason
from .fields import Email, In, Out, OutTimestamp, Timestamp

MAX_PAGE = 100
DEFAULT_PAGE = 50

Indication = StrEnum("Indication", {name: name for name in INDICATIONS})
Outcome = StrEnum("Outcome", {name: name for name in OUTCOMES})
FlagStatus = StrEnum("FlagStatus", {name: name for name in STATUSES})
FlagReason = StrEnum("FlagReason", {reason.value: reason.value for reason in Reason})
Action = StrEnum("Action", {name: name for name in ACTIONS})


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


class TokenIn(In):
    email: Email = Field(examples=["nurse@riverside.example"])
    password: str = Field(min_length=1, max_length=128)
    otp: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="Required once the account has a second factor: the 6-digit code its "
        "authenticator app shows now (or one of its recovery codes). Without it the answer is "
        "401 `otp_required`; a wrong or already used code is 401 `invalid_otp`.",
        examples=["123456"],
    )


class TokenOut(Out):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: OutTimestamp


# --- the catalogue -------------------------------------------------------------------------


class SymptomOut(Out):
    code: str = Field(examples=["bruising"])
    name: str
    action: Action
    expected_hours: float | None = Field(
        description="How long it usually lasts; null for review and urgent symptoms."
    )
    advice: str


class SymptomList(Out):
    symptoms: list[SymptomOut]


# --- patients ------------------------------------------------------------------------------


class PatientIn(In):
    name: str = Field(min_length=1, max_length=200)
    email: Email
    timezone: str = Field(min_length=1, max_length=64, description="IANA name, e.g. Europe/London.")
    phone: str | None = Field(default=None, max_length=40)
    reminder_time: str | None = Field(
        default=None,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Local time of the daily reminder, HH:MM (default 09:00).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "timezone": "Europe/London",
                    "phone": "+44 20 7946 0000",
                    "reminder_time": "09:00",
                }
            ]
        }
    )


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
    created_at: OutTimestamp
    treatments: list[TreatmentBrief]


# --- treatments ----------------------------------------------------------------------------

Units = Annotated[float, Field(ge=0, le=1000)]


class TreatmentIn(In):
    treated_at: Timestamp = Field(description="When it was given; not in the future.")
    product: str = Field(min_length=1, max_length=120, examples=["Botox"])
    batch_number: str = Field(min_length=1, max_length=60, examples=["C1234AB5"])
    indication: Indication
    areas: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        min_length=1, max_length=20, examples=[["forehead", "frown lines"]]
    )
    units: float = Field(gt=0, le=20000, description="Total units given.")
    units_by_area: dict[str, Units] | None = Field(
        default=None,
        max_length=20,
        description="Units per area; its areas must be those in `areas` and add up to `units`.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "treated_at": "2026-03-02T10:00:00+00:00",
                    "product": "Botox",
                    "batch_number": "C1234AB5",
                    "indication": "cosmetic",
                    "areas": ["forehead", "frown lines"],
                    "units": 30,
                    "units_by_area": {"forehead": 10, "frown lines": 20},
                }
            ]
        }
    )


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


class SymptomEntryIn(In):
    code: str = Field(min_length=1, max_length=40, examples=["bruising"])
    severity: int = Field(ge=0, le=4, description="0 none, 1 mild, 2 moderate, 3 severe, 4 very")
    onset: Timestamp | None = Field(default=None, description="When it started, if new.")


class CheckInIn(In):
    reported_at: Timestamp | None = Field(
        default=None,
        description="Defaults to now; not in the future (5 minutes of clock skew allowed) "
        "nor before the treatment.",
    )
    symptoms: list[SymptomEntryIn] = Field(max_length=100)
    note: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reported_at": "2026-03-03T09:30:00+00:00",
                    "symptoms": [{"code": "bruising", "severity": 2}],
                    "note": "Phone follow-up.",
                }
            ]
        }
    )


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


class ResolveIn(In):
    outcome: Outcome
    note: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"outcome": "reassured", "note": "Settled by day 5."}]}
    )


class NoBody(In):
    """No fields: send no body, or `{}`."""


# --- queries -------------------------------------------------------------------------------


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(
        default=DEFAULT_PAGE, ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE} a page."
    )
    cursor: str | None = Field(
        default=None, max_length=200, description="`next_cursor` of the previous page."
    )


class FlagQuery(PageQuery):
    status: FlagStatus | Literal["all"] | None = Field(
        default=None, description="Default: open and acknowledged."
    )
    reason: FlagReason | None = None
    treatment_id: int | None = Field(default=None, ge=1, le=MAX_ID)
