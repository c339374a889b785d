"""The patient's own language switch: the button in the navigation of every signed-in page."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent, Patient

SWITCH = re.compile(r'<button type="submit" name="language" value="(\w+)" lang="\w+"')


def switch(client, page_path: str, language: str, **fields):
    """Press the language button on `page_path`, as the browser would send it."""
    page = client.get(page_path)
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), "back": page_path, "language": language}
    return client.post("/patient/language", data={**data, **fields})


def language_changes(patient: Patient) -> list[AuditEvent]:
    return (
        db.session.query(AuditEvent)
        .filter_by(patient_id=patient.id, action="patient.language.change")
        .all()
    )


@pytest.fixture
def signed_in(make_patient, patient_actions):
    patient, _ = make_patient()
    assert patient_actions.sign_in(patient).status_code == 302
    return patient


def test_every_signed_in_page_offers_the_other_language_in_its_own_name(signed_in, client):
    for path in ("/checkin", "/timeline", "/reminders"):
        page = client.get(path).text
        assert SWITCH.findall(page) == ["cy"], path
        assert 'lang="cy" class="link">Cymraeg</button>' in page
        assert f'name="back" type="hidden" value="{path}"' in page


def test_switching_shows_the_same_page_in_welsh_and_audits_it(signed_in, client):
    response = switch(client, "/timeline", "cy")
    assert response.status_code == 302 and response.headers["Location"] == "/timeline"
    db.session.refresh(signed_in)
    assert signed_in.language == "cy"
    [event] = language_changes(signed_in)
    assert event.actor_type == "patient" and event.target == f"patient:{signed_in.id}"
    page = client.get("/timeline").text
    assert '<html lang="cy">' in page and SWITCH.findall(page) == ["en"]
    assert 'lang="en" class="link">English</button>' in page

    assert switch(client, "/timeline", "en").status_code == 302
    db.session.refresh(signed_in)
    assert signed_in.language == "en" and len(language_changes(signed_in)) == 2


def test_choosing_the_language_already_shown_changes_and_audits_nothing(signed_in, client):
    assert switch(client, "/checkin", "en").status_code == 302
    assert language_changes(signed_in) == []


@pytest.mark.parametrize("language", ["fr", "", "CY", "cy-GB"])
def test_a_language_we_do_not_ship_is_refused_and_changes_nothing(signed_in, client, language):
    assert switch(client, "/checkin", language).status_code == 422
    db.session.refresh(signed_in)
    assert signed_in.language == "en" and language_changes(signed_in) == []


@pytest.mark.parametrize(
    "back",
    [
        "https://elsewhere.example/checkin",
        "//elsewhere.example/checkin",
        "/\\elsewhere.example",
        "/signin",  # on this site, but not a patient page to go back to
        "/p/some-token",
        "/no/such/page",
        "checkin",
        "",
    ],
)
def test_the_switch_goes_back_only_to_a_patient_page(signed_in, client, back):
    response = switch(client, "/checkin", "cy", back=back)
    assert response.status_code == 302 and response.headers["Location"] == "/checkin"


def test_the_switch_goes_back_to_the_answer_page_it_was_pressed_on(signed_in, patient_actions):
    answer = patient_actions.submit_checkin({})
    assert answer.status_code == 302
    path = answer.headers["Location"]
    response = switch(patient_actions.client, path, "cy")
    assert response.headers["Location"] == path


def test_the_switch_needs_the_forms_token_and_a_signed_in_patient(signed_in, client, app):
    refused = client.post("/patient/language", data={"language": "cy", "back": "/checkin"})
    assert refused.status_code == 400
    db.session.refresh(signed_in)
    assert signed_in.language == "en"

    other = app.test_client()
    page = other.get("/signin")  # any page: a token of a browser with no patient session
    anonymous = other.post(
        "/patient/language", data={"csrf_token": csrf_token(page.text), "language": "cy"}
    )
    assert anonymous.status_code == 401
