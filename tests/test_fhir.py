"""The FHIR R4 export of a treatment validates with fhir.resources, for the demo data too."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from tests.api_helpers import Api, mint_token
from tests.conftest import StaffActions
from tracker.extensions import db
from tracker.models import AuditEvent, Flag, RegulatorReport, Treatment, User
from tracker.services.clinics.demo import ensure_demo
from tracker.services.flags import flag_actions
from tracker.services.patients.checkins import SymptomEntry, record_checkin
from tracker.timeutil import utcnow


@pytest.fixture
def api(client, clinic) -> Api:
    """The Riverside nurse's token on the test client."""
    return Api(client, mint_token())


# fhir.resources has no separate R4 (4.0.1) package in its 8.x line; R4B (4.3) shares R4's
# definitions of every resource used here (Patient, Procedure, Medication,
# QuestionnaireResponse, AdverseEvent), so it validates the R4 shape.


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _export(client: Api, treatment_id: int) -> dict:
    response = client.get(f"/api/v1/treatments/{treatment_id}/fhir")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    return response.get_json()


@pytest.fixture
def case(make_patient):
    """A treatment with a check-in that raised an urgent and a review flag, one resolved."""
    patient, treatment = make_patient("Pat Example", treated_at=utcnow() - timedelta(days=2))
    result = record_checkin(
        treatment,
        [
            SymptomEntry("difficulty_breathing", 3, onset_at=utcnow() - timedelta(hours=3)),
            SymptomEntry("eyelid_drooping", 2),
            SymptomEntry("bruising", 0),
        ],
        note="Feels tight in the chest.",
        reported_at=utcnow() - timedelta(hours=1),
    )
    nurse = db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))
    urgent = next(f for f in result.new_flags if f.reason == "urgent")
    flag_actions.resolve(urgent, nurse, "emergency_care")
    db.session.commit()
    return treatment


def test_the_bundle_validates_and_holds_each_part_of_the_case(api, case):
    bundle = _export(api, case.id)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    assert len(_resources(bundle, "Patient")) == 1
    (procedure,) = _resources(bundle, "Procedure")
    (medication,) = _resources(bundle, "Medication")
    assert medication["batch"]["lotNumber"] == "C1234AB5"
    assert medication["code"]["text"] == "Botox"
    urls = {e["resource"]["id"]: e["fullUrl"] for e in bundle["entry"]}
    assert procedure["usedReference"][0]["reference"] == urls[medication["id"]]
    assert procedure["subject"]["reference"] == urls[f"patient-{case.patient_id}"]
    (response,) = _resources(bundle, "QuestionnaireResponse")
    answers = {item["linkId"]: item["answer"][0] for item in response["item"]}
    assert answers["difficulty_breathing"]["valueInteger"] == 3
    assert answers["bruising"]["valueInteger"] == 0
    assert answers["note"]["valueString"] == "Feels tight in the chest."
    events = {e["event"]["coding"][0]["code"]: e for e in _resources(bundle, "AdverseEvent")}
    assert set(events) == {"difficulty_breathing", "eyelid_drooping"}
    urgent = events["difficulty_breathing"]
    assert urgent["suspectEntity"][0]["instance"]["reference"] == urls[medication["id"]]
    assert urgent["seriousness"]["coding"][0]["code"] == "Serious"
    # The flag is resolved, but the patient has not recovered: the outcome is the reaction's
    # (proposed from its one report, still at its worst), the flag's resolution in the text.
    assert urgent["outcome"]["coding"][0]["code"] == "ongoing"
    assert "Not recovered (proposed from the check-ins)" in urgent["outcome"]["text"]
    assert "Emergency care" in urgent["outcome"]["text"]
    assert urgent["severity"]["coding"][0]["code"] == "severe"
    review = events["eyelid_drooping"]
    assert review["outcome"]["coding"][0]["code"] == "ongoing"
    assert review["seriousness"]["coding"][0]["code"] == "Non-serious"


def test_the_export_is_audited(api, case):
    _export(api, case.id)
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.patient_id) == ("treatment.export.fhir", case.patient_id)


def test_every_demo_treatment_exports_a_valid_bundle(app, client):
    clinic, _ = ensure_demo()
    db.session.commit()
    staff = db.session.scalar(select(User).where(User.clinic_id == clinic.id))
    demo_api = Api(client, mint_token(staff.email))
    treatments = db.session.scalars(select(Treatment).where(Treatment.clinic_id == clinic.id))
    flags_seen = 0
    for treatment in treatments:
        bundle = _export(demo_api, treatment.id)
        Bundle.model_validate(bundle)
        flags = db.session.scalars(select(Flag).where(Flag.treatment_id == treatment.id)).all()
        assert len(_resources(bundle, "AdverseEvent")) == len(flags)
        flags_seen += len(flags)
    assert flags_seen > 0


# --- the clinician's download from the case page ---------------------------------------------


def test_a_clinician_downloads_the_same_bundle_as_the_api_gives(client, nurse, api, case):
    from_api = _export(api, case.id)

    response = client.get(f"/clinic/treatments/{case.id}/fhir")

    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].startswith(
        f'attachment; filename="case-{case.id}-'
    )
    assert response.headers["Content-Disposition"].endswith('.fhir.json"')
    downloaded = response.get_json()
    Bundle.model_validate(downloaded)
    assert {**downloaded, "timestamp": None} == {**from_api, "timestamp": None}


def test_the_clinicians_download_is_audited_as_the_signed_in_user(client, nurse, case):
    client.get(f"/clinic/treatments/{case.id}/fhir")

    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "treatment.export.fhir")
    ).all()
    nurse_id = db.session.scalar(select(User.id).where(User.email == "nurse@riverside.test"))
    assert (event.actor_type, event.actor_id) == ("user", nurse_id)
    assert (event.patient_id, event.target) == (case.patient_id, f"treatment:{case.id}")


def test_another_clinics_clinician_cannot_download_the_bundle(client, other_clinic, case):
    assert StaffActions(client).sign_in("nurse@hillside.test").status_code == 302

    response = client.get(f"/clinic/treatments/{case.id}/fhir")

    assert response.status_code == 404
    assert "Pat Example" not in response.text


def test_a_late_phone_call_that_moved_an_episode_start_counts_in_its_adverse_event(
    api, make_patient
):
    """A call from the day after treatment, recorded two days later, extends the eyelid's episode
    back to that day: the AdverseEvent starts then and carries the call's worse severity."""
    treated_at = utcnow() - timedelta(days=3)
    patient, treatment = make_patient("Pat Example", treated_at=treated_at)
    record_checkin(treatment, [SymptomEntry("eyelid_drooping", 1)], reported_at=utcnow())
    call_at = treated_at + timedelta(days=1)
    record_checkin(treatment, [SymptomEntry("eyelid_drooping", 3)], reported_at=call_at)
    db.session.commit()
    (event,) = _resources(_export(api, treatment.id), "AdverseEvent")
    assert event["event"]["coding"][0]["code"] == "eyelid_drooping"
    assert event["date"].startswith(call_at.strftime("%Y-%m-%dT%H:%M"))
    assert event["severity"]["coding"][0]["code"] == "severe"


def test_the_patient_carries_sex_and_date_of_birth(api, case):
    case.patient.sex, case.patient.date_of_birth = "female", date(1980, 4, 21)
    db.session.commit()

    bundle = _export(api, case.id)

    Bundle.model_validate(bundle)
    (patient,) = _resources(bundle, "Patient")
    assert (patient["gender"], patient["birthDate"]) == ("female", "1980-04-21")


def test_a_patient_without_them_has_neither(api, case):
    (patient,) = _resources(_export(api, case.id), "Patient")

    assert "gender" not in patient and "birthDate" not in patient


def test_the_adverse_events_carry_the_confirmed_report(api, case):
    db.session.add(
        RegulatorReport(
            clinic_id=case.clinic_id,
            treatment_id=case.id,
            seriousness=["hospitalisation", "life_threatening"],
            outcome="recovered_with_sequelae",
        )
    )
    db.session.commit()

    bundle = _export(api, case.id)

    Bundle.model_validate(bundle)
    for event in _resources(bundle, "AdverseEvent"):
        assert event["seriousness"]["coding"][0]["code"] == "Serious"
        assert event["outcome"]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
            "code": "resolvedWithSequelae",
            "display": "Resolved with Sequelae",
        }
        assert "confirmed by a clinician" in event["outcome"]["text"]
        criteria = [
            e["valueCode"]
            for e in event["extension"]
            if e["url"].endswith("/fhir/StructureDefinition/seriousness-criterion")
        ]
        assert criteria == ["hospitalisation", "life_threatening"]


def test_a_saved_report_with_no_criterion_is_non_serious(api, case):
    db.session.add(RegulatorReport(clinic_id=case.clinic_id, treatment_id=case.id))
    db.session.commit()

    events = _resources(_export(api, case.id), "AdverseEvent")

    assert {e["seriousness"]["coding"][0]["code"] for e in events} == {"Non-serious"}


def test_an_ended_reaction_is_proposed_as_resolved(api, make_patient):
    treated_at = utcnow() - timedelta(days=3)
    _, treatment = make_patient("Pat Example", treated_at=treated_at)
    record_checkin(treatment, [SymptomEntry("eyelid_drooping", 2)], reported_at=treated_at)
    record_checkin(
        treatment, [SymptomEntry("eyelid_drooping", 0)], reported_at=treated_at + timedelta(days=2)
    )
    db.session.commit()

    (event,) = _resources(_export(api, treatment.id), "AdverseEvent")

    assert event["outcome"]["coding"][0]["code"] == "resolved"
