"""Recording a check-in: validate, store it with its reports, and raise what it shows at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from ...catalogue import MAX_SEVERITY
from ...extensions import db
from ...infrastructure.database import lock_for_update
from ...invalid import InvalidInput
from ...models import CheckIn, Flag, Symptom, SymptomReport, Treatment, User
from ...timeutil import CLOCK_SKEW, time_problem, utcnow
from ..flags.flag_actions import close_silences
from ..flags.flagging import raise_checkin_flags
from .erased import refuse_if_erased

NOTE_MAX_CHARS = 2000


def note_too_long() -> str:
    """Why a check-in's note was refused, in the reader's language."""
    return gettext("Keep the note to %(num)s characters or fewer.", num=f"{NOTE_MAX_CHARS:,}")


@dataclass(frozen=True)
class SymptomEntry:
    """One symptom as submitted: its catalogue code, severity 0-4, and onset if new."""

    code: str
    severity: int
    onset_at: datetime | None = None


@dataclass
class CheckInResult:
    """The stored check-in, the flags it opened and the no-response flags it closed."""

    checkin: CheckIn
    new_flags: list[Flag] = field(default_factory=list)
    closed_flags: list[Flag] = field(default_factory=list)


def _validate(
    treatment: Treatment,
    catalogue: dict[str, Symptom],
    entries: Sequence[SymptomEntry],
    note: str | None,
    reported_at: datetime,
    now: datetime,
) -> None:
    errors: dict[str, str] = {}
    if reported_at.tzinfo is None:
        errors["reported_at"] = gettext("Give the time with its timezone offset.")
    elif problem := time_problem(reported_at):
        errors["reported_at"] = problem
    elif reported_at > now + CLOCK_SKEW:
        errors["reported_at"] = gettext("A check-in cannot be in the future.")
    elif reported_at < treatment.treated_at:
        errors["reported_at"] = gettext("A check-in cannot be before the treatment.")
    seen: set[str] = set()
    for entry in entries:
        key = f"symptoms.{entry.code}"
        if entry.code not in catalogue:
            errors[key] = gettext("Unknown symptom %(code)r.", code=entry.code)
        elif entry.code in seen:
            errors[key] = gettext("This symptom is listed twice.")
        elif isinstance(entry.severity, bool) or not isinstance(entry.severity, int):
            errors[key] = gettext("Severity must be a whole number from 0 to 4.")
        elif not 0 <= entry.severity <= MAX_SEVERITY:
            errors[key] = gettext("Severity must be from 0 (none) to 4 (very severe).")
        elif entry.onset_at is not None:
            onset_key = f"{key}.onset_at"
            if entry.onset_at.tzinfo is None:
                errors[onset_key] = gettext("Give the start time with its timezone offset.")
            elif problem := time_problem(entry.onset_at):
                errors[onset_key] = problem
            elif "reported_at" not in errors and entry.onset_at > reported_at:
                errors[onset_key] = gettext("A symptom cannot start after the check-in.")
            elif entry.onset_at < treatment.treated_at:
                errors[onset_key] = gettext("A symptom counted here starts after the treatment.")
        seen.add(entry.code)
    if note is not None and len(note) > NOTE_MAX_CHARS:
        errors["note"] = note_too_long()
    if errors:
        raise InvalidInput(errors)


def record_checkin(
    treatment: Treatment,
    entries: Sequence[SymptomEntry],
    *,
    note: str | None = None,
    reported_at: datetime | None = None,
    source: str = "patient",
    recorded_by: User | None = None,
    now: datetime | None = None,
) -> CheckInResult:
    """Validate and store a check-in, open the flags it raises by itself and close the silence
    it ends (no-response flags, resolved by the system), in one transaction.

    Raises `PatientErased` or `InvalidInput` before writing anything. The caller commits.
    """
    # Check-ins of one treatment one at a time (judged against each other's reports).
    lock_for_update(Treatment, treatment.id)
    refuse_if_erased(treatment.patient)
    now = now or utcnow()
    reported_at = reported_at or now
    catalogue = {
        s.code: s
        for s in db.session.scalars(select(Symptom).where(Symptom.clinic_id == treatment.clinic_id))
    }
    note = (note or "").strip() or None
    _validate(treatment, catalogue, entries, note, reported_at, now)
    checkin = CheckIn(
        treatment_id=treatment.id,
        reported_at=reported_at,
        source=source,
        recorded_by_id=recorded_by.id if recorded_by else None,
        note=note,
        created_at=now,
    )
    db.session.add(checkin)
    db.session.flush()
    db.session.add_all(
        SymptomReport(
            checkin_id=checkin.id,
            treatment_id=treatment.id,
            symptom_id=catalogue[e.code].id,
            reported_at=reported_at,
            severity=e.severity,
            onset_at=e.onset_at,
        )
        for e in entries
    )
    db.session.flush()
    closed = close_silences(treatment.id, treatment.patient_id, reported_at, now)
    return CheckInResult(checkin, raise_checkin_flags(treatment, reported_at, now), closed)
