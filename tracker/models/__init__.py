"""The database models, importable from one place."""

from .api_token import ApiToken as ApiToken
from .audit import AuditEvent
from .batch import (
    EXCESS,
    NOTICE,
    REACTION_OUTCOMES,
    SERIOUSNESS,
    SIGNAL_KINDS,
    SIGNAL_OUTCOMES,
    SPREAD,
    BatchQuarantine,
    BatchSignal,
    RegulatorReport,
)
from .checkin import SOURCES, CheckIn, SymptomReport
from .clinic import ROLES, Clinic, Symptom, SymptomTranslation, User
from .flag import (
    ACKNOWLEDGED,
    CLINICIAN_OUTCOMES,
    OPEN,
    OUTCOMES,
    REASON_LABELS,
    RESOLVED,
    STATUSES,
    SYSTEM_OUTCOMES,
    Flag,
    FlagNote,
)
from .outbox import FAILED, MESSAGE_STATUSES, PENDING, SENDING, SENT, OutboxMessage
from .patient import INDICATIONS, SEXES, Patient, PatientLink, PatientSession, Treatment
from .photo import Photo
from .second_factor import RecoveryCode, SecondFactor
from .staff import CatalogueChange, LoginAttempt, StaffSession

__all__ = [
    "EXCESS",
    "NOTICE",
    "REACTION_OUTCOMES",
    "SERIOUSNESS",
    "SIGNAL_KINDS",
    "SIGNAL_OUTCOMES",
    "SPREAD",
    "SEXES",
    "BatchQuarantine",
    "BatchSignal",
    "RegulatorReport",
    "FAILED",
    "MESSAGE_STATUSES",
    "PENDING",
    "SENDING",
    "SENT",
    "CatalogueChange",
    "LoginAttempt",
    "OutboxMessage",
    "StaffSession",
    "ACKNOWLEDGED",
    "INDICATIONS",
    "OPEN",
    "OUTCOMES",
    "REASON_LABELS",
    "CLINICIAN_OUTCOMES",
    "SYSTEM_OUTCOMES",
    "RESOLVED",
    "ROLES",
    "SOURCES",
    "STATUSES",
    "AuditEvent",
    "CheckIn",
    "Clinic",
    "Flag",
    "FlagNote",
    "Patient",
    "Photo",
    "PatientLink",
    "PatientSession",
    "RecoveryCode",
    "SecondFactor",
    "Symptom",
    "SymptomTranslation",
    "SymptomReport",
    "Treatment",
    "User",
]
