"""A demo clinic whose patients show every kind of flag, for trying Aftercare out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select

from ...catalogue import ENGLISH, LANGUAGE_NAMES
from ...extensions import db
from ...infrastructure.database import begin_write
from ...models import Clinic, Patient, Treatment, User
from ...timeutil import utcnow
from ..flags.flagging import sweep
from ..patients.checkins import SymptomEntry, record_checkin
from .clinics import create_clinic, create_user, find_clinic

DEMO_CLINIC = "Aftercare Demo Clinic"
DEMO_PASSWORD = "demo-clinic-2026"  # noqa: S105  (demo data only, refused in production)
DEMO_STAFF = (
    ("admin@demo.aftercare.test", "Alex Admin", "admin", "GMC 7000001"),
    ("nurse@demo.aftercare.test", "Nia Nurse", "clinician", "NMC 12A3456B"),
)


@dataclass(frozen=True)
class DemoPatient:
    """A demo patient: when they were treated, and what they reported (hours after, symptoms)."""

    name: str
    email: str
    timezone: str
    treated_days_ago: float
    checkins: tuple[tuple[float, dict[str, int]], ...]
    shows: str
    language: str = ENGLISH  # of their pages and emails

    @property
    def description(self) -> str:
        """What `tracker demo` prints beside their link: what they show, in which language."""
        if self.language == ENGLISH:
            return self.shows
        return f"{self.shows}; reads {LANGUAGE_NAMES[self.language]}"


DEMO_PATIENTS = (
    DemoPatient(
        "Grace Hopper",
        "grace@example.com",
        "Europe/London",
        0.1,
        (),
        "treated today: try the check-in",
    ),
    DemoPatient(
        "Alice Brown",
        "alice@example.com",
        "Europe/London",
        4.5,
        (
            (20, {"bruising": 2}),
            (44, {"bruising": 1}),
            (68, {"bruising": 1}),
            (92, {"bruising": 1}),
        ),
        "overdue: bruising on day 4",
    ),
    DemoPatient(
        "Ben Okafor",
        "ben@example.com",
        "Europe/London",
        6,
        ((26, {}), (100, {"eyelid_drooping": 2})),
        "review: eyelid drooping",
    ),
    DemoPatient(
        "Chloe Martin",
        "chloe@example.com",
        "Europe/Paris",
        2,
        ((22, {"headache": 1}), (40, {"difficulty_swallowing": 2})),
        "urgent: difficulty swallowing",
    ),
    DemoPatient(
        "Dan Evans",
        "dan@example.com",
        "Europe/London",
        3,
        ((20, {"headache": 4, "nausea": 2}),),
        "severe: very severe headache",
        language="cy",
    ),
    DemoPatient(
        "Eve Kowalski",
        "eve@example.com",
        "America/New_York",
        3,
        ((22, {"pain": 1}), (46, {"pain": 3})),
        "worsening: injection-site pain",
    ),
    DemoPatient(
        "Farid Haddad",
        "farid@example.com",
        "Australia/Sydney",
        3,
        (),
        "no response: no check-in for 3 days",
    ),
)


def ensure_demo(now: datetime | None = None) -> tuple[Clinic, bool]:
    """The demo clinic, created with its staff, patients and history on the first call only."""
    begin_write()
    now = now or utcnow()
    existing = find_clinic(DEMO_CLINIC)
    if existing:
        return existing, False
    clinic = create_clinic(DEMO_CLINIC, "Europe/London")
    clinic.phone = "020 7946 0000"
    staff = [
        create_user(clinic, email, DEMO_PASSWORD, role, name, registration)
        for email, name, role, registration in DEMO_STAFF
    ]
    for demo in DEMO_PATIENTS:
        _add_patient(clinic, staff[-1], demo, now)
    sweep(now)
    return clinic, True


def _add_patient(clinic: Clinic, practitioner: User, demo: DemoPatient, now: datetime) -> None:
    patient = Patient(
        clinic_id=clinic.id,
        name=demo.name,
        email=demo.email,
        timezone=demo.timezone,
        reminder_time=time(9, 0),
        language=demo.language,
    )
    db.session.add(patient)
    db.session.flush()
    treated_at = now - timedelta(days=demo.treated_days_ago)
    treatment = Treatment(
        clinic_id=clinic.id,
        patient_id=patient.id,
        practitioner_id=practitioner.id,
        treated_at=treated_at,
        product="Botox (onabotulinumtoxinA)",
        batch_number="C1234AB5",
        indication="cosmetic",
        areas=["forehead", "frown lines"],
        units_by_area={"forehead": 10, "frown lines": 20},
        units_total=30,
    )
    db.session.add(treatment)
    db.session.flush()
    for hours_after, symptoms in demo.checkins:
        record_checkin(
            treatment,
            [SymptomEntry(code, severity) for code, severity in symptoms.items()],
            reported_at=treated_at + timedelta(hours=hours_after),
            now=now,
        )


def demo_patients(clinic: Clinic) -> list[Patient]:
    """The demo clinic's patients, in the order they were added."""
    return list(
        db.session.scalars(
            select(Patient).where(Patient.clinic_id == clinic.id).order_by(Patient.id)
        )
    )
