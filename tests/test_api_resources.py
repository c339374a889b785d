"""The API's resources: catalogue, patients, treatments, check-ins and flags, scoped by clinic."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.api_helpers import OTHER_NURSE, Api, assert_error, mint_token
from tests.conftest import TREATED_AT
from tracker.catalogue_cy import WELSH
from tracker.extensions import db
from tracker.models import AuditEvent, CheckIn, Flag, OutboxMessage, Patient, Treatment
from tracker.services.patients.checkins import SymptomEntry, record_checkin
from tracker.timeutil import utcnow

NEW_PATIENT = {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"}


@pytest.fixture
def api(client, clinic) -> Api:
    """The Riverside nurse's token on the test client."""
    return Api(client, mint_token())


@pytest.fixture
def other_api(app, other_clinic) -> Api:
    """A Hillside nurse's token, on a client of its own."""
    return Api(app.test_client(), mint_token(OTHER_NURSE))


def new_treatment(**overrides):
    body = {
        "treated_at": (utcnow() - timedelta(days=1)).isoformat(),
        "product": "Botox",
        "batch_number": "C1234AB5",
        "indication": "cosmetic",
        "areas": ["forehead", "frown lines"],
        "units": 30,
        "units_by_area": {"forehead": 10, "frown lines": 20},
    }
    return {**body, **overrides}


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def treated(make_patient):
    """Riverside's patient with a treatment a day ago (within the follow-up)."""
    return make_patient("Pat Example", treated_at=utcnow() - timedelta(days=1))


# --- catalogue -------------------------------------------------------------------------------


def test_symptoms_lists_the_clinics_catalogue(api):
    response = api.get("/api/v1/symptoms")
    assert response.status_code == 200
    symptoms = response.get_json()["symptoms"]
    bruising = next(s for s in symptoms if s["code"] == "bruising")
    assert set(bruising) == {
        "code",
        "name",
        "action",
        "area",
        "expected_hours",
        "expected_text",
        "advice",
        "translations",
    }
    assert bruising["action"] == "expected" and bruising["expected_hours"] == 72
    assert bruising["area"] == "sites"
    assert bruising["translations"] == {
        "cy": {
            "name": "Cleisio",
            "expected_text": "Mae cleisio fel arfer yn pylu o fewn ychydig ddyddiau.",
            "advice": WELSH["bruising"][2],
        }
    }
    urgent = next(s for s in symptoms if s["code"] == "difficulty_breathing")
    assert urgent["expected_hours"] is None


def test_symptoms_leave_out_a_translation_that_may_be_out_of_date(api, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    bruising.translations["cy"].outdated = True
    db.session.commit()
    symptoms = api.get("/api/v1/symptoms").get_json()["symptoms"]
    listed = next(s for s in symptoms if s["code"] == "bruising")
    assert listed["translations"] == {}
    headache = next(s for s in symptoms if s["code"] == "headache")
    assert headache["translations"]["cy"]["name"] == "Cur pen"


# --- patients --------------------------------------------------------------------------------


def test_adding_a_patient_answers_201_with_its_id_and_is_audited(api):
    response = api.post("/api/v1/patients", NEW_PATIENT | {"reminder_time": "07:30"})
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/patients/{body['id']}")
    patient = db.session.get(Patient, body["id"])
    assert patient.name == "Ada Lovelace" and patient.reminder_time.strftime("%H:%M") == "07:30"
    assert body["reminder_time"] == "07:30" and body["treatments"] == []
    assert audit_actions() == ["patient.create"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not an email"}, "email"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"phone": "call me maybe"}, "phone"),
        ({"reminder_time": "9am"}, "reminder_time"),
        ({"reminder_time": "24:00"}, "reminder_time"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
        ({"nickname": "Ada"}, "nickname"),
    ],
)
def test_an_invalid_patient_is_422_naming_the_field_and_stores_nothing(api, change, field):
    fields = assert_error(api.post("/api/v1/patients", NEW_PATIENT | change), 422)
    assert field in fields
    assert db.session.scalar(select(Patient)) is None


def test_reading_a_patient_shows_their_treatments(api, treated):
    patient, treatment = treated
    body = api.get(f"/api/v1/patients/{patient.id}").get_json()
    assert body["id"] == patient.id and body["email"] == patient.email
    assert [t["id"] for t in body["treatments"]] == [treatment.id]
    assert audit_actions() == ["patient.view"]


# --- treatments ------------------------------------------------------------------------------


def test_recording_a_treatment_queues_the_invite(api, treated):
    patient, _ = treated
    response = api.post(f"/api/v1/patients/{patient.id}/treatments", new_treatment())
    assert response.status_code == 201
    body = response.get_json()
    assert body["invite_queued"] is True
    assert body["units"] == 30 and body["units_by_area"] == {"forehead": 10, "frown lines": 20}
    assert body["practitioner"]["name"]
    treatment = db.session.get(Treatment, body["id"])
    assert treatment.batch_number == "C1234AB5"
    invites = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invite"))
    assert [m.patient_id for m in invites] == [patient.id]
    assert audit_actions() == ["treatment.create"]
    assert api.get(f"/api/v1/treatments/{treatment.id}").get_json() == {
        k: v for k, v in body.items() if k != "invite_queued"
    }


def test_a_total_without_units_per_area_keeps_the_areas_and_the_total(api, treated):
    patient, _ = treated
    body = new_treatment(units=24)
    del body["units_by_area"]
    created = api.post(f"/api/v1/patients/{patient.id}/treatments", body).get_json()
    assert created["areas"] == ["forehead", "frown lines"]
    assert created["units"] == 24 and created["units_by_area"] == {}
    single = new_treatment(areas=["underarms"], units=100, indication="sweating")
    del single["units_by_area"]
    created = api.post(f"/api/v1/patients/{patient.id}/treatments", single).get_json()
    assert created["units_by_area"] == {"underarms": 100}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"treated_at": "2026-03-02T10:00:00"}, "treated_at"),  # no offset
        ({"treated_at": "yesterday"}, "treated_at"),
        ({"treated_at": 1767225600}, "treated_at"),
        ({"indication": "vanity"}, "indication"),
        ({"areas": []}, "areas"),
        ({"areas": ["forehead", "forehead"], "units_by_area": None}, "areas"),
        ({"units": "30"}, "units"),
        ({"units": 0}, "units"),
        ({"units": 31}, "units"),  # per-area units add up to 30
        ({"units_by_area": {"forehead": 30}}, "units_by_area"),
        ({"units_by_area": {"forehead": 10, "frown lines": -20}}, "units_by_area.frown lines"),
        ({"product": " "}, "product"),
        ({"batch_number": "x" * 61}, "batch_number"),
        ({"practitioner_id": 1}, "practitioner_id"),
    ],
)
def test_an_invalid_treatment_is_422_and_stores_nothing(api, treated, change, field):
    patient, _ = treated
    body = {k: v for k, v in (new_treatment() | change).items() if v is not None}
    fields = assert_error(api.post(f"/api/v1/patients/{patient.id}/treatments", body), 422)
    assert field in fields, fields
    assert db.session.scalars(select(Treatment)).all() == [treated[1]]


def test_a_treatment_in_the_future_is_refused(api, treated):
    patient, _ = treated
    later = (utcnow() + timedelta(hours=1)).isoformat()
    fields = assert_error(
        api.post(f"/api/v1/patients/{patient.id}/treatments", new_treatment(treated_at=later)),
        422,
    )
    assert fields == {"treated_at": "A treatment cannot be in the future."}


def test_any_offset_is_accepted_and_stored_in_utc(api, treated):
    patient, _ = treated
    local = (utcnow() - timedelta(days=1)).replace(microsecond=0)
    body = new_treatment(treated_at=local.astimezone().isoformat().replace("+00:00", "+00:00"))
    body["treated_at"] = (local + timedelta(hours=2)).isoformat().replace("+00:00", "+02:00")
    created = api.post(f"/api/v1/patients/{patient.id}/treatments", body).get_json()
    assert created["treated_at"] == local.isoformat().replace("+00:00", "Z")


# --- check-ins -------------------------------------------------------------------------------


def test_a_check_in_raises_the_same_flags_and_audit_as_the_web(api, treated):
    patient, treatment = treated
    response = api.post(
        f"/api/v1/treatments/{treatment.id}/checkins",
        {"symptoms": [{"code": "difficulty_breathing", "severity": 2}], "note": "Phoned."},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert [(f["symptom"], f["reason"]) for f in body["new_flags"]] == [
        ("difficulty_breathing", "urgent")
    ]
    checkin = db.session.get(CheckIn, body["id"])
    assert checkin.source == "clinician" and checkin.recorded_by.email == "nurse@riverside.test"
    assert checkin.note == "Phoned."
    assert db.session.scalars(select(Flag.reason)).all() == ["urgent"]
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.patient_id, event.target) == (
        "checkin.create",
        patient.id,
        f"checkin:{checkin.id}",
    )


def test_a_check_in_with_onset_and_time_is_stored_in_utc(api, treated):
    _, treatment = treated
    reported = (utcnow() - timedelta(hours=2)).replace(microsecond=0)
    onset = reported - timedelta(hours=3)
    body = {
        "reported_at": reported.astimezone().isoformat(),
        "symptoms": [{"code": "bruising", "severity": 1, "onset": onset.isoformat()}],
    }
    created = api.post(f"/api/v1/treatments/{treatment.id}/checkins", body).get_json()
    assert created["reported_at"] == reported.isoformat().replace("+00:00", "Z")
    assert created["symptoms"] == [
        {"code": "bruising", "severity": 1, "onset": onset.isoformat().replace("+00:00", "Z")}
    ]
    assert created["new_flags"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symptoms": [{"code": "bruising", "severity": 5}]}, "symptoms.0.severity"),
        ({"symptoms": [{"code": "bruising", "severity": 1.5}]}, "symptoms.0.severity"),
        ({"symptoms": [{"code": "bruising", "severity": "2"}]}, "symptoms.0.severity"),
        ({"symptoms": [{"code": "hiccups", "severity": 1}]}, "symptoms.0"),
        (
            {
                "symptoms": [
                    {"code": "bruising", "severity": 1},
                    {"code": "bruising", "severity": 2},
                ]
            },
            "symptoms.1",
        ),
        (
            {"symptoms": [{"code": "bruising", "severity": 1, "colour": "blue"}]},
            "symptoms.0.colour",
        ),
        ({"symptoms": [], "reported_at": "2026-03-03T09:00:00"}, "reported_at"),
        ({"symptoms": [], "reported_at": "2999-01-01T09:00:00+00:00"}, "reported_at"),
        ({"symptoms": [], "reported_at": "2000-01-01T09:00:00+00:00"}, "reported_at"),
        ({"symptoms": [], "note": "x" * 2001}, "note"),
        ({"note": "no symptoms key"}, "symptoms"),
        (
            {"symptoms": [{"code": "bruising", "severity": 1, "onset": "2999-01-01T00:00:00Z"}]},
            "symptoms.0.onset",
        ),
    ],
)
def test_an_invalid_check_in_is_422_and_stores_nothing(api, treated, body, field):
    _, treatment = treated
    fields = assert_error(api.post(f"/api/v1/treatments/{treatment.id}/checkins", body), 422)
    assert field in fields, fields
    assert db.session.scalar(select(CheckIn)) is None


def test_a_patients_check_ins_are_listed_oldest_first_in_pages(api, treated):
    patient, treatment = treated
    start = treatment.treated_at
    for hours in (20, 6, 12):
        record_checkin(
            treatment, [SymptomEntry("headache", 1)], reported_at=start + timedelta(hours=hours)
        )
    db.session.commit()
    url = f"/api/v1/patients/{patient.id}/checkins"
    first = api.get(url, query_string={"limit": 2}).get_json()
    assert [c["reported_at"] for c in first["checkins"]] == sorted(
        c["reported_at"] for c in first["checkins"]
    )
    assert len(first["checkins"]) == 2 and first["next_cursor"]
    second = api.get(url, query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    assert len(second["checkins"]) == 1 and second["next_cursor"] is None
    assert second["checkins"][0]["symptoms"] == [{"code": "headache", "severity": 1, "onset": None}]
    assert audit_actions() == ["patient.checkins.list"] * 2


@pytest.mark.parametrize(
    "query",
    [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "bogus!"}, {"sort": "name"}],
)
def test_bad_paging_parameters_are_422(api, treated, query):
    patient, _ = treated
    assert_error(api.get(f"/api/v1/patients/{patient.id}/checkins", query_string=query), 422)


# --- flags -----------------------------------------------------------------------------------


@pytest.fixture
def flagged(treated):
    """Two open flags on the treatment: urgent and review."""
    _, treatment = treated
    record_checkin(
        treatment,
        [SymptomEntry("difficulty_swallowing", 1), SymptomEntry("eyelid_drooping", 2)],
        reported_at=utcnow() - timedelta(hours=1),
    )
    db.session.commit()
    return treatment, db.session.scalars(select(Flag).order_by(Flag.id)).all()


def test_flags_are_listed_with_the_contract_fields(api, flagged):
    treatment, flags = flagged
    body = api.get("/api/v1/flags", query_string={"status": "open"}).get_json()
    assert body["next_cursor"] is None
    listed = body["flags"]
    assert {f["id"] for f in listed} == {f.id for f in flags}
    first = listed[0]
    assert {"id", "treatment_id", "patient_id", "symptom", "reason", "status", "opened_at"} <= set(
        first
    )
    assert first["treatment_id"] == treatment.id and first["patient_id"] == treatment.patient_id
    assert audit_actions() == ["flags.list"]


def test_flags_filter_by_reason_status_and_treatment_and_page(api, flagged, make_patient):
    treatment, flags = flagged
    reasons = api.get("/api/v1/flags", query_string={"reason": "review"}).get_json()["flags"]
    assert [f["symptom"] for f in reasons] == ["eyelid_drooping"]
    assert api.get("/api/v1/flags?status=resolved").get_json()["flags"] == []
    _, other_treatment = make_patient("Other Person")
    none = api.get(f"/api/v1/flags?treatment_id={other_treatment.id}").get_json()["flags"]
    assert none == []
    mine = api.get(f"/api/v1/flags?treatment_id={treatment.id}&status=all").get_json()["flags"]
    assert len(mine) == 2
    page = api.get("/api/v1/flags?limit=1").get_json()
    rest = api.get(f"/api/v1/flags?limit=1&cursor={page['next_cursor']}").get_json()
    assert [f["id"] for f in page["flags"] + rest["flags"]] == [f.id for f in flags]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    "query",
    [
        "status=closed",
        "reason=itchy",
        "treatment_id=abc",
        "treatment_id=0",
        "treatment_id=9999999999",
        "x=1",
    ],
)
def test_bad_flag_filters_are_422(api, flagged, query):
    assert_error(api.get(f"/api/v1/flags?{query}"), 422)


def test_acknowledge_then_resolve_a_flag(api, flagged):
    _, flags = flagged
    flag = flags[0]
    acknowledged = api.post(f"/api/v1/flags/{flag.id}/acknowledge")
    assert acknowledged.status_code == 200
    assert acknowledged.get_json()["status"] == "acknowledged"
    assert_error(api.post(f"/api/v1/flags/{flag.id}/acknowledge", {}), 409, "conflict")
    resolved = api.post(
        f"/api/v1/flags/{flag.id}/resolve", {"outcome": "emergency_care", "note": "Sent to A&E."}
    )
    assert resolved.status_code == 200
    body = resolved.get_json()
    assert body["status"] == "resolved" and body["outcome"] == "emergency_care"
    db.session.refresh(flag)
    assert flag.resolved_by.email == "nurse@riverside.test"
    assert [n.body for n in flag.notes] == ["Sent to A&E."]
    assert_error(api.post(f"/api/v1/flags/{flag.id}/resolve", {"outcome": "reassured"}), 409)
    assert audit_actions() == ["flag.acknowledge", "flag.resolve"]


@pytest.mark.parametrize(
    "body",
    [{}, {"outcome": "cured"}, {"outcome": "reassured", "note": "x" * 2001}, {"outcome": 1}],
)
def test_an_invalid_resolution_is_422(api, flagged, body):
    _, flags = flagged
    assert_error(api.post(f"/api/v1/flags/{flags[0].id}/resolve", body), 422)
    db.session.refresh(flags[0])
    assert flags[0].status == "open"


def test_acknowledge_takes_no_fields(api, flagged):
    _, flags = flagged
    fields = assert_error(api.post(f"/api/v1/flags/{flags[0].id}/acknowledge", {"by": 1}), 422)
    assert fields == {"by": "Unknown field."}


# --- another clinic's records ----------------------------------------------------------------


def test_another_clinics_ids_are_404_and_change_nothing(other_api, flagged):
    treatment, flags = flagged
    patient_id, flag_id = treatment.patient_id, flags[0].id
    calls = [
        ("GET", f"/api/v1/patients/{patient_id}", None),
        ("GET", f"/api/v1/patients/{patient_id}/checkins", None),
        ("POST", f"/api/v1/patients/{patient_id}/treatments", new_treatment()),
        ("GET", f"/api/v1/treatments/{treatment.id}", None),
        ("GET", f"/api/v1/treatments/{treatment.id}/fhir", None),
        ("POST", f"/api/v1/treatments/{treatment.id}/checkins", {"symptoms": []}),
        ("POST", f"/api/v1/flags/{flag_id}/acknowledge", None),
        ("POST", f"/api/v1/flags/{flag_id}/resolve", {"outcome": "reassured"}),
    ]
    for method, url, body in calls:
        response = other_api.open(url, method, json=body)
        assert_error(response, 404, "not_found")
        assert "Pat" not in response.get_data(as_text=True)
    listed = other_api.get(f"/api/v1/flags?treatment_id={treatment.id}&status=all")
    assert listed.get_json()["flags"] == []
    assert db.session.scalars(select(Flag.status)).all() == ["open", "open"]
    assert db.session.scalar(select(CheckIn.id).where(CheckIn.source == "clinician")) is None


@pytest.mark.parametrize("object_id", [999999, 2**31, 2**63, 2**70])
def test_ids_that_do_not_exist_are_404(api, object_id):
    assert_error(api.get(f"/api/v1/patients/{object_id}"), 404)
    assert_error(api.get(f"/api/v1/treatments/{object_id}/fhir"), 404)


def test_a_treatment_before_march_stays_readable(api, make_patient):
    """A treatment long past its follow-up is still a record the clinic can read."""
    _, treatment = make_patient("Old Patient", treated_at=TREATED_AT)
    assert api.get(f"/api/v1/treatments/{treatment.id}").status_code == 200
