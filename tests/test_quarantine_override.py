"""Recording a treatment from a quarantined batch asks for a reason to go ahead: on the form,
in the API and in the service, by the batch's keys however it is typed; stored and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.api_helpers import Api, assert_error, mint_token
from tests.test_treatments import NOW, new_treatments, record
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import AuditEvent, BatchQuarantine, OutboxMessage, User
from tracker.services.batches.quarantine import lift_quarantine, quarantine_batch
from tracker.services.patients.treatments import TreatmentDetails, record_treatment

BATCH = "C5555XY1"  # the batch test_treatments' form gives


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def patient(make_patient):
    patient, _ = make_patient("Nina York")
    return patient


@pytest.fixture
def quarantined(app, clinic, admin):
    row = quarantine_batch(clinic.id, "botox", BATCH, admin, "Manufacturer recall", now=NOW)
    db.session.commit()
    return row


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action)))


def test_the_form_warns_of_the_quarantine_and_keeps_what_was_typed(
    client, nurse, patient, quarantined
):
    response = record(client, patient, product=" BOTOX ", batch_number="c5555 xy1")

    assert response.status_code == 422
    assert 'id="quarantine-warning"' in response.text
    assert "Manufacturer recall" in response.text and "give a reason to go ahead" in response.text
    assert 'value="c5555 xy1"' in response.text and 'value=" BOTOX "' in response.text
    assert new_treatments(patient) == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_with_a_reason_the_treatment_is_recorded_and_the_override_audited(
    client, nurse, patient, quarantined
):
    response = record(client, patient, quarantine_reason="  Only vial left, patient consented ")

    assert response.status_code == 302
    (treatment,) = new_treatments(patient)
    assert treatment.quarantine_reason == "Only vial left, patient consented"
    assert "treatment.quarantine_override" in actions()
    assert "Only vial left" in client.get(f"/clinic/batches/botox/{BATCH}").text
    shown = client.get(response.headers["Location"]).text
    assert 'id="quarantine-reason"' in shown and f'href="/clinic/batches/botox/{BATCH}"' in shown


@pytest.mark.parametrize(("reason", "message"), [("   ", "give a reason"), ("x" * 10_000, "500")])
def test_a_blank_or_huge_reason_is_refused(client, nurse, patient, quarantined, reason, message):
    response = record(client, patient, quarantine_reason=reason)

    assert response.status_code == 422 and message in response.text
    assert new_treatments(patient) == []
    assert "treatment.quarantine_override" not in actions()


def test_a_reason_for_a_batch_not_quarantined_is_not_kept(client, nurse, patient):
    response = record(client, patient, quarantine_reason="Just in case")

    assert response.status_code == 302
    (treatment,) = new_treatments(patient)
    assert treatment.quarantine_reason is None
    assert "treatment.quarantine_override" not in actions()


def test_a_lifted_quarantine_or_another_clinics_asks_nothing(
    app, client, nurse, patient, quarantined, other_clinic, admin
):
    lift_quarantine(quarantined.clinic_id, "botox", BATCH, admin, now=NOW)
    hill_admin = User(clinic_id=other_clinic.id, email="b@h.test", name="B", password_hash="x")
    db.session.add(hill_admin)
    db.session.flush()
    quarantine_batch(other_clinic.id, "botox", BATCH, hill_admin, "Theirs", now=NOW)
    db.session.commit()

    assert record(client, patient).status_code == 302
    assert new_treatments(patient)[0].quarantine_reason is None


def test_a_batch_of_spaces_only_is_refused_on_the_form(client, nurse, patient):
    response = record(client, patient, batch_number="    ")

    assert response.status_code == 422 and "Required." in response.text
    assert new_treatments(patient) == []


def test_the_service_refuses_without_a_reason(app, patient, quarantined):
    details = TreatmentDetails(
        treated_at=NOW,
        product="botox",
        batch_number=BATCH,
        indication="cosmetic",
        units_by_area={"forehead": 10},
    )
    with pytest.raises(InvalidInput) as refused:
        record_treatment(patient, details)
    assert set(refused.value.fields) == {"quarantine_reason"}


# --- the API -----------------------------------------------------------------------------------


def api_body(**overrides) -> dict:
    body = {
        "treated_at": "2026-06-15T10:30:00+00:00",
        "product": "Botox",
        "batch_number": BATCH,
        "indication": "cosmetic",
        "areas": ["forehead"],
        "units": 10,
    }
    return body | overrides


def test_the_api_answers_422_on_quarantine_reason_without_one(app, patient, quarantined):
    api = Api(app.test_client(), mint_token())

    fields = assert_error(api.post(f"/api/v1/patients/{patient.id}/treatments", api_body()), 422)

    assert set(fields) == {"quarantine_reason"}
    assert new_treatments(patient) == []


def test_the_api_records_a_treatment_with_a_reason_and_audits_it(app, patient, quarantined):
    api = Api(app.test_client(), mint_token())

    response = api.post(
        f"/api/v1/patients/{patient.id}/treatments",
        api_body(batch_number="c5555 XY1", quarantine_reason="Consented"),
    )

    assert response.status_code == 201, response.get_json()
    assert new_treatments(patient)[0].quarantine_reason == "Consented"
    assert "treatment.quarantine_override" in actions()


@pytest.mark.parametrize(
    "body",
    [api_body(quarantine_reason="x" * 10_000), api_body(batch_number="    ")],
    ids=["10 kB reason", "batch of spaces"],
)
def test_the_api_refuses_a_huge_reason_or_a_batch_of_spaces(app, patient, quarantined, body):
    api = Api(app.test_client(), mint_token())

    assert_error(api.post(f"/api/v1/patients/{patient.id}/treatments", body), 422)

    assert new_treatments(patient) == []
    assert db.session.scalar(select(func.count()).select_from(BatchQuarantine)) == 1
