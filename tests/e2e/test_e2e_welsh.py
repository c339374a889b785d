"""The patient's journey in Welsh, on a phone (issue 13): the clinic chooses Welsh for a patient;
the invite arrives in Welsh; the link page, the check-in (the urgent warning and its tap-to-call
first), the answer and the timeline's chart are in Welsh, with no axe violation; "same as
yesterday" takes two taps; the patient switches their pages to English and back themselves.
Screenshots go to instance/screenshots."""

from __future__ import annotations

from datetime import timedelta

from tests import builders
from tests.e2e import data
from tests.e2e.pages import (
    CheckInWords,
    add_patient,
    assert_accessible,
    expect,
    links_in,
    report,
    screenshot,
    staff_sign_in,
    start_check_in,
)
from tests.e2e.test_e2e_patients import token_of
from tracker.extensions import db
from tracker.models import CheckIn, Patient, Treatment
from tracker.timeutil import utcnow

WELSH = CheckInWords(
    link_page="Rhoi gwybod bob dydd",
    start="Dechrau rhoi gwybod",
    form="Sut ydych chi heddiw?",
    urgent_question="Ar hyn o bryd, oes gennych chi unrhyw un o'r rhain?",
    send="Anfon",
)


def language_of(seeding, email: str) -> str:
    with data.on(seeding):
        return db.session.query(Patient).filter_by(email=email).one().language


def test_a_welsh_patient_from_the_invite_to_the_timeline(stack, seeding, desktop, phone):
    name, email = "Dafydd Jones", data.unique_email("Dafydd Jones")
    staff_sign_in(desktop, stack)
    add_patient(desktop, name, email, language="cy")
    expect(desktop.locator("dd", has_text="Welsh")).to_be_visible()  # the patient's page says so
    desktop.get_by_role("link", name="Record a treatment").click()
    desktop.get_by_label("Product (brand)").fill("Botox")
    desktop.get_by_label("Batch / lot number").fill("C1234AB5")
    desktop.get_by_label("Forehead").fill("10")
    desktop.get_by_role("button", name="Save treatment and invite the patient").click()
    expect(desktop.locator(".flash")).to_contain_text("The invite is on its way")

    stack.deliver()
    (invite,) = stack.mail_to(email)
    assert invite["Subject"] == "Rhoi gwybod i Riverside Clinic sut rydych chi ar ôl eich triniaeth"
    text = invite.get_body(preferencelist=("plain",)).get_content()
    assert f"Helo {name}," in text and "amser y DU" in text
    html = invite.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="cy">' in html
    (link,) = links_in(invite, "p")
    stack.tokens.append(token_of(link))

    phone.goto(link)
    expect(phone.get_by_role("heading", name=WELSH.link_page)).to_be_visible()
    expect(phone.locator("html")).to_have_attribute("lang", "cy")
    assert_accessible(phone)
    screenshot(phone, "welsh-link-page")

    start_check_in(phone, link, WELSH)
    assert_accessible(phone)
    warning = phone.locator(".urgent-warning")
    expect(warning).to_be_hidden()
    phone.get_by_label("Anhawster anadlu", exact=True).tap()
    expect(warning).to_be_visible()
    expect(warning).to_be_in_viewport()
    expect(warning).to_contain_text("Mynnwch help meddygol nawr")
    call = warning.get_by_role("link", name="999")
    expect(call).to_have_attribute("href", "tel:999")
    expect(call).to_be_in_viewport()
    questions = phone.get_by_role("group", name=WELSH.urgent_question)
    assert warning.bounding_box()["y"] < questions.bounding_box()["y"]  # the warning first
    assert_accessible(phone)  # with the warning shown
    screenshot(phone, "welsh-checkin-urgent")
    report(phone, {"Cleisio": "Ysgafn"}, WELSH)  # the urgent tick stays; bruising, then send

    first = phone.locator("main section").first
    expect(first.get_by_role("heading")).to_have_text("Mynnwch help meddygol nawr")
    expect(first).to_contain_text("Ffoniwch 999 neu ewch i")
    expect(first).to_contain_text("Mae eich clinig wedi cael ei rybuddio.")
    expect(first.get_by_role("link", name="999")).to_have_attribute("href", "tel:999")
    expect(first).to_be_in_viewport()
    expect(phone.get_by_role("heading", name="Diolch: dyma beth i'w ddisgwyl")).to_be_visible()
    assert_accessible(phone)
    screenshot(phone, "welsh-answer-urgent")

    earlier = len(stack.mail_to(stack.clinician))  # the stack's other journeys alert them too
    stack.deliver()
    (alert,) = stack.mail_to(stack.clinician)[earlier:]  # who treated them; in English
    assert alert["Subject"] == "URGENT: Difficulty breathing reported to Riverside Clinic"

    phone.get_by_role("link", name="Gweld fy llinell amser").tap()  # the answer page's own link
    expect(phone.get_by_role("heading", name="Fy llinell amser")).to_be_visible()
    chart = phone.locator("#chart-bruising").get_by_role(
        "img", name="Cleisio: difrifoldeb o ddydd i ddydd"
    )
    expect(chart).to_be_visible()
    expect(chart.locator("rect.band")).to_have_count(1)  # the expected band
    expect(chart.locator("circle.dot")).to_have_count(1)
    expect(chart.locator("desc")).to_contain_text("Fel arfer wedi mynd o fewn")
    assert_accessible(phone)
    screenshot(phone, "welsh-timeline")

    phone.get_by_role("button", name="English").tap()  # the patient's own switch
    expect(phone.get_by_role("heading", name="My timeline")).to_be_visible()  # the same page
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    assert language_of(seeding, email) == "en"
    phone.get_by_role("button", name="Cymraeg").tap()
    expect(phone.get_by_role("heading", name="Fy llinell amser")).to_be_visible()
    assert language_of(seeding, email) == "cy"


def test_same_as_yesterday_in_two_taps_in_welsh(stack, seeding, phone):
    treated = data.treated_patient(seeding, "Siân Same", language="cy")
    with data.on(seeding):
        treatment = db.session.get(Treatment, treated.treatment_id)
        builders.checkin(treatment, utcnow() - timedelta(hours=1), {"bruising": 2})
        db.session.commit()
    token = data.personal_link(seeding, treated)
    stack.tokens.append(token)

    start_check_in(phone, f"{stack.base_url}/p/{token}", WELSH)  # tap 1
    last_time = phone.locator("section.last-time")
    expect(
        last_time.get_by_role("group", name="Cleisio", exact=True).get_by_label("Cymedrol")
    ).to_be_checked()
    assert_accessible(phone)
    screenshot(phone, "welsh-checkin-with-last-time")
    phone.get_by_role("button", name="Yr un fath â ddoe").tap()  # tap 2
    expect(phone.get_by_role("heading", name="Diolch: dyma beth i'w ddisgwyl")).to_be_visible()
    with data.on(seeding):
        checkins = db.session.query(CheckIn).filter_by(treatment_id=treated.treatment_id).all()
        assert [{r.symptom.code: r.severity for r in c.reports} for c in checkins] == [
            {"bruising": 2}
        ] * 2
