"""A treatment as an HL7 FHIR R4 Bundle: what a regulator's adverse-reaction report needs.

Patient, Procedure (the treatment), Medication (the product and its batch), one
QuestionnaireResponse per check-in, and one AdverseEvent per flag whose suspectEntity is the
Medication. Entries are linked by urn:uuid full URLs derived from our ids, so the same record
always exports the same references. One builder for the JSON API and the clinician's download
(`export_treatment`); the API describes its shape in `tracker.api.fhir`.

Each AdverseEvent carries the case's regulator report: `outcome` is the outcome the clinician
confirmed on the report, else the one the symptom's episodes propose (adverse-event-outcome:
resolved, recovering, ongoing, resolvedWithSequelae, fatal, unknown; `text` says which, and how
the flag stands). `seriousness` is serious when the report ticks any criterion, non-serious when
a saved report ticks none, and, before the clinician has saved one, serious for an urgent flag or
one resolved with emergency care. Each ticked criterion (`models.SERIOUSNESS`: death,
life_threatening, hospitalisation, disability, congenital_anomaly, intervention,
medically_important) is an extension `<base>/fhir/StructureDefinition/seriousness-criterion`
with that code as its `valueCode`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ... import rules
from ...catalogue import LANGUAGE_NAMES
from ...models import (
    OUTCOMES,
    REACTION_OUTCOMES,
    RESOLVED,
    SYSTEM_OUTCOMES,
    CheckIn,
    Flag,
    RegulatorReport,
    Treatment,
)
from ...timeutil import utcnow
from ..patients.treatments import TreatmentRecord, treatment_record
from .regulator_report import UNKNOWN, proposed_outcomes, proposed_serious, saved_report

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
SEVERITY_CODES = {1: "mild", 2: "moderate", 3: "severe", 4: "severe"}
LANGUAGE_TAGS = "urn:ietf:bcp:47"  # FHIR's system for language codes (BCP 47 tags: en, cy)
FHIR_OUTCOMES = {
    "recovered": ("resolved", "Resolved"),
    "recovering": ("recovering", "Recovering"),
    "not_recovered": ("ongoing", "Ongoing"),
    "recovered_with_sequelae": ("resolvedWithSequelae", "Resolved with Sequelae"),
    "fatal": ("fatal", "Fatal"),
    "unknown": ("unknown", "Unknown"),
}
"""Each of our reaction outcomes as FHIR R4's adverse-event-outcome code and display."""


@dataclass(frozen=True)
class Reporting:
    """What the case's regulator report says: the clinician's part (None: nothing saved yet)
    and the outcome each reported symptom's episodes propose, by code."""

    saved: RegulatorReport | None = None
    proposed: dict[str, str] = field(default_factory=dict)

    def outcome_of(self, flag: Flag) -> tuple[str, bool]:
        """The flag's reaction outcome and whether a clinician confirmed it."""
        if self.saved is not None and self.saved.outcome:
            return self.saved.outcome, True
        code = flag.symptom.code if flag.symptom is not None else None
        return self.proposed.get(code, UNKNOWN), False


def _when(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


class _Refs:
    """Stable urn:uuid references for our records."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def url(self, kind: str, row_id: int) -> str:
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.base_url}/{kind}/{row_id}"))

    def system(self, name: str) -> str:
        return f"{self.base_url}/fhir/{name}"


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _patient(treatment: Treatment, refs: _Refs) -> dict[str, Any]:
    patient = treatment.patient
    telecom = [{"system": "email", "value": patient.email}]
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": f"patient-{patient.id}",
        "identifier": [{"system": refs.system("patient-id"), "value": str(patient.id)}],
        "name": [{"text": patient.name}],
        "telecom": telecom,
        "communication": [
            {
                "language": {
                    "coding": [_coding(LANGUAGE_TAGS, patient.language)],
                    "text": LANGUAGE_NAMES[patient.language],
                },
                "preferred": True,
            }
        ],
    }
    if patient.sex:  # our codes are FHIR's administrative-gender codes (female, male, other)
        resource["gender"] = patient.sex
    if patient.date_of_birth:
        resource["birthDate"] = patient.date_of_birth.isoformat()
    return resource


def _medication(treatment: Treatment) -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": f"medication-{treatment.id}",
        "code": {"text": treatment.product},
        "batch": {"lotNumber": treatment.batch_number},
    }


def _procedure(treatment: Treatment, refs: _Refs) -> dict[str, Any]:
    units = ", ".join(f"{area} {value:g}" for area, value in treatment.units_by_area.items())
    note = f"Total units: {treatment.units_total:g}" + (f" ({units})" if units else "")
    procedure: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": f"procedure-{treatment.id}",
        "identifier": [{"system": refs.system("treatment-id"), "value": str(treatment.id)}],
        "status": "completed",
        "code": {"text": "Botulinum toxin injection"},
        "subject": {"reference": refs.url("patient", treatment.patient_id)},
        "performedDateTime": _when(treatment.treated_at),
        "reasonCode": [{"text": treatment.indication}],
        "bodySite": [{"text": area} for area in treatment.areas],
        "usedReference": [
            {
                "reference": refs.url("medication", treatment.id),
                "display": f"{treatment.product} batch {treatment.batch_number}",
            }
        ],
        "note": [{"text": note}],
    }
    practitioner = treatment.practitioner
    if practitioner is not None:
        actor: dict[str, Any] = {"display": practitioner.name}
        if practitioner.registration_number:
            actor["identifier"] = {
                "system": refs.system("registration-number"),
                "value": practitioner.registration_number,
            }
        procedure["performer"] = [{"actor": actor}]
    return procedure


def _questionnaire_response(checkin: CheckIn, treatment: Treatment, refs: _Refs) -> dict:
    items = []
    for report in checkin.reports:
        answer: dict[str, Any] = {"valueInteger": report.severity}
        if report.onset_at is not None:
            answer["item"] = [
                {
                    "linkId": f"{report.symptom.code}.onset",
                    "text": "When it started",
                    "answer": [{"valueDateTime": _when(report.onset_at)}],
                }
            ]
        items.append(
            {
                "linkId": report.symptom.code,
                "text": f"{report.symptom.name} (severity 0 none to 4 very severe)",
                "answer": [answer],
            }
        )
    if checkin.note:
        items.append({"linkId": "note", "text": "Note", "answer": [{"valueString": checkin.note}]})
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"checkin-{checkin.id}",
        "identifier": {"system": refs.system("checkin-id"), "value": str(checkin.id)},
        "status": "completed",
        "partOf": [{"reference": refs.url("procedure", treatment.id)}],
        "subject": {"reference": refs.url("patient", treatment.patient_id)},
        "authored": _when(checkin.reported_at),
        "item": items,
    }
    if checkin.source == "patient":
        response["source"] = {"reference": refs.url("patient", treatment.patient_id)}
    elif checkin.recorded_by is not None:
        response["author"] = {"display": checkin.recorded_by.name}
    return response


def _episode(flag: Flag, checkins: list[CheckIn]) -> rules.Episode | None:
    """The flag's episode as the check-ins show it now (matched by overlap, like the rules)."""
    code, symptom_id = flag.symptom.code, flag.symptom_id
    history = [
        rules.Observation(
            c.reported_at,
            tuple(
                rules.Report(code, r.severity, r.onset_at)
                for r in c.reports
                if r.symptom_id == symptom_id and r.severity > 0
            ),
        )
        for c in sorted(checkins, key=lambda c: (c.reported_at, c.id))
    ]
    return rules.episode_of_flag(code, history, flag.episode_started_at, flag.observed_at)


def _outcome(flag: Flag, reporting: Reporting) -> dict[str, Any]:
    outcome, confirmed = reporting.outcome_of(flag)
    code, display = FHIR_OUTCOMES[outcome]
    how = "confirmed by a clinician" if confirmed else "proposed from the check-ins"
    if flag.status == RESOLVED:
        by = "system" if flag.outcome in SYSTEM_OUTCOMES else "clinic"
        status = f"flag resolved by the {by}: {OUTCOMES.get(flag.outcome or '', 'no outcome')}"
    else:
        status = f"flag {flag.status}"
    return {
        "coding": [_coding(f"{TERMINOLOGY}/adverse-event-outcome", code, display)],
        "text": f"{REACTION_OUTCOMES[outcome]} ({how}); {status}",
    }


def _is_serious(flag: Flag, reporting: Reporting) -> bool:
    if reporting.saved is not None:
        return bool(reporting.saved.seriousness)
    return proposed_serious([flag])


def _adverse_event(
    flag: Flag, record: TreatmentRecord, refs: _Refs, reporting: Reporting
) -> dict[str, Any]:
    treatment = record.treatment
    episode = _episode(flag, record.checkins) if flag.symptom is not None else None
    if flag.symptom is not None:
        event = {
            "coding": [_coding(refs.system("symptom"), flag.symptom.code, flag.symptom.name)],
            "text": flag.symptom.name,
        }
    else:
        event = {"text": "No check-in for 48 hours or more (no response)"}
    seriousness = "Serious" if _is_serious(flag, reporting) else "Non-serious"
    criteria = reporting.saved.seriousness if reporting.saved is not None else []
    adverse_event: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": f"flag-{flag.id}",
        "extension": [
            {"url": refs.system("StructureDefinition/flag-reason"), "valueCode": flag.reason}
        ]
        + [
            {"url": refs.system("StructureDefinition/seriousness-criterion"), "valueCode": code}
            for code in criteria
        ],
        "identifier": {"system": refs.system("flag-id"), "value": str(flag.id)},
        "actuality": "potential" if flag.symptom is None else "actual",
        "event": event,
        "subject": {"reference": refs.url("patient", treatment.patient_id)},
        "date": _when(episode.started_at if episode else flag.episode_started_at),
        "detected": _when(flag.opened_at),
        "recordedDate": _when(flag.opened_at),
        "seriousness": {
            "coding": [
                _coding(f"{TERMINOLOGY}/adverse-event-seriousness", seriousness, seriousness)
            ]
        },
        "outcome": _outcome(flag, reporting),
        "suspectEntity": [
            {
                "instance": {
                    "reference": refs.url("medication", treatment.id),
                    "display": f"{treatment.product} batch {treatment.batch_number}",
                }
            }
        ],
    }
    worst = max((p.severity for p in episode.points), default=0) if episode else 0
    if worst:
        code = SEVERITY_CODES[worst]
        adverse_event["severity"] = {
            "coding": [_coding(f"{TERMINOLOGY}/adverse-event-severity", code, code.capitalize())]
        }
    return adverse_event


def treatment_bundle(
    record: TreatmentRecord,
    base_url: str,
    now: datetime | None = None,
    reporting: Reporting | None = None,
) -> dict:
    """The treatment's Bundle (type collection), as JSON-ready dicts."""
    refs = _Refs(base_url)
    reporting = reporting or Reporting()
    treatment = record.treatment
    entries = [
        (refs.url("patient", treatment.patient_id), _patient(treatment, refs)),
        (refs.url("procedure", treatment.id), _procedure(treatment, refs)),
        (refs.url("medication", treatment.id), _medication(treatment)),
    ]
    for checkin in sorted(record.checkins, key=lambda c: (c.reported_at, c.id)):
        entries.append(
            (refs.url("checkin", checkin.id), _questionnaire_response(checkin, treatment, refs))
        )
    for flag in sorted(record.flags, key=lambda f: (f.opened_at, f.id)):
        entries.append((refs.url("flag", flag.id), _adverse_event(flag, record, refs, reporting)))
    return {
        "resourceType": "Bundle",
        "id": f"treatment-{treatment.id}",
        "type": "collection",
        "timestamp": _when(now or utcnow()),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }


def export_treatment(treatment: Treatment, base_url: str, now: datetime | None = None) -> dict:
    """Load the treatment's check-ins, flags and regulator report and build its Bundle (the
    caller audits)."""
    reporting = Reporting(saved_report(treatment.id), proposed_outcomes(treatment))
    return treatment_bundle(treatment_record(treatment), base_url, now, reporting)
