"""The page of an expired or used link offers "Email me a fresh link", through the outbox.

A fresh link goes only to the address on file, at most one per patient in 10 minutes and three
per link in 24 hours, never after the clinic withdrew the patient's links; the page says
truthfully what happened, and never claims an email went when none was queued.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import TREATED_AT, csrf_token, make_app
from tracker.extensions import db
from tracker.models import AuditEvent, OutboxMessage
from tracker.services.governance.data_rights import erase_patient
from tracker.services.patients.links import (
    LinkState,
    check_link,
    issue_link,
    revoke_links,
    use_link,
)

ISSUED_AT = TREATED_AT + timedelta(hours=1)
EXPIRED_AT = ISSUED_AT + timedelta(hours=73)
SENT_TEXT = (
    "If this link was yours, we have sent a fresh one to the email address the clinic has on file."
)
RECENT_TEXT = "A fresh link went to the email address the clinic has on file a few minutes ago"
CAPPED_TEXT = "This link has already asked for 3 fresh links today, so we sent no more."
WITHDRAWN_TEXT = "We cannot send a fresh link: your clinic has withdrawn your links"
CLAIMS = (SENT_TEXT, RECENT_TEXT)
"""The sentences that say an email is on its way."""


@pytest.fixture
def expired(make_patient, time_machine):
    """A patient and a link of theirs that has expired."""
    time_machine.move_to(ISSUED_AT, tick=False)
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    time_machine.move_to(EXPIRED_AT, tick=False)
    return patient, token


def ask_for_fresh_link(client, token):
    page = client.get(f"/p/{token}")
    return client.post(f"/p/{token}/fresh", data={"csrf_token": csrf_token(page.text)})


def fresh_links():
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "fresh_link").order_by(OutboxMessage.id)
    ).all()


def audited(action: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def claims_an_email(html: str) -> bool:
    return any(claim in html for claim in CLAIMS)


def test_an_expired_link_offers_a_fresh_one_by_email(client, expired):
    _, token = expired
    page = client.get(f"/p/{token}")
    assert page.status_code == 410
    assert "This link has expired" in page.text
    assert "Email me a fresh link" in page.text


def test_asking_queues_a_fresh_link_to_the_address_on_file_without_showing_it(app, client, expired):
    patient, token = expired
    response = ask_for_fresh_link(client, token)
    assert response.status_code == 200
    assert SENT_TEXT in response.text
    assert "pat@example.com" not in response.text
    assert "Email me a fresh link" not in response.text
    (message,) = fresh_links()
    assert (message.to_address, message.patient_id) == ("pat@example.com", patient.id)
    assert message.subject == "Your new check-in link from Riverside Clinic"
    fresh = re.search(r"http://aftercare\.test/p/(\S+)", message.body_text).group(1)
    assert check_link(fresh).state is LinkState.VALID
    assert "works until Sun 08 Mar 2026 at 12:00 UK time" in message.body_text  # 72 h from now
    (event,) = audited("patient.link.fresh_sent")
    assert event.patient_id == patient.id and "example.com" not in (event.target or "")


def test_at_most_one_fresh_link_per_ten_minutes_and_the_page_says_so(client, expired, time_machine):
    _, token = expired
    time_machine.move_to(EXPIRED_AT + timedelta(minutes=9), tick=False)
    assert SENT_TEXT in ask_for_fresh_link(client, token).text
    time_machine.move_to(EXPIRED_AT + timedelta(minutes=11), tick=False)
    again = ask_for_fresh_link(client, token)
    assert again.status_code == 200
    assert RECENT_TEXT in again.text and SENT_TEXT not in again.text
    assert len(fresh_links()) == 1
    time_machine.move_to(EXPIRED_AT + timedelta(minutes=19, seconds=1), tick=False)
    assert SENT_TEXT in ask_for_fresh_link(client, token).text
    assert len(fresh_links()) == 2
    assert len(audited("patient.link.fresh_refused")) == 1


def ask_every_eleven_minutes(client, token, time_machine, start, times):
    """Ask `times` times, 11 minutes apart (past the 10-minute limit); the last answer."""
    for n in range(times):
        time_machine.move_to(start + timedelta(minutes=11 * n), tick=False)
        response = ask_for_fresh_link(client, token)
    return response


def test_a_link_asks_for_three_fresh_links_a_day_at_most_and_is_told_so(
    client, expired, time_machine
):
    _, token = expired
    third = ask_every_eleven_minutes(client, token, time_machine, EXPIRED_AT, 3)
    assert SENT_TEXT in third.text
    time_machine.move_to(EXPIRED_AT + timedelta(hours=2), tick=False)
    fourth = ask_for_fresh_link(client, token)
    assert fourth.status_code == 429
    assert CAPPED_TEXT in fourth.text
    assert not claims_an_email(fourth.text)
    assert "contact your clinic" in fourth.text
    assert "Email me a fresh link" not in fourth.text
    assert len(fresh_links()) == 3
    assert len(audited("patient.link.fresh_refused")) == 1
    time_machine.move_to(EXPIRED_AT + timedelta(hours=24, seconds=1), tick=False)
    assert SENT_TEXT in ask_for_fresh_link(client, token).text  # the first one is a day old
    assert len(fresh_links()) == 4


def test_the_cap_is_per_link(client, expired, time_machine, make_patient):
    patient, token = expired
    time_machine.move_to(ISSUED_AT + timedelta(hours=1), tick=False)
    second = issue_link(patient)
    db.session.commit()
    ask_every_eleven_minutes(client, token, time_machine, EXPIRED_AT, 3)
    time_machine.move_to(EXPIRED_AT + timedelta(hours=2), tick=False)
    assert ask_for_fresh_link(client, token).status_code == 429
    assert SENT_TEXT in ask_for_fresh_link(client, second).text
    assert len(fresh_links()) == 4


def test_the_daily_cap_follows_configuration(database_uri, expired, time_machine):
    _, token = expired
    client = make_app(database_uri, PATIENT_FRESH_LINKS_PER_DAY=1).test_client()
    assert SENT_TEXT in ask_for_fresh_link(client, token).text
    time_machine.move_to(EXPIRED_AT + timedelta(minutes=11), tick=False)
    capped = ask_for_fresh_link(client, token)
    assert capped.status_code == 429
    assert "already asked for 1 fresh link today" in capped.text


def test_a_used_link_offers_a_fresh_one_to_someone_not_signed_in(app, make_patient):
    patient, _ = make_patient()
    token = issue_link(patient)
    use_link(token)
    db.session.commit()
    client = app.test_client()
    page = client.get(f"/p/{token}")
    assert "already been used" in page.text and "Email me a fresh link" in page.text
    assert SENT_TEXT in ask_for_fresh_link(client, token).text
    assert len(fresh_links()) == 1


def test_a_tampered_token_cannot_send_an_email(client, expired):
    _, token = expired
    page = client.get(f"/p/{token}")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.post(f"/p/{forged}/fresh", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 404
    assert not claims_an_email(response.text)
    assert fresh_links() == []


def test_asking_needs_the_csrf_token(client, expired):
    _, token = expired
    client.get(f"/p/{token}")
    assert client.post(f"/p/{token}/fresh").status_code == 400
    assert fresh_links() == []


def test_a_revoked_link_offers_nothing_and_sends_nothing(client, expired):
    patient, token = expired
    page = client.get(f"/p/{token}")
    revoke_links(patient)
    db.session.commit()
    assert "Email me a fresh link" not in client.get(f"/p/{token}").text
    response = client.post(f"/p/{token}/fresh", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 410
    assert "withdrawn" in response.text
    assert fresh_links() == []


def test_an_old_used_link_cannot_undo_the_clinics_revocation(app, make_patient):
    patient, _ = make_patient()
    token = issue_link(patient)
    use_link(token)  # a used link is not revoked itself...
    issue_link(patient)  # ...but the revocation of the later reminder's link still counts
    db.session.commit()
    revoke_links(patient)
    db.session.commit()
    client = app.test_client()
    assert "Email me a fresh link" not in client.get(f"/p/{token}").text
    token_page = client.get("/signin")  # a stranger can still post with a valid CSRF token
    response = client.post(f"/p/{token}/fresh", data={"csrf_token": csrf_token(token_page.text)})
    assert response.status_code == 410
    assert WITHDRAWN_TEXT in response.text
    assert not claims_an_email(response.text)
    assert fresh_links() == []
    assert len(audited("patient.link.fresh_refused")) == 1


def test_an_erased_patients_used_link_sends_nothing_and_says_so(app, make_patient):
    patient, _ = make_patient()
    token = issue_link(patient)
    use_link(token)  # used, so erasure has no unused link to revoke
    db.session.commit()
    erase_patient(patient)
    db.session.commit()
    client = app.test_client()
    assert "Email me a fresh link" not in client.get(f"/p/{token}").text
    token_page = client.get("/signin")
    response = client.post(f"/p/{token}/fresh", data={"csrf_token": csrf_token(token_page.text)})
    assert WITHDRAWN_TEXT in response.text
    assert not claims_an_email(response.text)
    assert fresh_links() == []


def test_a_still_valid_link_just_goes_back_to_its_page(client, make_patient):
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    page = client.get(f"/p/{token}")
    response = client.post(f"/p/{token}/fresh", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/p/{token}"
    assert fresh_links() == []
