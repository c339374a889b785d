"""The database models, importable from one place."""

from .checkin import SOURCES, CheckIn, SymptomReport
from .clinic import ROLES, Clinic, Symptom, User
from .flag import ACKNOWLEDGED, OPEN, OUTCOMES, RESOLVED, STATUSES, AuditEvent, Flag, FlagNote
from .patient import INDICATIONS, Patient, PatientLink, Treatment

__all__ = [
    "ACKNOWLEDGED",
    "INDICATIONS",
    "OPEN",
    "OUTCOMES",
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
    "PatientLink",
    "Symptom",
    "SymptomReport",
    "Treatment",
    "User",
]
