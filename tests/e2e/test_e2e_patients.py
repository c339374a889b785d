"""Journeys 2 to 4: patients on their phones (and a desktop) from the emails they receive.

2. The clinic records a treatment; the invite arrives; the patient checks in from its link.
3. A patient reports an urgent symptom: the emergency advice comes first; the clinic is alerted.
4. The stop-reminders link in an email stops the reminders.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.e2e import data
from tests.e2e.pages import add_patient, expect, links_in, report, staff_sign_in, start_check_in


def token_of(link: str) -> str:
    return urlsplit(link).path.rsplit("/", 1)[1]


def test_a_patient_checks_in_on_their_phone_from_the_invite_email(stack, desktop, phone):
    name, email = "Priya Patel", data.unique_email("Priya Patel")
    staff_sign_in(desktop, stack)
    add_patient(desktop, name, email)
    flash = desktop.locator(".flash")
    expect(flash).to_have_text(f"{name} added. Record their treatment to send the invite.")
    desktop.get_by_role("link", name="Record a treatment").click()
    desktop.get_by_label("Product (brand)").fill("Botox")
    desktop.get_by_label("Batch / lot number").fill("C1234AB5")
    desktop.get_by_label("Forehead").fill("10")
    desktop.get_by_label("Crow's feet").fill("12")
    desktop.get_by_role("button", name="Save treatment and invite the patient").click()
    expect(flash).to_have_text(f"Treatment recorded. The invite is on its way to {name}.")

    stack.deliver()
    (invite,) = stack.mail_to(email)
    assert invite["Subject"] == "Your aftercare check-ins with Riverside Clinic"
    (link,) = links_in(invite, "p")
    stack.tokens.append(token_of(link))

    start_check_in(phone, link)
    report(phone, {"Headache": "Moderate", "Bruising": "Mild"})
    expect(phone.get_by_role("heading", name="Thank you: here is what to expect")).to_be_visible()
    answers = phone.locator(".symptom-answer h2")
    expect(answers).to_have_text(["Bruising Mild", "Headache Moderate"])
    expect(phone.get_by_text("A headache usually lasts 24 to 48 hours.")).to_be_visible()
    expect(phone.get_by_role("alert")).to_have_count(0)  # nothing urgent: no emergency box


def test_an_urgent_symptom_shows_the_emergency_advice_first_and_alerts_the_clinic(
    stack, seeding, phone
):
    patient = data.treated_patient(seeding, "Sam Swallow")
    token = data.personal_link(seeding, patient)
    stack.tokens.append(token)
    earlier = len(stack.mail_to(stack.admin))  # the stack's other journeys write to them too

    start_check_in(phone, f"{stack.base_url}/p/{token}")
    report(phone, {"Difficulty swallowing": "Mild", "Bruising": "Mild"})
    first = phone.locator("main section").first
    expect(first).to_have_attribute("role", "alert")
    expect(first.get_by_role("heading")).to_have_text("Get medical help now")
    expect(first).to_contain_text("Call 999 or go to A&E now.")
    expect(first).to_contain_text("Your clinic has been alerted.")
    expect(first).to_be_in_viewport()  # on a phone: seen before anything else, no scrolling

    stack.deliver()
    (alert,) = stack.mail_to(stack.admin)[earlier:]
    assert alert["Subject"] == "URGENT: Difficulty swallowing reported to Riverside Clinic"
    (flag_link,) = links_in(alert, "clinic")
    assert urlsplit(flag_link).path.startswith("/clinic/flags/")
    body = alert.get_body(preferencelist=("plain",)).get_content()
    assert "Sam" not in body and patient.email not in body  # an alert names no patient


def test_the_stop_link_in_an_email_stops_the_reminders(stack, seeding, desktop):
    patient = data.treated_patient(seeding, "Rita Reminders")
    stack.deliver()
    (invite,) = stack.mail_to(patient.email)
    (stop_link,) = links_in(invite, "stop")
    assert invite["List-Unsubscribe"].strip() == f"<{stop_link}>"  # one-click in mail apps
    stack.tokens.append(token_of(stop_link))
    page = desktop

    page.goto(stop_link)
    expect(page.get_by_role("heading", name="Stop check-in reminders?")).to_be_visible()
    assert data.reminders_enabled(seeding, patient)  # opening the link changes nothing
    page.get_by_role("button", name="Stop reminders").click()
    expect(page.get_by_role("heading", name="Reminders stopped")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("We will not email you check-in reminders")
    assert not data.reminders_enabled(seeding, patient)
