"""The API's models of a case's regulator report (MHRA Yellow Card, FDA MedWatch 3500)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import ConfigDict, Field

from ..services.flags.regulator_report import MISSING_LABELS, TEXT_MAX_CHARS, Report
from .fields import In, Indication, Out, OutTimestamp, ReactionOutcome, Seriousness, Sex

Missing = StrEnum("Missing", {key: key for key in MISSING_LABELS})
Route = StrEnum("Route", {"intradermal": "intradermal", "intramuscular": "intramuscular"})
ReportText = Field(default="", max_length=TEXT_MAX_CHARS)


class ReportClinic(Out):
    name: str
    address: str | None
    phone: str | None
    email: str | None = Field(description="The clinic's alert address, if it has one.")


class ReportReporter(Out):
    name: str = Field(description="The clinician asking: they are the report's reporter.")
    profession: str | None
    registration_number: str | None
    email: str
    clinic: ReportClinic


class ReportPatient(Out):
    initials: str | None = Field(description="null for an erased patient.")
    sex: Sex | None
    age: int | None = Field(description="Whole years at the treatment; null: no date of birth.")


class ReportProduct(Out):
    brand: str
    batch_number: str
    units: float
    units_by_area: dict[str, float]
    route: Route = Field(description="Intradermal for sweating, intramuscular otherwise.")
    areas: list[str]
    indication: Indication
    given_on: date = Field(description="The date of the treatment in the clinic's timezone.")


class ReportReaction(Out):
    symptom_id: int
    symptom_code: str
    symptom: str
    started_at: OutTimestamp
    ended_at: OutTimestamp | None = Field(description="null while it goes on.")
    worst_severity: int = Field(ge=0, le=4)
    worst_severity_label: str
    proposed_outcome: ReactionOutcome
    description: str


class ReportOutcome(Out):
    confirmed: ReactionOutcome | None = Field(description="null until a clinician confirms one.")
    proposed: ReactionOutcome = Field(description="What the check-ins suggest.")


class ReportOut(Out):
    treatment_id: int
    reporter: ReportReporter
    patient: ReportPatient
    product: ReportProduct
    reactions: list[ReportReaction]
    serious: bool = Field(
        description="As the ticked criteria say once a clinician saved the report; until then "
        "proposed (an urgent symptom or emergency care), as the FHIR export says."
    )
    serious_assessed: bool = Field(description="Whether a clinician has saved the report.")
    seriousness: list[Seriousness]
    outcome: ReportOutcome
    other_medicines: str
    reported_on: date | None
    reference: str | None
    missing: list[Missing] = Field(description="What the report still lacks.")


class ReportIn(In):
    """The clinician's part of the report, replaced whole."""

    seriousness: list[Seriousness] = Field(default_factory=list, max_length=len(Seriousness))
    outcome: ReactionOutcome | None = Field(default=None, description="null: not confirmed.")
    other_medicines: str = ReportText
    descriptions: dict[str, str] = Field(
        default_factory=dict,
        max_length=100,
        description="Each reaction's description, by its `symptom_id` (as a string).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seriousness": ["hospitalisation"],
                    "outcome": "recovering",
                    "other_medicines": "None",
                    "descriptions": {"1": "Could not swallow solids for three days."},
                }
            ]
        }
    )


def report_out(report: Report) -> ReportOut:
    """The report as the API gives it."""
    treatment, clinic, reporter = report.treatment, report.clinic, report.reporter
    return ReportOut(
        treatment_id=treatment.id,
        reporter=ReportReporter(
            name=reporter.name,
            profession=reporter.profession,
            registration_number=reporter.registration_number,
            email=reporter.email,
            clinic=ReportClinic(
                name=clinic.name,
                address=clinic.address,
                phone=clinic.phone,
                email=clinic.alert_email,
            ),
        ),
        patient=ReportPatient(
            initials=report.patient_initials, sex=report.patient.sex, age=report.patient_age
        ),
        product=ReportProduct(
            brand=treatment.product,
            batch_number=treatment.batch_number,
            units=treatment.units_total,
            units_by_area=dict(treatment.units_by_area),
            route=report.route,
            areas=list(treatment.areas),
            indication=treatment.indication,
            given_on=report.given_on,
        ),
        reactions=[
            ReportReaction(
                symptom_id=r.symptom.id,
                symptom_code=r.symptom.code,
                symptom=r.symptom.name,
                started_at=r.started_at,
                ended_at=r.ended_at,
                worst_severity=r.worst,
                worst_severity_label=r.worst_label,
                proposed_outcome=r.proposed_outcome,
                description=r.description,
            )
            for r in report.reactions
        ],
        serious=report.is_serious,
        serious_assessed=report.saved is not None,
        seriousness=report.seriousness,
        outcome=ReportOutcome(confirmed=report.confirmed_outcome, proposed=report.proposed_outcome),
        other_medicines=report.other_medicines,
        reported_on=report.reported_on,
        reference=report.reference,
        missing=report.missing,
    )
