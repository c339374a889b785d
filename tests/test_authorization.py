"""Walk the URL map: every route that takes an id refuses anyone who may not see that record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import TREATED_AT, PatientActions, StaffActions, csrf_token, give_second_factor
from tests.photo_page_helpers import stored_photo
from tracker.extensions import db
from tracker.models import BatchSignal, Flag, Symptom, User
from tracker.services.clinics.clinics import create_clinic, create_user
from tracker.services.messaging.outbox import enqueue
from tracker.services.patients.checkins import SymptomEntry, record_checkin

ID_ARGUMENTS = {
    "patient_id",
    "treatment_id",
    "flag_id",
    "checkin_id",
    "symptom_id",
    "user_id",
    "message_id",
    "product",  # with "batch": a batch, by its keys
    "batch",
    "signal_id",
    "photo_id",
}


@pytest.fixture
def records(app, clinic, make_patient, time_machine):
    """One of everything in Riverside Clinic, and the ids to put in URLs."""
    time_machine.move_to(TREATED_AT + timedelta(days=1), tick=False)
    patient, treatment = make_patient("Riley Private")
    result = record_checkin(treatment, [SymptomEntry("eyelid_drooping", 2)])
    db.session.commit()
    flag = db.session.scalars(select(Flag)).one()
    owner_admin = create_user(clinic, "boss@riverside.test", "riverside-admin-pass", "admin")
    message = enqueue(
        clinic_id=clinic.id,
        patient_id=patient.id,
        kind="invite",
        to_address="riley@example.com",
        subject="Riley's invite",
        body_text="Riley Private, your link",
    )
    photo = stored_photo(result.checkin)
    message.status = "failed"  # the one kind of message with a page of its own
    signal = BatchSignal(
        clinic_id=clinic.id,
        kind="spread",
        product_key=treatment.product_key,
        batch_key=treatment.batch_key,
        product=treatment.product,
        batch_number=treatment.batch_number,
        treatment_ids=[treatment.id],
    )
    db.session.add(signal)
    db.session.commit()
    return {
        "patient_id": patient.id,
        "treatment_id": treatment.id,
        "checkin_id": result.checkin.id,
        "flag_id": flag.id,
        "symptom_id": db.session.scalar(select(Symptom.id).where(Symptom.clinic_id == clinic.id)),
        "user_id": db.session.scalar(select(User.id).where(User.email == "nurse@riverside.test")),
        "message_id": message.id,
        "product": treatment.product_key,
        "batch": treatment.batch_key,
        "signal_id": signal.id,
        "photo_id": photo.id,
        "patient": patient,
        "owner_admin": owner_admin,
    }


def id_routes(app):
    """(rule, method) for every route whose URL carries a record id."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.arguments & ID_ARGUMENTS and not rule.arguments - ID_ARGUMENTS:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((rule, method))
    return routes


# Open to anyone, or for patients (whose own pages are tested in test_patient_pages).
NOT_STAFF_ONLY = {
    "public.index",
    "static",
    "health.healthz",
    "auth.signin",
    "auth.signout",
    "api.docs",
    "api.openapi_json",
    "api.token",
}
SIGN_IN_STEPS = {"auth.enter_code", "auth.enrol"}


def staff_routes(app):
    """(rule, method) for every staff page and API route, with or without a record id."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_STAFF_ONLY | SIGN_IN_STEPS or rule.endpoint.startswith("patient."):
            continue
        if not rule.arguments - ID_ARGUMENTS:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((rule, method))
    return routes


def request(client, rule, method, ids, csrf=None):
    url = rule.build({k: ids[k] for k in rule.arguments})[1]
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": csrf} if csrf else {})


def test_there_are_routes_to_check(app):
    assert len(id_routes(app)) >= 1


def test_the_case_routes_are_among_those_walked(app):
    walked = {rule.endpoint for rule, _ in id_routes(app)}
    assert {
        "clinic.case_detail",
        "clinic.assign_case",
        "clinic.add_case_note",
        "clinic.resolve_case",
        "clinic.record_case_checkin",
        "api.assign_case",
        "api.resolve_case",
        "clinic.batch_detail",
        "clinic.quarantine_batch",
        "clinic.close_signal",
        "api.get_batch",
        "api.quarantine_batch",
        "api.close_signal",
        "clinic.photo",
        "clinic.photo_thumbnail",
        "patient.photo",
        "patient.photo_thumbnail",
        "patient.add_photos",
    } <= walked


def test_admin_of_another_clinic_gets_404_for_every_record(app, records, other_clinic):
    create_user(other_clinic, "boss@hillside.test", "hillside-admin-pass", "admin")
    db.session.commit()
    client = app.test_client()
    assert (
        StaffActions(client).sign_in("boss@hillside.test", "hillside-admin-pass").status_code == 302
    )
    token = csrf_token(client.get("/clinic/patients").text)
    for rule, method in id_routes(app):
        response = request(client, rule, method, records, token)
        # Staff have no patient session: the patient's own pages answer 401 to them; nor a
        # bearer token: the API answers 401 (test_api_walk_* below use tokens).
        expected = 401 if rule.endpoint.startswith(("patient.", "api.")) else 404
        assert response.status_code == expected, (rule.rule, method, response.status_code)
        assert "Riley" not in response.text


def test_patient_session_never_reaches_staff_records(app, records):
    client = app.test_client()
    PatientActions(client).sign_in(records["patient"])
    token = csrf_token(client.get("/checkin").text)
    for rule, method in id_routes(app):
        if rule.endpoint.startswith("patient."):
            continue  # the patient's own pages are tested in test_patient_pages
        response = request(client, rule, method, records, token)
        assert response.status_code in (302, 401, 403, 404), (rule.rule, method)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/signin")


def test_signed_out_visitor_is_sent_to_sign_in(app, records):
    client = app.test_client()
    token = csrf_token(client.get("/signin").text)
    for rule, method in id_routes(app):
        response = request(client, rule, method, records, token)
        assert response.status_code in (302, 401), (rule.rule, method, response.status_code)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/signin")
        assert "Riley" not in response.text


def test_the_owning_clinics_admin_can_open_every_page(app, records):
    """The ids above are real: the same GETs succeed for the clinic they belong to."""
    client = app.test_client()
    assert (
        StaffActions(client).sign_in("boss@riverside.test", "riverside-admin-pass").status_code
        == 302
    )
    for rule, method in id_routes(app):
        if method == "GET" and not rule.endpoint.startswith(("patient.", "api.")):
            response = request(client, rule, method, records)
            assert response.status_code in (200, 302), (rule.rule, response.status_code)


def test_api_walk_without_a_token_is_401_json_and_another_clinics_token_404(app, records):
    from tests.api_helpers import Api, mint_token

    hillside = create_clinic("Hillside Clinic")
    create_user(hillside, "boss@hillside.test", "hillside-admin-pass", "admin")
    db.session.commit()
    outsider = Api(app.test_client(), mint_token("boss@hillside.test"))
    owner = Api(app.test_client(), mint_token(records["owner_admin"].email))
    anonymous = app.test_client()
    for rule, method in id_routes(app):
        if not rule.endpoint.startswith("api."):
            continue
        url = rule.build({k: records[k] for k in rule.arguments})[1]
        response = anonymous.open(url, method=method, json={})
        assert response.status_code == 401 and response.is_json, (rule.rule, method)
        response = outsider.open(url, method, json={})
        assert response.status_code == 404 and response.is_json, (rule.rule, method)
        assert "Riley" not in response.text
        if method == "GET":
            assert owner.get(url).status_code == 200, rule.rule


@pytest.mark.parametrize("next_step", ["code", "enrolment"])
def test_a_half_signed_in_browser_reaches_nothing_but_its_next_step(app, records, next_step):
    """The password was right, the second factor not yet given (or set up): no access at all."""
    owner = records["owner_admin"]
    if next_step == "code":
        give_second_factor(owner)
    client = app.test_client()
    response = StaffActions(client).submit_password(owner.email, "riverside-admin-pass")
    step_page = response.headers["Location"]
    assert step_page == {"code": "/signin/code", "enrolment": "/account/second-factor"}[next_step]
    token = csrf_token(client.get(step_page).text)
    assert len(staff_routes(app)) > len(id_routes(app))
    for rule, method in staff_routes(app):
        response = request(client, rule, method, records, token)
        if rule.endpoint.startswith("api."):
            assert response.status_code == 401 and response.is_json, (rule.rule, method)
        else:
            assert response.status_code == 302, (rule.rule, method, response.status_code)
            # back to the step to finish (a staff page), or to sign-in (sign-in's own pages)
            assert response.headers["Location"].split("?")[0] in {step_page, "/signin"}, (
                rule.rule,
                method,
            )
        assert "Riley" not in response.text
    other_step = {"code": "/account/second-factor", "enrolment": "/signin/code"}[next_step]
    assert client.get(other_step).status_code == 302  # one half sign-in, one next step
    assert client.get(step_page).status_code == 200  # and it is still there to finish
