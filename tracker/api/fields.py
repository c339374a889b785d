"""The building blocks of the API's models: request and response bases, timestamps, addresses.

Every request body derives from `In`: unknown fields refused, strict parsing, and no NUL
character in any string however deep (`tracker.inputs`), so no interface passes one on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ..catalogue import ACTIONS, AREAS, LANGUAGES, TRANSLATED_LANGUAGES
from ..emails import EMAIL_MAX_CHARS, EMAIL_TOO_LONG, email_too_long
from ..inputs import NUL_ERROR, contains_nul
from ..models import (
    CLINICIAN_OUTCOMES,
    INDICATIONS,
    OUTCOMES,
    REACTION_OUTCOMES,
    SERIOUSNESS,
    SEXES,
    STATUSES,
)
from ..rules import Reason


class In(BaseModel):
    """A request body: unknown fields refused, no type coercion, no NaN or infinity, and no
    NUL character in any string, however deep (PostgreSQL cannot store one)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        if contains_nul(value):
            raise PydanticCustomError("nul_character", NUL_ERROR)
        return value


class Out(BaseModel):
    """A response body."""

    model_config = ConfigDict(from_attributes=True)


def _fits_email_column(value: str) -> str:
    if email_too_long(value):
        raise PydanticCustomError("email_too_long", EMAIL_TOO_LONG)
    return value


Email = Annotated[
    str,
    Field(min_length=1, max_length=EMAIL_MAX_CHARS),
    AfterValidator(_fits_email_column),
]
"""An address, refused (422) if it cannot fit its column once lower-cased; the services decide
whether it is a real one (`emails.normalise_email`)."""

Timestamp = Annotated[
    AwareDatetime,
    Field(
        description="ISO 8601 with a UTC offset, e.g. 2026-03-02T10:00:00+00:00; "
        "times without an offset are refused.",
        examples=["2026-03-02T10:00:00+00:00"],
    ),
]
OutTimestamp = Annotated[datetime, Field(description="ISO 8601, UTC.")]

# The choices of the catalogue, the models and the rules, as enums for the schemas.

Indication = StrEnum("Indication", {name: name for name in INDICATIONS})
Outcome = StrEnum("Outcome", {name: name for name in OUTCOMES})
ClinicianOutcome = StrEnum("ClinicianOutcome", {name: name for name in CLINICIAN_OUTCOMES})
FlagStatus = StrEnum("FlagStatus", {name: name for name in STATUSES})
FlagReason = StrEnum("FlagReason", {reason.value: reason.value for reason in Reason})
Action = StrEnum("Action", {name: name for name in ACTIONS})
Area = StrEnum("Area", {name: name for name in AREAS})
Language = StrEnum("Language", {code: code for code in LANGUAGES})
Sex = StrEnum("Sex", {code: code for code in SEXES})
Seriousness = StrEnum("Seriousness", {code: code for code in SERIOUSNESS})
ReactionOutcome = StrEnum("ReactionOutcome", {code: code for code in REACTION_OUTCOMES})
TranslatedLanguage = StrEnum("TranslatedLanguage", {code: code for code in TRANSLATED_LANGUAGES})
