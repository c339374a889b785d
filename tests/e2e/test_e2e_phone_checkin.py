"""The check-in on a phone (390x844) for someone unwell (issue 13): "same as yesterday" in two
taps, the urgent warning with tap-to-call before anything else, "No symptoms today" in one tap
from the link's first page. Screenshots of each go to instance/screenshots, and the check-in
page's height is measured in phone screens (printed: run with -s to see it).
"""

from __future__ import annotations

from datetime import timedelta

from tests import builders
from tests.e2e import data
from tests.e2e.pages import expect, screenshot, start_check_in
from tracker.extensions import db
from tracker.models import CheckIn, Treatment
from tracker.timeutil import utcnow

PHONE_HEIGHT = 844


def screens(page) -> float:
    """The page's height in phone screens, once its stylesheets are in."""
    page.wait_for_load_state("load")
    return page.evaluate("document.documentElement.scrollHeight") / PHONE_HEIGHT


def checked_in_before(seeding, treated: data.Treated, severities: dict[str, int]) -> None:
    """The patient's last check-in, an hour ago (after the treatment two hours ago)."""
    with data.on(seeding):
        treatment = db.session.get(Treatment, treated.treatment_id)
        builders.checkin(treatment, utcnow() - timedelta(hours=1), severities)
        db.session.commit()


def stored_checkins(seeding, treated: data.Treated) -> list[dict[str, int]]:
    with data.on(seeding):
        checkins = db.session.query(CheckIn).filter_by(treatment_id=treated.treatment_id)
        return [
            {r.symptom.code: r.severity for r in c.reports}
            for c in checkins.order_by(CheckIn.reported_at)
        ]


def test_same_as_yesterday_in_two_taps(stack, seeding, phone):
    treated = data.treated_patient(seeding, "Sadie Same")
    checked_in_before(seeding, treated, {"bruising": 2, "headache": 1})
    token = data.personal_link(seeding, treated)
    stack.tokens.append(token)

    start_check_in(phone, f"{stack.base_url}/p/{token}")  # tap 1: Start my check-in
    last_time = phone.locator("section.last-time")
    expect(
        last_time.get_by_role("group", name="Bruising", exact=True).get_by_label("Moderate")
    ).to_be_checked()
    height = screens(phone)
    print(f"\ncheck-in page with a last check-in: {height:.2f} phone screens")
    screenshot(phone, "phone-checkin-with-last-time")
    phone.get_by_role("button", name="Same as yesterday").tap()  # tap 2
    expect(phone.get_by_role("heading", name="Thank you: here is what to expect")).to_be_visible()
    screenshot(phone, "phone-answer-same-as-yesterday")
    assert stored_checkins(seeding, treated) == [{"bruising": 2, "headache": 1}] * 2
    assert height <= 2.5


def test_an_urgent_answer_shows_the_warning_and_tel_link_before_anything_else(
    stack, seeding, phone
):
    treated = data.treated_patient(seeding, "Una Urgent")
    token = data.personal_link(seeding, treated)
    stack.tokens.append(token)

    start_check_in(phone, f"{stack.base_url}/p/{token}")
    height = screens(phone)
    print(f"\ncheck-in page, first check-in: {height:.2f} phone screens")
    screenshot(phone, "phone-checkin-before-urgent")
    warning = phone.locator(".urgent-warning")
    expect(warning).to_be_hidden()
    tick = phone.get_by_label("Difficulty breathing", exact=True)
    expect(tick).to_be_in_viewport()
    tick.tap()
    expect(warning).to_be_visible()
    expect(warning).to_be_in_viewport()
    call = warning.get_by_role("link", name="999")
    expect(call).to_have_attribute("href", "tel:999")
    expect(call).to_be_in_viewport()
    box = warning.bounding_box()
    questions = phone.get_by_role("group", name="Right now, do you have any of these?")
    assert box["y"] < questions.bounding_box()["y"]  # the warning first, then the questions
    screenshot(phone, "phone-checkin-after-urgent")
    phone.get_by_role("button", name="Send my check-in").tap()
    first = phone.locator("main section").first
    expect(first.get_by_role("heading")).to_have_text("Get medical help now")
    expect(first.get_by_role("link", name="999")).to_have_attribute("href", "tel:999")
    expect(first).to_be_in_viewport()
    screenshot(phone, "phone-answer-urgent")
    assert height <= 2.5


def test_no_symptoms_today_in_one_tap_from_the_links_first_page(stack, seeding, phone):
    treated = data.treated_patient(seeding, "Nia None")
    token = data.personal_link(seeding, treated)
    stack.tokens.append(token)

    phone.goto(f"{stack.base_url}/p/{token}")
    expect(phone.get_by_role("heading", name="Your daily check-in")).to_be_visible()
    phone.get_by_role("button", name="No symptoms today").tap()  # the one tap
    expect(phone.get_by_role("heading", name="Thank you: nothing to report today")).to_be_visible()
    screenshot(phone, "phone-answer-no-symptoms")
    assert stored_checkins(seeding, treated) == [{}]
