"""A clinic's patients: adding and editing them, finding them, and their record over time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from ...catalogue import DEFAULT_SCHEDULE, ENGLISH, LANGUAGES
from ...emails import normalise_email
from ...extensions import db
from ...invalid import InvalidInput
from ...models import SEXES, CheckIn, Flag, OutboxMessage, Patient, SymptomReport, Treatment
from ...models.flag import RESOLVED
from ...timeutil import is_timezone, utcnow
from ..flags.flagging import refresh_followup_state
from .erased import refuse_if_erased

NAME_MAX_CHARS = 200
PHONE_RE = re.compile(r"^\+?[0-9 ()\-.]{5,40}$")
PHONE_ERROR = "Enter a phone number of digits, spaces and + ( ) - only."
MESSAGES_SHOWN = 20
EARLIEST_BIRTH_YEAR = 1900


@dataclass(frozen=True)
class PatientDetails:
    """What the clinic records about a patient."""

    name: str
    email: str
    timezone: str
    phone: str | None = None
    reminder_time: time = time(9, 0)
    reminders_enabled: bool = True
    language: str = ENGLISH  # of the patient's pages and emails, one of `catalogue.LANGUAGES`
    # Optional, for a regulator's report (the patient's sex and age): None is not recorded.
    sex: str | None = None  # one of `models.SEXES`
    date_of_birth: date | None = None


def current_details(patient: Patient) -> PatientDetails:
    """The details the clinic recorded, as they are now (the start of a change)."""
    return PatientDetails(**{f.name: getattr(patient, f.name) for f in fields(PatientDetails)})


def _clean(details: PatientDetails) -> PatientDetails:
    """Validate the details and return them tidied (trimmed, email normalised), or raise."""
    errors: dict[str, str] = {}
    name = (details.name or "").strip()
    if not name:
        errors["name"] = "Enter the patient's name."
    elif len(name) > NAME_MAX_CHARS:
        errors["name"] = f"Keep the name to {NAME_MAX_CHARS} characters or fewer."
    email = details.email or ""
    try:
        email = normalise_email(email)
    except InvalidInput as invalid:
        errors.update(invalid.fields)
    phone = (details.phone or "").strip() or None
    if phone is not None and not PHONE_RE.match(phone):
        errors["phone"] = PHONE_ERROR
    if not is_timezone(details.timezone or ""):
        errors["timezone"] = "Choose the patient's timezone from the list."
    if not isinstance(details.reminder_time, time):
        errors["reminder_time"] = "Give the reminder time as HH:MM, e.g. 09:00."
    elif problem := DEFAULT_SCHEDULE.reminder_time_problem(details.reminder_time):
        errors["reminder_time"] = problem
    if details.language not in LANGUAGES:
        errors["language"] = "Choose the language of the patient's pages and emails from the list."
    if details.sex is not None and details.sex not in SEXES:
        errors["sex"] = "Choose the patient's sex from the list, or leave it not recorded."
    if problem := birth_date_problem(details.date_of_birth):
        errors["date_of_birth"] = problem
    if errors:
        raise InvalidInput(errors)
    return PatientDetails(
        name=name,
        email=email,
        timezone=details.timezone,
        phone=phone,
        reminder_time=details.reminder_time.replace(second=0, microsecond=0),
        reminders_enabled=bool(details.reminders_enabled),
        language=details.language,
        sex=details.sex,
        date_of_birth=details.date_of_birth,
    )


def birth_date_problem(born: date | None, today: date | None = None) -> str | None:
    """Why `born` cannot be a patient's date of birth (None: it can, or none was given)."""
    if born is None:
        return None
    if not isinstance(born, date) or isinstance(born, datetime):
        return "Give the date of birth as a date, e.g. 1980-04-21."
    if born > (today or utcnow().date()):
        return "A date of birth cannot be in the future."
    if born.year < EARLIEST_BIRTH_YEAR:
        return f"Give a date of birth from {EARLIEST_BIRTH_YEAR} on."
    return None


def create_patient(clinic_id: int, details: PatientDetails) -> Patient:
    """Add a patient to a clinic (flush only); raises `InvalidInput` before writing."""
    clean = _clean(details)
    patient = Patient(clinic_id=clinic_id, **clean.__dict__)
    db.session.add(patient)
    db.session.flush()
    return patient


def update_patient(patient: Patient, details: PatientDetails) -> list[str]:
    """Change a patient's details (flush only); returns the names of the fields that changed.

    Raises `PatientErased` for an erased patient.
    """
    refuse_if_erased(patient)
    clean = _clean(details)
    changed = [name for name, value in clean.__dict__.items() if getattr(patient, name) != value]
    for name in changed:
        setattr(patient, name, getattr(clean, name))
    db.session.flush()
    if "timezone" in changed:  # the no-response rule counts the patient's local days
        refresh_followup_state([t.id for t in patient.treatments], utcnow())
    return changed


def search(clinic_id: int, query: str | None = None, *, include_erased: bool = False) -> Select:
    """The clinic's patients whose name or email contains `query` (any case), by name.

    Erased patients are left out unless asked for: their record is kept, not worked on.
    """
    statement = select(Patient).where(Patient.clinic_id == clinic_id)
    if not include_erased:
        statement = statement.where(Patient.erased_at.is_(None))
    query = (query or "").strip().lower()
    if query:
        statement = statement.where(
            or_(
                func.lower(Patient.name).contains(query, autoescape=True),
                func.lower(Patient.email).contains(query, autoescape=True),
            )
        )
    return statement.order_by(func.lower(Patient.name), Patient.id)


def search_page(
    clinic_id: int, query: str | None, page: int, per_page: int, *, include_erased: bool = False
) -> Pagination:
    """One page of `search` (a page past the end is empty, not an error)."""
    return db.paginate(
        search(clinic_id, query, include_erased=include_erased),
        page=page,
        per_page=per_page,
        max_per_page=per_page,
        error_out=False,
    )


@dataclass(frozen=True)
class PatientSummary:
    """What the list shows beside each patient: latest treatment and unresolved flags."""

    last_treated_at: datetime | None = None
    unresolved_flags: int = 0


def summaries(patient_ids: list[int]) -> dict[int, PatientSummary]:
    """Summaries of a page of patients, in two queries."""
    if not patient_ids:
        return {}
    latest = dict(
        db.session.execute(
            select(Treatment.patient_id, func.max(Treatment.treated_at))
            .where(Treatment.patient_id.in_(patient_ids))
            .group_by(Treatment.patient_id)
        ).all()
    )
    flags = dict(
        db.session.execute(
            select(Treatment.patient_id, func.count(Flag.id))
            .join(Flag, Flag.treatment_id == Treatment.id)
            .where(Treatment.patient_id.in_(patient_ids), Flag.status != RESOLVED)
            .group_by(Treatment.patient_id)
        ).all()
    )
    return {pid: PatientSummary(latest.get(pid), flags.get(pid, 0)) for pid in patient_ids}


@dataclass
class PatientRecord:
    """A patient's treatments, check-ins (with severities), flags and messages, newest first."""

    patient: Patient
    treatments: list[Treatment] = field(default_factory=list)
    checkins: list[CheckIn] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    messages: list[OutboxMessage] = field(default_factory=list)


def patient_record(patient: Patient) -> PatientRecord:
    """Load everything the patient page shows, in a handful of queries."""
    treatments = list(
        db.session.scalars(
            select(Treatment)
            .where(Treatment.patient_id == patient.id)
            .options(selectinload(Treatment.practitioner))
            .order_by(Treatment.treated_at.desc(), Treatment.id.desc())
        )
    )
    treatment_ids = [t.id for t in treatments]
    checkins = list(
        db.session.scalars(
            select(CheckIn)
            .where(CheckIn.treatment_id.in_(treatment_ids))
            .options(selectinload(CheckIn.reports).selectinload(SymptomReport.symptom))
            .order_by(CheckIn.reported_at.desc(), CheckIn.id.desc())
        )
    )
    flags = list(
        db.session.scalars(
            select(Flag)
            .where(Flag.treatment_id.in_(treatment_ids))
            .options(selectinload(Flag.symptom))
            .order_by(Flag.opened_at.desc(), Flag.id.desc())
        )
    )
    messages = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.patient_id == patient.id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(MESSAGES_SHOWN)
        )
    )
    return PatientRecord(patient, treatments, checkins, flags, messages)
