"""The API's request models: bodies and queries, validated strictly and described in OpenAPI.

They refuse unknown fields and parse strictly (a number is not a string, a time has an offset).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..infrastructure.database import MAX_ID
from ..services.batches.reasons import REASON_MAX_CHARS
from .fields import (
    ClinicianOutcome,
    Email,
    FlagReason,
    FlagStatus,
    In,
    Indication,
    Language,
    Sex,
    Timestamp,
)

MAX_PAGE = 100
DEFAULT_PAGE = 50


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


# --- patients ------------------------------------------------------------------------------


PatientName = Annotated[str, Field(min_length=1, max_length=200)]
Timezone = Annotated[
    str, Field(min_length=1, max_length=64, description="IANA name, e.g. Europe/London.")
]
Phone = Annotated[str | None, Field(max_length=40)]
ReminderTime = Annotated[
    str,
    Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Local time of the daily reminder, HH:MM.",
    ),
]
LANGUAGE_DESCRIPTION = "The language of the patient's pages and emails: `en` English, `cy` Welsh."
PatientSex = Annotated[
    Sex | None, Field(description="Optional, for a regulator's report; null: not recorded.")
]
DateOfBirth = Annotated[
    date | None,
    Field(
        description="Optional, for a regulator's report (the patient's age): YYYY-MM-DD, "
        "from 1900 and not in the future; null: not recorded.",
        examples=["1980-04-21"],
    ),
]


class PatientIn(In):
    name: PatientName
    email: Email
    timezone: Timezone
    phone: Phone = None
    reminder_time: ReminderTime | None = Field(
        default=None, description="Local time of the daily reminder, HH:MM (default 09:00)."
    )
    language: Language = Field(
        default=Language.en, description=LANGUAGE_DESCRIPTION + " Default `en`."
    )
    sex: PatientSex = None
    date_of_birth: DateOfBirth = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "timezone": "Europe/London",
                    "phone": "+44 20 7946 0000",
                    "reminder_time": "09:00",
                    "language": "en",
                }
            ]
        }
    )


PATIENT_CHANGE_EXAMPLE = {"language": "cy"}


def _fields_sent_change(schema: dict[str, Any]) -> None:
    """A field left out keeps its value, so none has a default (`null` only clears `phone`)."""
    for field in schema.get("properties", {}).values():
        field.pop("default", None)
    schema["examples"] = [PATIENT_CHANGE_EXAMPLE]


class PatientChangeIn(In):
    """Only the fields sent change; `null` clears the phone, sex and date of birth and is refused
    for the others."""

    # The defaults only mark a field as not sent (`model_fields_set`); they are never validated.
    name: PatientName = None
    email: Email = None
    timezone: Timezone = None
    phone: Phone = None
    reminder_time: ReminderTime = None
    reminders_enabled: bool = None
    language: Language = Field(default=None, description=LANGUAGE_DESCRIPTION)
    sex: PatientSex = None
    date_of_birth: DateOfBirth = None

    model_config = ConfigDict(json_schema_extra=_fields_sent_change)


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
    quarantine_reason: str | None = Field(
        default=None,
        max_length=REASON_MAX_CHARS,
        description="Why it was given although its batch is quarantined at the clinic: needed "
        "then (422 without it), and only then kept.",
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


# --- flags ---------------------------------------------------------------------------------


class ResolveIn(In):
    outcome: ClinicianOutcome
    note: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"outcome": "reassured", "note": "Settled by day 5."}]}
    )


class AssignIn(In):
    assignee_id: int | None = Field(
        ge=1,
        le=MAX_ID,
        description="An active clinician of the clinic; null to unassign. Another clinic's user "
        "or a deactivated account is a 409.",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"assignee_id": 1}]})


class CaseResolveIn(In):
    outcome: ClinicianOutcome
    note: str | None = Field(default=None, max_length=2000)
    flag_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1,
        max_length=100,
        description="The case's open and acknowledged flags as the client last saw them; if "
        "they are not exactly the case's active flags now, nothing is resolved (409).",
    )
    reported_on: date | None = Field(
        default=None,
        description="For `reported_to_regulator`: the date it was reported (default today in "
        "the clinic's timezone; not in the future).",
    )
    reference: str | None = Field(
        default=None,
        max_length=100,
        description="For `reported_to_regulator` (and required then): the regulator's reference.",
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"outcome": "reassured", "flag_ids": [1, 2]}]}
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


class CaseQuery(PageQuery):
    status: Literal["open", "acknowledged"] | None = Field(
        default=None,
        description="open: a flag nobody has acknowledged yet; acknowledged: every flag "
        "acknowledged. Default: both.",
    )
    reason: FlagReason | None = Field(default=None, description="Cases with a flag of this reason.")
    practitioner_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    assigned: Literal["me"] | None = Field(
        default=None, description="me: only the cases assigned to the token's user."
    )
