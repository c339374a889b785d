"""The patient's language: stored on the patient (English unless the clinic or the patient says
otherwise), checked by the database, and added to existing patients by migration 0011; set and
shown by the API and the clinic's pages, and part of the patient's export and FHIR Patient."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle
from flask_migrate import downgrade, upgrade
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.api_helpers import Api, assert_error, mint_token
from tests.conftest import csrf_token
from tests.test_catalogue_cy import SCRIPTS, database_at
from tests.test_cli import DEMO_NOW, tracker
from tracker.catalogue import LANGUAGE_NAMES, LANGUAGES
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import AuditEvent, Patient
from tracker.services.governance.data_rights import erase_patient, export_record
from tracker.services.patients.patients import PatientDetails, create_patient

LANGUAGE_REVISION = "0011"
BEFORE_LANGUAGE = SCRIPTS.get_revision(LANGUAGE_REVISION).down_revision


def test_a_new_patient_reads_english(make_patient):
    patient, _ = make_patient()
    assert patient.language == "en"


def test_the_database_refuses_a_language_we_do_not_ship(make_patient):
    patient, _ = make_patient()
    patient.language = "fr"
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def insert_patient_before_languages() -> None:
    db.session.execute(
        sa.text(
            "INSERT INTO clinics (id, name, timezone, created_at)"
            " VALUES (1, 'Riverside Clinic', 'Europe/London', CURRENT_TIMESTAMP)"
        )
    )
    db.session.execute(
        sa.text(
            "INSERT INTO patients (id, clinic_id, name, email, timezone, reminder_time,"
            " reminders_enabled, created_at) VALUES (1, 1, 'Pat', 'pat@example.test',"
            " 'Europe/London', '09:00:00', TRUE, CURRENT_TIMESTAMP)"
        )
    )
    db.session.commit()


def test_the_migration_gives_existing_patients_english_and_downgrades(tmp_path):
    with database_at(tmp_path, BEFORE_LANGUAGE):
        insert_patient_before_languages()
        upgrade(revision=LANGUAGE_REVISION)
        assert db.session.execute(sa.text("SELECT language FROM patients")).scalar() == "en"
        with pytest.raises(IntegrityError):
            db.session.execute(sa.text("UPDATE patients SET language = 'xx'"))
        db.session.rollback()
        downgrade(revision=BEFORE_LANGUAGE)
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("patients")}
    assert "language" not in columns


# --- the API: adding, reading and changing a patient's language -----------------------------

NEW_PATIENT = {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"}
NOT_LANGUAGES = ["fr", "CY ", "Cy", "", 5, None, ["cy"]]


@pytest.fixture
def api(client, clinic) -> Api:
    """The Riverside nurse's token on the test client."""
    return Api(client, mint_token())


def audit_rows(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def patch(api: Api, patient_id: int, body):
    return api.open(f"/api/v1/patients/{patient_id}", "PATCH", json=body)


def test_the_api_adds_a_patient_in_welsh_and_shows_the_language(api):
    response = api.post("/api/v1/patients", NEW_PATIENT | {"language": "cy"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["language"] == "cy"
    patient = db.session.scalars(select(Patient)).one()
    assert patient.language == "cy"
    assert api.get(f"/api/v1/patients/{patient.id}").get_json()["language"] == "cy"


def test_the_api_adds_a_patient_in_english_unless_told(api):
    response = api.post("/api/v1/patients", NEW_PATIENT)
    assert response.get_json()["language"] == "en"
    assert db.session.scalars(select(Patient)).one().language == "en"


@pytest.mark.parametrize("language", NOT_LANGUAGES, ids=repr)
def test_the_api_refuses_a_language_we_do_not_ship_naming_the_field(api, language):
    response = api.post("/api/v1/patients", NEW_PATIENT | {"language": language})
    assert set(assert_error(response, 422, "invalid_fields")) == {"language"}
    assert db.session.scalar(select(Patient)) is None
    assert audit_rows("patient.create") == []


def test_patch_changes_the_language_only_and_is_audited(api, make_patient):
    patient, _ = make_patient()
    before = api.get(f"/api/v1/patients/{patient.id}").get_json()
    response = patch(api, patient.id, {"language": "cy"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == before | {"language": "cy"}
    db.session.expire_all()
    assert patient.language == "cy"
    (update,) = audit_rows("patient.update")
    assert (update.patient_id, update.target) == (patient.id, "fields:language")
    assert update.actor_type == "user"


def test_patch_changes_the_fields_sent_and_keeps_the_others(api, make_patient):
    patient, _ = make_patient()
    patient.phone = "+44 20 7946 0000"
    db.session.commit()
    body = {"name": "Pat Jones", "phone": None, "reminder_time": "07:30", "language": "cy"}
    changed = patch(api, patient.id, body).get_json()
    assert (changed["name"], changed["phone"], changed["reminder_time"]) == (
        "Pat Jones",
        None,
        "07:30",
    )
    assert (changed["email"], changed["timezone"]) == ("pat@example.com", "Europe/London")
    (update,) = audit_rows("patient.update")
    assert update.target == "fields:name,phone,reminder_time,language"
    back = patch(api, patient.id, {"language": "en"}).get_json()
    assert (back["language"], back["name"]) == ("en", "Pat Jones")


@pytest.mark.parametrize(
    "body",
    [{"language": value} for value in NOT_LANGUAGES]
    + [{"name": None}, {"email": "not an email"}, {"timezone": "Mars/Olympus"}, {"nick": "P"}],
    ids=repr,
)
def test_patch_refuses_bad_fields_naming_them_and_changes_nothing(api, make_patient, body):
    patient, _ = make_patient()
    fields = assert_error(
        patch(api, patient.id, body | {"name": body.get("name", "Pat Jones")}), 422
    )
    assert set(body) <= set(fields), fields
    db.session.expire_all()
    assert (patient.name, patient.language) == ("Pat Example", "en")
    assert audit_rows("patient.update") == []


def test_patch_cannot_reach_another_clinics_patient(api, make_patient, other_clinic):
    patient, _ = make_patient("Olga Other", clinic=other_clinic)
    assert_error(patch(api, patient.id, {"language": "cy"}), 404, "not_found")
    db.session.expire_all()
    assert patient.language == "en"


def test_patch_refuses_an_erased_patient(api, make_patient):
    patient, _ = make_patient()
    erase_patient(patient)
    db.session.commit()
    assert_error(patch(api, patient.id, {"language": "cy"}), 409, "patient_erased")
    db.session.expire_all()
    assert patient.language == "en"
    assert audit_rows("patient.update") == []


def test_the_openapi_document_describes_the_language_and_the_patch(api):
    document = api.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    operation = document["paths"]["/api/v1/patients/{patient_id}"]["patch"]
    change = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    for name in ("PatientIn", "PatientOut", change.rsplit("/", 1)[-1]):
        language = schemas[name]["properties"]["language"]
        assert schemas[language["$ref"].rsplit("/", 1)[-1]]["enum"] == list(LANGUAGES)
    assert "language" in schemas["PatientOut"]["required"]
    assert {"404", "409", "422"} <= set(operation["responses"])


# --- the clinic's pages -----------------------------------------------------------------------

NEW_PATIENT_FORM = {
    "name": "Maria Lopez",
    "email": "maria@example.com",
    "timezone": "Europe/London",
    "reminder_time": "09:00",
    "reminders_enabled": "y",
}


def submit(client, url: str, data: dict):
    """GET the form at `url`, then POST `data` to it with the page's CSRF token."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


def test_the_new_patient_form_offers_the_languages_english_first(client, nurse):
    page = client.get("/clinic/patients/new").text
    assert "Language of pages and emails" in page
    assert '<option selected value="en">English</option>' in page
    assert '<option value="cy">Cymraeg (Welsh)</option>' in page


def test_staff_add_a_welsh_speaking_patient_and_their_page_says_so(client, nurse):
    response = submit(client, "/clinic/patients/new", NEW_PATIENT_FORM | {"language": "cy"})
    assert response.status_code == 302
    patient = db.session.scalars(select(Patient)).one()
    assert patient.language == "cy"
    page = client.get(f"/clinic/patients/{patient.id}").text
    assert "<dt>Language</dt><dd>Welsh</dd>" in page


def test_a_patient_added_without_a_language_reads_english(client, nurse):
    assert submit(client, "/clinic/patients/new", NEW_PATIENT_FORM).status_code == 302
    patient = db.session.scalars(select(Patient)).one()
    assert patient.language == "en"
    assert "<dt>Language</dt><dd>English</dd>" in client.get(f"/clinic/patients/{patient.id}").text


@pytest.mark.parametrize("language", ["fr", "CY", " cy", "Welsh"])
def test_a_tampered_language_is_a_form_error_and_nothing_is_saved(client, nurse, language):
    response = submit(client, "/clinic/patients/new", NEW_PATIENT_FORM | {"language": language})
    assert response.status_code == 422
    assert "Not a valid choice" in response.text
    assert db.session.scalar(select(Patient)) is None
    assert audit_rows("patient.create") == []


def test_staff_change_a_patients_language_and_it_is_audited(client, nurse, make_patient):
    patient, _ = make_patient()
    url = f"/clinic/patients/{patient.id}/edit"
    assert '<option selected value="en">English</option>' in client.get(url).text
    details = {
        "name": patient.name,
        "email": patient.email,
        "timezone": patient.timezone,
        "reminder_time": "09:00",
        "reminders_enabled": "y",
    }
    assert submit(client, url, details | {"language": "cy"}).status_code == 302
    db.session.expire_all()
    assert patient.language == "cy"
    (update,) = audit_rows("patient.update")
    assert update.target == "fields:language"
    assert '<option selected value="cy">Cymraeg (Welsh)</option>' in client.get(url).text
    refused = submit(client, url, details | {"language": "fr"})
    assert refused.status_code == 422 and "Not a valid choice" in refused.text
    db.session.expire_all()
    assert patient.language == "cy"


def test_the_service_refuses_a_language_we_do_not_ship(clinic):
    details = PatientDetails("Pat", "pat@example.com", "Europe/London", language="fr")
    with pytest.raises(InvalidInput) as refused:
        create_patient(clinic.id, details)
    assert set(refused.value.fields) == {"language"}


# --- the patient's data: their export and the FHIR Patient ------------------------------------


def test_the_data_rights_export_holds_the_language(make_patient):
    patient, _ = make_patient()
    patient.language = "cy"
    db.session.commit()
    assert export_record(patient)["patient"]["language"] == "cy"


@pytest.mark.parametrize(("language", "name"), list(LANGUAGE_NAMES.items()))
def test_the_fhir_patient_states_their_preferred_language(api, make_patient, language, name):
    patient, treatment = make_patient()
    patient.language = language
    db.session.commit()
    bundle = api.get(f"/api/v1/treatments/{treatment.id}/fhir").get_json()
    Bundle.model_validate(bundle)
    (resource,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert resource["communication"] == [
        {
            "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}], "text": name},
            "preferred": True,
        }
    ]


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_has_one_welsh_speaking_patient_and_says_so(runner, time_machine):
    time_machine.move_to(DEMO_NOW, tick=False)
    result = tracker(runner, "demo")
    assert result.exit_code == 0, result.output
    welsh = db.session.scalars(select(Patient).where(Patient.language == "cy")).all()
    assert len(welsh) == 1
    (line,) = [line for line in result.output.splitlines() if welsh[0].name in line]
    assert "reads Welsh" in line
    assert result.output.count("reads Welsh") == 1
