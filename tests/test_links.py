"""Personal links: how a patient gets in without a password.

A link is signed, scoped to one patient, expiring, single-use to start a session, revocable, and
stored only as a hash. Opening it shows a button that POSTs, so mail scanners that fetch links
do not use them up.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select, update

from tests.conftest import TREATED_AT, csrf_token, make_app
from tracker.extensions import db
from tracker.models import CheckIn, PatientLink
from tracker.services.patients import links
from tracker.services.patients.links import (
    LinkState,
    check_link,
    issue_link,
    revoke_links,
    use_link,
)

ISSUED_AT = TREATED_AT + timedelta(hours=1)
"""When the invite email with the link was sent."""


@pytest.fixture
def patient(make_patient, time_machine):
    time_machine.move_to(ISSUED_AT, tick=False)
    patient, _ = make_patient()
    return patient


def new_link(patient) -> str:
    token = issue_link(patient)
    db.session.commit()
    return token


def link_row(token: str) -> PatientLink:
    return db.session.scalars(
        select(PatientLink).where(
            PatientLink.token_hash == hashlib.sha256(token.encode()).hexdigest()
        )
    ).one()


def press_start(client, token: str, page_html: str):
    """Press "Start my check-in" on a link page loaded earlier."""
    return client.post(f"/p/{token}", data={"csrf_token": csrf_token(page_html)})


def signed_in(client) -> bool:
    return client.get("/checkin").status_code == 200


def change_one_character(token: str, position: int) -> str:
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1 :]


# --- opening a link does not use it -------------------------------------------------------------


def test_opening_a_link_shows_a_button_and_does_not_use_the_link(client, patient):
    token = new_link(patient)
    first = client.get(f"/p/{token}")
    second = client.get(f"/p/{token}")  # a mail scanner, or the patient opening it twice
    for page in (first, second):
        assert page.status_code == 200
        assert '<form method="post">' in page.text
        assert 'value="Start my check-in"' in page.text
    assert link_row(token).used_at is None

    response = press_start(client, token, second.text)
    assert response.status_code == 302
    assert response.headers["Location"] == "/checkin"
    assert link_row(token).used_at == ISSUED_AT
    assert signed_in(client)


def test_a_mail_scanner_fetching_the_link_leaves_it_for_the_patient(app, client, patient):
    token = new_link(patient)
    scanner = app.test_client()
    assert scanner.get(f"/p/{token}").status_code == 200
    assert scanner.head(f"/p/{token}").status_code == 200
    page = client.get(f"/p/{token}")
    assert press_start(client, token, page.text).status_code == 302
    assert signed_in(client)
    assert not signed_in(scanner)


def test_opening_a_link_starts_no_session(client, patient):
    token = new_link(patient)
    page = client.get(f"/p/{token}")
    response = client.get("/checkin")
    assert response.status_code == 401
    # ...and that refusal (say, in another tab) does not spoil the button on the link page
    assert press_start(client, token, page.text).status_code == 302
    assert signed_in(client)


def test_pressing_start_without_the_csrf_token_is_refused_and_the_link_kept(client, patient):
    token = new_link(patient)
    response = client.post(f"/p/{token}")  # e.g. a form on another site posting to the link
    assert response.status_code == 400
    assert link_row(token).used_at is None
    assert not signed_in(client)


# --- a link starts one session ------------------------------------------------------------------


def test_a_used_link_is_refused_with_a_clear_page(app, client, patient):
    token = new_link(patient)
    page = client.get(f"/p/{token}")
    assert press_start(client, token, page.text).status_code == 302

    stranger = app.test_client()
    again = stranger.get(f"/p/{token}")
    assert again.status_code == 410
    assert "This link has already been used" in again.text
    assert "Open the newest email from your clinic" in again.text
    assert "Start my check-in" not in again.text
    assert not signed_in(stranger)


def test_the_patient_reopening_their_used_link_can_carry_on(client, patient):
    token = new_link(patient)
    page = client.get(f"/p/{token}")
    assert press_start(client, token, page.text).status_code == 302
    again = client.get(f"/p/{token}")
    assert again.status_code == 410
    assert "already been used" in again.text
    assert "Continue to your check-in" in again.text


def test_two_people_pressing_start_on_the_same_link_only_one_gets_in(app, patient):
    token = new_link(patient)
    first, second = app.test_client(), app.test_client()
    first_page, second_page = first.get(f"/p/{token}"), second.get(f"/p/{token}")
    assert press_start(first, token, first_page.text).status_code == 302
    late = press_start(second, token, second_page.text)
    assert late.status_code == 410
    assert "already been used" in late.text
    assert signed_in(first)
    assert not signed_in(second)


def test_use_link_claims_a_link_once_even_if_both_saw_it_valid(app, patient, monkeypatch):
    """Compare-and-set: two uses that both checked the link before either claimed it."""
    token = new_link(patient)
    seen_valid = check_link(token)
    assert seen_valid.state is LinkState.VALID
    monkeypatch.setattr(links, "check_link", lambda token, now=None: seen_valid)

    first = use_link(token, now=ISSUED_AT + timedelta(minutes=1))
    second = use_link(token, now=ISSUED_AT + timedelta(minutes=2))
    db.session.commit()
    assert first.state is LinkState.VALID
    assert second.state is LinkState.USED
    db.session.expire_all()
    assert link_row(token).used_at == ISSUED_AT + timedelta(minutes=1)


def test_use_link_twice_in_a_row(app, patient):
    token = new_link(patient)
    assert use_link(token).state is LinkState.VALID
    assert use_link(token).state is LinkState.USED
    db.session.commit()
    db.session.expire_all()
    assert check_link(token).state is LinkState.USED


# --- expiry ---------------------------------------------------------------------------------------


def test_a_link_works_until_just_before_72_hours(app, client, patient, time_machine):
    assert app.config["PATIENT_LINK_HOURS"] == 72
    token = new_link(patient)
    time_machine.move_to(ISSUED_AT + timedelta(hours=72, minutes=-1), tick=False)
    page = client.get(f"/p/{token}")
    assert page.status_code == 200
    assert press_start(client, token, page.text).status_code == 302
    assert signed_in(client)


def test_a_link_has_expired_at_72_hours(client, patient, time_machine):
    token = new_link(patient)
    page = client.get(f"/p/{token}")  # opened in time, left on the phone...
    time_machine.move_to(ISSUED_AT + timedelta(hours=72), tick=False)
    for response in (client.get(f"/p/{token}"), press_start(client, token, page.text)):
        assert response.status_code == 410
        assert "This link has expired" in response.text
    assert link_row(token).used_at is None
    assert not signed_in(client)


def test_link_lifetime_follows_configuration(app, client, patient, time_machine):
    app.config["PATIENT_LINK_HOURS"] = 2
    token = new_link(patient)
    time_machine.move_to(ISSUED_AT + timedelta(hours=2), tick=False)
    assert client.get(f"/p/{token}").status_code == 410


# --- forged, tampered, foreign --------------------------------------------------------------------


def tampered_tokens(token: str) -> dict[str, str]:
    payload, signature = token.rsplit(".", 1)
    return {
        "payload": change_one_character(token, 3),
        "signature": change_one_character(token, len(payload) + 1 + len(signature) // 2),
        "truncated": token[:-4],
        "garbage": "not-a-link",
    }


@pytest.mark.parametrize("how", ["payload", "signature", "truncated", "garbage"])
def test_a_tampered_link_is_not_recognised(client, patient, how):
    token = new_link(patient)
    bad = tampered_tokens(token)[how]
    assert bad != token
    response = client.get(f"/p/{bad}")
    assert response.status_code == 404
    assert "We do not recognise this link" in response.text
    page = client.get(f"/p/{token}")  # a genuine page, for a CSRF token
    posted = press_start(client, bad, page.text)
    assert posted.status_code == 404
    assert "do not recognise" in posted.text
    assert link_row(token).used_at is None
    assert not signed_in(client)


def test_a_link_signed_with_another_secret_key_is_refused(database_uri, client, patient):
    staging = make_app(database_uri, SECRET_KEY="another-secret-key-of-staging-0123456789")
    with staging.app_context():
        token = issue_link(patient)  # a real row, but signed with the other key
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    response = client.get(f"/p/{token}")
    assert response.status_code == 404
    assert "do not recognise" in response.text


def test_a_leaked_database_cannot_forge_a_link(client, patient):
    """With write access to the database but not the secret key, no token can be made to work."""
    forged = URLSafeSerializer("attacker-guess", salt=links.SALT).dumps({"p": patient.id, "n": "x"})
    db.session.add(
        PatientLink(
            patient_id=patient.id,
            token_hash=hashlib.sha256(forged.encode()).hexdigest(),
            created_at=ISSUED_AT,
            expires_at=ISSUED_AT + timedelta(hours=72),
        )
    )
    genuine = new_link(patient)
    stored_hash = link_row(genuine).token_hash
    for token in (forged, stored_hash):
        response = client.get(f"/p/{token}")
        assert response.status_code == 404
        assert "do not recognise" in response.text


def test_the_database_holds_only_a_sha256_of_the_token(patient):
    token = new_link(patient)
    row = db.session.scalars(select(PatientLink)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.token_hash != token
    for column in PatientLink.__table__.columns:
        value = getattr(row, column.key)
        assert not (isinstance(value, str) and token in value)


def test_a_link_moved_to_another_patient_in_the_database_is_refused(client, patient, make_patient):
    other, _ = make_patient("Other Person")
    token = new_link(patient)
    db.session.execute(
        update(PatientLink).where(PatientLink.id == link_row(token).id).values(patient_id=other.id)
    )
    db.session.commit()
    assert client.get(f"/p/{token}").status_code == 404


def test_another_patients_link_signs_in_only_that_patient(client, patient, make_patient):
    other, other_treatment = make_patient("Other Person")
    mine = new_link(patient)
    assert press_start(client, mine, client.get(f"/p/{mine}").text).status_code == 302
    page = client.get("/checkin")
    client.post("/checkin/none", data={"csrf_token": csrf_token(page.text)})
    my_checkin = db.session.scalars(select(CheckIn)).one()
    assert client.get(f"/checkins/{my_checkin.id}").status_code == 200

    theirs = new_link(other)  # e.g. a forwarded email, opened on the same phone
    assert press_start(client, theirs, client.get(f"/p/{theirs}").text).status_code == 302
    assert client.get(f"/checkins/{my_checkin.id}").status_code == 404
    page = client.get("/checkin")
    client.post("/checkin/none", data={"csrf_token": csrf_token(page.text)})
    treatments = db.session.scalars(select(CheckIn.treatment_id).order_by(CheckIn.id)).all()
    assert treatments == [my_checkin.treatment_id, other_treatment.id]


# --- revocation, and newer links ----------------------------------------------------------------


def test_revoked_links_are_refused_as_withdrawn(client, patient):
    used = new_link(patient)
    assert press_start(client, used, client.get(f"/p/{used}").text).status_code == 302
    first, second = new_link(patient), new_link(patient)
    page = client.get(f"/p/{first}")

    assert revoke_links(patient) == 2  # the unused ones
    db.session.commit()
    for response in (
        client.get(f"/p/{first}"),
        client.get(f"/p/{second}"),
        press_start(client, first, page.text),
    ):
        assert response.status_code == 410
        assert "This link has been withdrawn" in response.text
    assert client.get(f"/p/{used}").status_code == 410
    assert not signed_in(client)


def test_a_link_issued_after_revocation_works(client, patient):
    new_link(patient)
    revoke_links(patient)
    db.session.commit()
    fresh = new_link(patient)
    assert press_start(client, fresh, client.get(f"/p/{fresh}").text).status_code == 302
    assert signed_in(client)


def test_a_newer_link_does_not_revoke_older_unused_ones(app, client, patient, time_machine):
    older = new_link(patient)
    time_machine.move_to(ISSUED_AT + timedelta(days=1), tick=False)
    newer = new_link(patient)
    assert check_link(older).state is LinkState.VALID
    assert press_start(client, older, client.get(f"/p/{older}").text).status_code == 302
    other_phone = app.test_client()
    assert press_start(other_phone, newer, other_phone.get(f"/p/{newer}").text).status_code == 302
    assert signed_in(client)
    assert signed_in(other_phone)


def test_link_pages_send_protective_headers(client, patient):
    token = new_link(patient)
    for response in (client.get(f"/p/{token}"), client.get("/p/not-a-link")):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"  # the token stays private
        assert response.headers["Cache-Control"] == "no-store"
