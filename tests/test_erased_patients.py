"""Erased patients are read-only everywhere: no check-in, treatment or flag is added to their
record by a page, the API, the command line or a job, while their existing flags can be closed.

Erin is treated, reports a drooping eyelid half an hour later (a review flag, still open), and
her contact data is erased an hour after the treatment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.api_helpers import NURSE, Api, assert_error, mint_token
from tests.conftest import TREATED_AT, csrf_token
from tracker.extensions import db
from tracker.models import CheckIn, Flag, OutboxMessage, PatientLink, Treatment
from tracker.services.flags.flagging import sweep
from tracker.services.governance.data_rights import erase_patient
from tracker.services.messaging.digest import send_due_digests
from tracker.services.messaging.reminders import send_due_reminders
from tracker.services.patients.checkins import SymptomEntry, record_checkin
from tracker.services.patients.erased import PatientErased
from tracker.services.patients.links import issue_link
from tracker.services.patients.patients import PatientDetails, update_patient
from tracker.services.patients.treatments import TreatmentDetails, record_treatment, resend_invite

NOW = TREATED_AT + timedelta(days=1)
ERASED_AT = TREATED_AT + timedelta(hours=1)
REFUSAL = "contact data was erased"


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def erased(app, clinic, make_patient):
    """Erin's treatment, with its open review flag, after her contact data was erased."""
    patient, treatment = make_patient("Erin Gone")
    builders.checkin(treatment, TREATED_AT + timedelta(minutes=30), {"eyelid_drooping": 1})
    erase_patient(patient, now=ERASED_AT)
    db.session.commit()
    return treatment


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def review_flag(treatment: Treatment) -> Flag:
    return db.session.scalars(select(Flag).where(Flag.treatment_id == treatment.id)).one()


# --- the services, which every interface calls ------------------------------------------------

WRITES = {
    "check-in": lambda t: record_checkin(t, [SymptomEntry("bruising", 4)], reported_at=NOW),
    "treatment": lambda t: record_treatment(
        t.patient, TreatmentDetails(NOW, "Botox", "C1", "cosmetic", {"forehead": 10})
    ),
    "invite": lambda t: resend_invite(t.patient),
    "details": lambda t: update_patient(
        t.patient, PatientDetails("Erin Back", "erin@example.com", "Europe/London")
    ),
    "link": lambda t: issue_link(t.patient),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_every_service_refuses_to_add_to_an_erased_patients_record(erased, write):
    with pytest.raises(PatientErased, match=REFUSAL):
        write(erased)
    db.session.rollback()
    assert (count(Treatment), count(CheckIn), count(Flag), count(OutboxMessage)) == (1, 1, 1, 0)
    assert count(PatientLink, PatientLink.revoked_at.is_(None)) == 0
    assert erased.patient.name == f"Erased patient #{erased.patient_id}"


# --- the API -------------------------------------------------------------------------------------


@pytest.fixture
def api(app, clinic):
    return Api(app.test_client(), mint_token(NURSE))


def test_the_api_refuses_a_check_in_for_an_erased_patient(api, erased):
    body = {"reported_at": NOW.isoformat(), "symptoms": [{"code": "bruising", "severity": 4}]}
    response = api.post(f"/api/v1/treatments/{erased.id}/checkins", json=body)
    assert_error(response, 409, "patient_erased")
    assert REFUSAL in response.get_json()["error"]["message"]
    assert count(CheckIn) == 1
    assert count(Flag) == 1


def test_the_api_refuses_a_treatment_for_an_erased_patient(api, erased):
    body = {
        "treated_at": NOW.isoformat(),
        "product": "Botox",
        "batch_number": "C1",
        "indication": "cosmetic",
        "areas": ["forehead"],
        "units": 10,
    }
    response = api.post(f"/api/v1/patients/{erased.patient_id}/treatments", json=body)
    assert_error(response, 409, "patient_erased")
    assert count(Treatment) == 1


def test_the_api_still_resolves_an_erased_patients_open_flag(api, erased):
    flag = review_flag(erased)
    assert api.post(f"/api/v1/flags/{flag.id}/acknowledge").status_code == 200
    response = api.post(f"/api/v1/flags/{flag.id}/resolve", json={"outcome": "reassured"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "resolved"


# --- the clinic's pages ------------------------------------------------------------------------


def flag_action(client, flag: Flag, action: str, data: dict):
    token = csrf_token(client.get(f"/clinic/flags/{flag.id}").text)
    return client.post(f"/clinic/flags/{flag.id}/{action}", data={"csrf_token": token, **data})


def test_the_phone_check_in_form_is_refused_for_an_erased_patient(client, nurse, erased):
    flag = review_flag(erased)
    page = client.get(f"/clinic/flags/{flag.id}").text
    assert "Record a phone follow-up" not in page  # no form to fill in for nothing
    reported = datetime(2026, 3, 3, 9, 0)  # clinic time (London, on UTC in March)
    data = {"reported_at": reported.strftime("%Y-%m-%dT%H:%M"), "severity_bruising": "4"}
    response = flag_action(client, flag, "checkin", data)
    assert response.status_code == 409
    assert REFUSAL in response.text
    assert count(CheckIn) == 1
    assert count(Flag) == 1


def test_an_erased_patients_open_flag_can_still_be_acknowledged_and_resolved(client, nurse, erased):
    flag = review_flag(erased)
    assert flag_action(client, flag, "acknowledge", {}).status_code == 302
    response = flag_action(client, flag, "resolve", {"outcome": "reassured"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (flag.status, flag.outcome) == ("resolved", "reassured")


# --- the command line --------------------------------------------------------------------------


def test_patient_link_for_an_erased_patient_is_refused_clearly(runner, erased):
    result = runner.invoke(args=["tracker", "patient-link", str(erased.patient_id)])
    db.session.rollback()
    assert result.exit_code == 1, result.output
    assert REFUSAL in result.output
    assert "Traceback" not in result.output
    assert count(PatientLink, PatientLink.revoked_at.is_(None)) == 0


# --- the jobs ----------------------------------------------------------------------------------


def test_the_sweep_opens_no_flag_for_an_erased_patient(make_patient, erased):
    _, followed = make_patient("Olive Other")  # treated at the same time and silent too
    result = sweep(TREATED_AT + timedelta(hours=60))
    db.session.commit()
    assert result.flags_opened == 1
    assert count(Flag, Flag.treatment_id == erased.id) == 1  # only the review flag from before
    assert count(Flag, Flag.treatment_id == followed.id, Flag.reason == "no_response") == 1


@pytest.mark.parametrize(
    ("day", "kind"),
    [pytest.param(1, "reminder", id="day-1"), pytest.param(14, "review", id="day-14")],
)
def test_an_erased_patient_is_reminded_of_nothing(make_patient, erased, day, kind):
    other, _ = make_patient("Olive Other")
    erased.patient.reminders_enabled = True  # erasure alone keeps them out, whatever the setting
    db.session.commit()
    send_due_reminders(TREATED_AT + timedelta(days=day))
    db.session.commit()
    queued = db.session.scalars(select(OutboxMessage.patient_id).where(OutboxMessage.kind == kind))
    assert list(queued) == [other.id]


def test_the_digest_leaves_out_flags_opened_after_the_erasure(admin, make_patient, erased):
    _, followed = make_patient("Olive Other")
    opened = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    builders.flag(erased, "no_response", opened_at=opened)  # as the sweep used to open them
    builders.flag(followed, "no_response", opened_at=opened)
    db.session.commit()
    result = send_due_digests(datetime(2026, 3, 5, 7, 0, tzinfo=UTC))
    db.session.commit()
    assert (result.digests, result.flags) == (1, 1)
    (message,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest"))
    body = message.body_text + message.body_html
    assert f"/clinic/cases/{followed.id}" in body
    assert f"/clinic/cases/{erased.id}" not in body


def test_the_digest_still_lists_a_flag_opened_before_the_erasure(admin, erased):
    result = send_due_digests(datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    db.session.commit()
    assert (result.digests, result.flags) == (1, 1)
