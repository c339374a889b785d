"""Fresh data for each journey, written through the services on the stack's own database."""

from __future__ import annotations

import contextlib
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask
from pyotp import random_base32
from sqlalchemy import select

from tests import builders
from tests.e2e.harness import CLINIC, Stack
from tracker import create_app
from tracker.catalogue import ENGLISH
from tracker.extensions import db
from tracker.infrastructure.database import WRITE
from tracker.models import LoginAttempt, Patient, SecondFactor, Treatment
from tracker.services.clinics.clinics import create_clinic, create_user, find_clinic
from tracker.services.messaging.reminder_settings import stop_url
from tracker.services.patients.links import issue_link
from tracker.services.patients.patients import PatientDetails, create_patient
from tracker.services.patients.treatments import TreatmentDetails, record_treatment
from tracker.services.staff.recovery_codes import replace_codes
from tracker.timeutil import utcnow


def seeding_app(stack: Stack) -> Flask:
    """An app in this process on the stack's database, with its key (links are signed with it).

    Every transaction it begins is a write transaction (BEGIN IMMEDIATE on SQLite), as the
    app's requests are: seeding reads, then writes, while gunicorn writes too, and a SQLite
    transaction that read before another connection committed cannot write any more.
    """
    app = create_app(
        {
            "TESTING": True,  # never starts a scheduler here, whatever the environment says
            "TRACKER_SCHEDULER": False,
            "SECRET_KEY": stack.secret,
            "SQLALCHEMY_DATABASE_URI": stack.database_url,
            "TRACKER_BASE_URL": stack.base_url,
        }
    )
    with app.app_context():
        db.engine.update_execution_options(**WRITE)
    return app


@contextlib.contextmanager
def on(app: Flask) -> Iterator[None]:
    """An app context whose session is committed by the caller and removed afterwards."""
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()


def unique_email(name: str) -> str:
    """A fresh address per journey, so each test reads only its own mail."""
    return f"{name.split()[0].lower()}.{secrets.token_hex(4)}@example.com"


@dataclass(frozen=True)
class Treated:
    """A patient of the clinic treated two hours ago (their invite is queued)."""

    patient_id: int
    treatment_id: int
    name: str
    email: str


def treated_patient(
    app: Flask,
    name: str,
    clinic_name: str = CLINIC,
    language: str = ENGLISH,
    *,
    batch_number: str = "C1234AB5",
    days_ago: float = 0,
) -> Treated:
    """A new patient (reading `language`) treated from `batch_number` two hours (and
    `days_ago` days) ago, as the clinic records one."""
    email = unique_email(name)
    with on(app):
        clinic = find_clinic(clinic_name)
        details = PatientDetails(
            name=name, email=email, timezone="Europe/London", language=language
        )
        patient = create_patient(clinic.id, details)
        recorded = record_treatment(
            patient,
            TreatmentDetails(
                treated_at=utcnow() - timedelta(days=days_ago, hours=2),
                product="Botox",
                batch_number=batch_number,
                indication="cosmetic",
                units_by_area={"forehead": 10},
            ),
        )
        db.session.commit()
        return Treated(patient.id, recorded.treatment.id, name, email)


def clinic_of_its_own(app: Flask, stack: Stack, nurse_name: str) -> tuple[str, str]:
    """A new clinic with one clinician (the stack's password), so a journey sees only its own
    cases; (the clinic's name, the clinician's email)."""
    suffix = secrets.token_hex(4)
    name, email = f"Clinic {suffix}", f"nurse.{suffix}@{suffix}.test"
    with on(app):
        clinic = create_clinic(name)
        create_user(clinic, email, stack.password, "clinician", name=nurse_name)
        db.session.commit()
    return name, email


@dataclass(frozen=True)
class Admin:
    """An admin with a second factor set up (as if enrolled earlier) and its recovery codes."""

    email: str
    recovery_codes: list[str]


def admin_of(app: Flask, stack: Stack, clinic_name: str, name: str) -> Admin:
    """A new admin of `clinic_name` (the stack's password) who has enrolled a second factor."""
    email = f"admin.{secrets.token_hex(4)}@example.test"
    with on(app):
        admin = create_user(find_clinic(clinic_name), email, stack.password, "admin", name=name)
        factor = SecondFactor(user_id=admin.id, secret=random_base32(), confirmed_at=utcnow())
        db.session.add(factor)
        db.session.flush()
        codes = replace_codes(admin)
        db.session.commit()
    return Admin(email, codes)


def flag_for(app: Flask, treated: Treated, code: str = "headache", severity: int = 4) -> int:
    """The patient checks in (through the service) with a symptom that opens a flag; its id."""
    with on(app):
        treatment = db.session.get(Treatment, treated.treatment_id)
        result = builders.checkin(treatment, utcnow(), {code: severity})
        db.session.commit()
        assert len(result.new_flags) == 1, result.new_flags
        return result.new_flags[0].id


def personal_link(app: Flask, treated: Treated) -> str:
    """A fresh personal-link token for the patient (as a reminder email would carry)."""
    with on(app):
        token = issue_link(db.session.get(Patient, treated.patient_id))
        db.session.commit()
        return token


def reminders_enabled(app: Flask, treated: Treated) -> bool:
    with on(app):
        return db.session.get(Patient, treated.patient_id).reminders_enabled


def stop_token(app: Flask, treated: Treated) -> str:
    """The patient's stop-reminders token, as every email to them carries it."""
    with on(app):
        return urlsplit(stop_url(treated.patient_id)).path.rsplit("/", 1)[1]


def failed_sign_ins_by_address(app: Flask) -> Counter[str]:
    """How many failed sign-ins the app recorded from each client address."""
    with on(app):
        rows = db.session.scalars(
            select(LoginAttempt.ip_address).where(LoginAttempt.succeeded.is_(False))
        )
        return Counter(rows)
