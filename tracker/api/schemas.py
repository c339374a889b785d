"""The API's request and response models, importable from one place (`schemas.TokenIn`).

Requests are in `request_schemas` (unknown fields refused, strict parsing, a time has an
offset), responses in `response_schemas` (timestamps as ISO 8601 in UTC), and their building
blocks in `fields`.
"""

from __future__ import annotations

from ..infrastructure.database import MAX_ID
from .request_schemas import (
    DEFAULT_PAGE,
    MAX_PAGE,
    AssignIn,
    CaseQuery,
    CaseResolveIn,
    CheckInIn,
    FlagQuery,
    NoBody,
    PageQuery,
    PatientIn,
    ResolveIn,
    SymptomEntryIn,
    TokenIn,
    TreatmentIn,
    Units,
)
from .response_schemas import (
    CaseOut,
    CasePage,
    CaseResolved,
    CheckInCreated,
    CheckInOut,
    CheckInPage,
    ErrorDetail,
    ErrorOut,
    FlagOut,
    FlagPage,
    PatientOut,
    Practitioner,
    StaffBrief,
    SymptomList,
    SymptomOut,
    SymptomReportOut,
    TokenOut,
    TreatmentBrief,
    TreatmentCreated,
    TreatmentOut,
)

__all__ = [
    "AssignIn",
    "CaseOut",
    "CasePage",
    "CaseQuery",
    "CaseResolveIn",
    "CaseResolved",
    "StaffBrief",
    "CheckInCreated",
    "CheckInIn",
    "CheckInOut",
    "CheckInPage",
    "DEFAULT_PAGE",
    "ErrorDetail",
    "ErrorOut",
    "FlagOut",
    "FlagPage",
    "FlagQuery",
    "MAX_ID",
    "MAX_PAGE",
    "NoBody",
    "PageQuery",
    "PatientIn",
    "PatientOut",
    "Practitioner",
    "ResolveIn",
    "SymptomEntryIn",
    "SymptomList",
    "SymptomOut",
    "SymptomReportOut",
    "TokenIn",
    "TokenOut",
    "TreatmentBrief",
    "TreatmentCreated",
    "TreatmentIn",
    "TreatmentOut",
    "Units",
]
