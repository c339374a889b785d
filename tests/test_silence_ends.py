"""A silence that ends closes itself: a no-response flag still open or acknowledged when the
patient checks in is resolved by the system ("patient checked in"), whichever interface
recorded the check-in, and the audit log says the system did it.

Sam is treated at 10:00 UTC on 2 March, says nothing for two days (the sweep opens a
no-response flag at 58 hours), and checks in at 60 hours.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.api_helpers import NURSE, Api, assert_error, mint_token
from tests.conftest import TREATED_AT, csrf_token
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import AuditEvent, Flag, User
from tracker.services.flags import flag_actions
from tracker.services.flags.flagging import sweep
from tracker.services.patients.checkins import SymptomEntry, record_checkin

SILENT_AT = TREATED_AT + timedelta(hours=58)
CHECKED_IN_AT = TREATED_AT + timedelta(hours=60)


@pytest.fixture
def silent(make_patient, time_machine):
    """Sam's treatment with its no-response flag, open, and the clock at the check-in."""
    _, treatment = make_patient("Sam Quiet")
    sweep(now=SILENT_AT)
    db.session.commit()
    time_machine.move_to(CHECKED_IN_AT, tick=False)
    return treatment


def no_response_flags(treatment) -> list[Flag]:
    db.session.expire_all()
    query = select(Flag).where(Flag.treatment_id == treatment.id, Flag.reason == "no_response")
    return list(db.session.scalars(query.order_by(Flag.id)))


def clinician() -> User:
    return db.session.scalars(select(User).where(User.email == NURSE)).one()


def assert_closed_by_the_system(flag: Flag) -> None:
    assert (flag.status, flag.outcome, flag.resolved_by_id) == (
        "resolved",
        "patient_checked_in",
        None,
    )
    assert flag.resolved_at == CHECKED_IN_AT


# --- the service, which every interface calls -------------------------------------------------


@pytest.mark.parametrize("status", ["open", "acknowledged"])
def test_a_check_in_closes_the_silence_flag_open_or_acknowledged(silent, status):
    (flag,) = no_response_flags(silent)
    if status == "acknowledged":
        flag_actions.acknowledge(flag, clinician(), now=SILENT_AT + timedelta(hours=1))
        db.session.commit()

    record_checkin(silent, [SymptomEntry("bruising", 1)], now=CHECKED_IN_AT)
    db.session.commit()

    (flag,) = no_response_flags(silent)
    assert_closed_by_the_system(flag)


def test_the_audit_log_shows_the_system_resolving_the_flag(silent):
    (flag,) = no_response_flags(silent)
    record_checkin(silent, [], now=CHECKED_IN_AT)
    db.session.commit()
    (row,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "flag.resolve"))
    assert (row.actor_type, row.actor_id, row.target, row.patient_id, row.at) == (
        "system",
        None,
        f"flag:{flag.id}",
        silent.patient_id,
        CHECKED_IN_AT,
    )


def test_a_check_in_leaves_other_flags_and_resolved_silences_alone(silent):
    (flag,) = no_response_flags(silent)
    flag_actions.resolve(flag, clinician(), "reassured", now=SILENT_AT + timedelta(hours=1))
    review = builders.flag(silent, "review", "eyelid_drooping", opened_at=SILENT_AT)
    db.session.commit()
    record_checkin(silent, [], now=CHECKED_IN_AT)
    db.session.commit()
    db.session.refresh(review)
    assert review.status == "open"
    (flag,) = no_response_flags(silent)
    assert (flag.outcome, flag.resolved_by_id) == ("reassured", clinician().id)


def test_a_later_silence_raises_a_new_no_response_flag(silent):
    record_checkin(silent, [], now=CHECKED_IN_AT)
    db.session.commit()
    assert sweep(now=CHECKED_IN_AT + timedelta(hours=48, minutes=1)).flags_opened == 1
    first, second = no_response_flags(silent)
    assert (first.status, second.status) == ("resolved", "open")
    assert second.episode_started_at == CHECKED_IN_AT


# --- each interface -------------------------------------------------------------------------------


def test_the_patients_own_check_in_closes_the_silence(silent, client, patient_actions):
    patient_actions.sign_in(silent.patient)
    response = patient_actions.submit_checkin({"bruising": "1"})
    assert response.status_code in (200, 302), response.text
    (flag,) = no_response_flags(silent)
    assert_closed_by_the_system(flag)


def flag_action(client, flag: Flag, action: str, data: dict):
    token = csrf_token(client.get(f"/clinic/flags/{flag.id}").text)
    return client.post(f"/clinic/flags/{flag.id}/{action}", data={"csrf_token": token, **data})


def test_a_phone_check_in_closes_the_silence_and_the_page_says_so(silent, client, nurse):
    (flag,) = no_response_flags(silent)
    data = {"reported_at": "2026-03-04T21:30", "severity_bruising": "1"}  # London is on UTC
    assert flag_action(client, flag, "checkin", data).status_code == 302
    (flag,) = no_response_flags(silent)
    assert_closed_by_the_system(flag)
    page = client.get(f"/clinic/flags/{flag.id}").text
    assert "Resolved: Patient checked in" in page
    assert "by the system" in page
    assert "patient_checked_in" not in page.split('id="flag-status"')[0]
    assert "patient_checked_in" in client.get("/clinic/flags.csv?status=all").text


@pytest.fixture
def api(app, clinic):
    return Api(app.test_client(), mint_token(NURSE))


def test_an_api_check_in_closes_the_silence_and_the_exports_say_so(silent, api):
    body = {"reported_at": CHECKED_IN_AT.isoformat(), "symptoms": []}
    response = api.post(f"/api/v1/treatments/{silent.id}/checkins", json=body)
    assert response.status_code == 201, response.get_json()
    (flag,) = no_response_flags(silent)
    assert_closed_by_the_system(flag)
    (listed,) = api.get("/api/v1/flags?status=resolved").get_json()["flags"]
    assert listed["outcome"] == "patient_checked_in"
    bundle = api.get(f"/api/v1/treatments/{silent.id}/fhir").get_json()
    (event,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "AdverseEvent"
    ]
    # The outcome is the patient's (proposed from the check-ins until confirmed), the flag's
    # resolution beside it.
    assert event["outcome"]["text"] == (
        "Unknown (proposed from the check-ins); flag resolved by the system: Patient checked in"
    )


# --- the outcome is the system's, never a clinician's ---------------------------------------


def test_the_resolve_form_refuses_patient_checked_in(silent, client, nurse):
    (flag,) = no_response_flags(silent)
    page = client.get(f"/clinic/flags/{flag.id}").text
    assert 'value="patient_checked_in"' not in page
    response = flag_action(client, flag, "resolve", {"outcome": "patient_checked_in"})
    assert response.status_code == 422
    assert no_response_flags(silent)[0].status == "open"


def test_the_api_refuses_patient_checked_in(silent, api):
    (flag,) = no_response_flags(silent)
    response = api.post(f"/api/v1/flags/{flag.id}/resolve", json={"outcome": "patient_checked_in"})
    assert_error(response, 422)
    assert no_response_flags(silent)[0].status == "open"


def test_the_service_refuses_patient_checked_in_from_a_clinician(silent):
    (flag,) = no_response_flags(silent)
    with pytest.raises(InvalidInput):
        flag_actions.resolve(flag, clinician(), "patient_checked_in")


def test_a_check_in_entered_late_for_before_the_silence_leaves_it_open(make_patient):
    _, treatment = make_patient("Sam Quiet")
    record_checkin(treatment, [], now=TREATED_AT + timedelta(hours=30))
    sweep(now=TREATED_AT + timedelta(hours=79))
    db.session.commit()
    record_checkin(
        treatment,
        [],
        reported_at=TREATED_AT + timedelta(hours=20),
        source="clinician",
        now=TREATED_AT + timedelta(hours=80),
    )
    db.session.commit()
    (flag,) = no_response_flags(treatment)
    assert (flag.status, flag.episode_started_at) == ("open", TREATED_AT + timedelta(hours=30))
