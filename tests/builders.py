"""Test data as the tests need it: patients, treatments, check-ins at given times, and flags.

Patients and treatments are written as rows, not through the services, so no invite is queued
and no audit row is written: tests that count messages or audit rows see only their own. Check-ins
go through the real check-in service (`checkin`), which judges them and opens the flags they
raise, unless a test wants rows the sweep alone will judge (`unjudged_checkin`). Every builder
flushes and the caller commits, as with the services.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, time

from sqlalchemy import event, select

from tracker.extensions import db
from tracker.models import CheckIn, Clinic, Flag, Patient, Symptom, SymptomReport, Treatment, User
from tracker.services.patients.checkins import CheckInResult, SymptomEntry, record_checkin

TREATED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
"""When `treatment` treats by default: a Monday morning in March (London is on UTC then)."""

DEFAULT_UNITS = {"forehead": 10}


def patient(
    clinic: Clinic,
    name: str = "Pat Example",
    *,
    email: str | None = None,
    timezone: str = "Europe/London",
    reminder_time: time = time(9, 0),
    phone: str | None = None,
) -> Patient:
    """A patient of `clinic`, emailed at their first name `@example.com` unless told otherwise."""
    row = Patient(
        clinic_id=clinic.id,
        name=name,
        email=email or f"{name.split()[0].lower()}@example.com",
        timezone=timezone,
        reminder_time=reminder_time,
        phone=phone,
    )
    db.session.add(row)
    db.session.flush()
    return row


def treatment(
    patient: Patient,
    at: datetime = TREATED_AT,
    *,
    product: str = "Botox",
    batch: str = "C1234AB5",
    units: Mapping[str, int] = DEFAULT_UNITS,
    indication: str = "cosmetic",
    practitioner: User | None = None,
) -> Treatment:
    """A treatment of `patient` at `at`: `units` by area (10 units to the forehead by default)."""
    row = Treatment(
        clinic_id=patient.clinic_id,
        patient_id=patient.id,
        treated_at=at,
        product=product,
        batch_number=batch,
        indication=indication,
        areas=list(units),
        units_by_area=dict(units),
        units_total=sum(units.values()),
        practitioner_id=practitioner.id if practitioner else None,
    )
    db.session.add(row)
    db.session.flush()
    return row


def checkin(
    treatment: Treatment,
    at: datetime,
    symptoms: Mapping[str, int] | None = None,
    *,
    onset: datetime | None = None,
    now: datetime | None = None,
    source: str = "patient",
    note: str | None = None,
    recorded_by: User | None = None,
) -> CheckInResult:
    """A check-in reported at `at` (and judged then, unless `now` says otherwise) through the
    check-in service, with `{code: severity}` for each symptom, each begun at `onset` if given."""
    return record_checkin(
        treatment,
        [SymptomEntry(code, severity, onset) for code, severity in (symptoms or {}).items()],
        reported_at=at,
        now=now or at,
        source=source,
        note=note,
        recorded_by=recorded_by,
    )


def unjudged_checkin(treatment: Treatment, at: datetime, symptoms: Mapping[str, int]) -> CheckIn:
    """A check-in stored as rows, bypassing the service: no flag is opened until the sweep runs."""
    row = CheckIn(treatment_id=treatment.id, reported_at=at)
    db.session.add(row)
    db.session.flush()
    for code, severity in symptoms.items():
        db.session.add(
            SymptomReport(
                checkin_id=row.id,
                treatment_id=treatment.id,
                symptom_id=symptom(treatment.clinic_id, code).id,
                reported_at=at,
                severity=severity,
            )
        )
    db.session.flush()
    return row


def flag(
    treatment: Treatment,
    reason: str,
    code: str | None = None,
    *,
    opened_at: datetime,
    episode_started_at: datetime | None = None,
    observed_at: datetime | None = None,
    status: str = "open",
) -> Flag:
    """A flag row stored directly, as a job would store it (no_response has no symptom `code`).

    The episode starts, and the finding is observed, when the flag opens unless told otherwise.
    """
    row = Flag(
        clinic_id=treatment.clinic_id,
        treatment_id=treatment.id,
        symptom_id=symptom(treatment.clinic_id, code).id if code else None,
        reason=reason,
        status=status,
        episode_started_at=episode_started_at or opened_at,
        observed_at=observed_at or opened_at,
        opened_at=opened_at,
    )
    db.session.add(row)
    db.session.flush()
    return row


def symptom(clinic_id: int, code: str) -> Symptom:
    """The catalogue entry `code` of the clinic `clinic_id` (which must have it)."""
    row = db.session.scalar(select(Symptom).filter_by(clinic_id=clinic_id, code=code))
    assert row is not None, f"clinic {clinic_id} has no symptom {code!r}"
    return row


@contextmanager
def sql_statements(prefix: str = "") -> Iterator[list[str]]:
    """The SQL statements run on the app's engine inside the block (those starting `prefix`)."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith(prefix):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
