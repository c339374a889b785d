"""Journey 5: an urgent symptom is never silenced. A patient reports difficulty swallowing on their
phone; a nurse follows the alert email's link and resolves the flag at her desktop; the patient
reports it again, and a second alert, for a new flag, reaches the clinic's inbox."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.e2e import data
from tests.e2e.pages import expect, links_in, report, staff_sign_in, start_check_in

SUBJECT = "URGENT: Difficulty swallowing reported to Riverside Clinic"


def report_swallowing(stack, seeding, phone, patient: data.Treated) -> None:
    """The patient opens a fresh link, reports difficulty swallowing and is told it was alerted."""
    token = data.personal_link(seeding, patient)
    stack.tokens.append(token)
    start_check_in(phone, f"{stack.base_url}/p/{token}")
    report(phone, {"Difficulty swallowing": "Mild"})
    first = phone.locator("main section").first
    expect(first.get_by_role("heading")).to_have_text("Get medical help now")
    expect(first).to_contain_text("Your clinic has been alerted.")


def flag_id_in(link: str) -> int:
    """The flag id in an alert's link to the clinic's page (/clinic/flags/<id>)."""
    return int(urlsplit(link).path.rstrip("/").rsplit("/", 1)[1])


def alerts(stack) -> list:
    return [m for m in stack.mail_to(stack.admin) if m["Subject"] == SUBJECT]


def test_an_urgent_symptom_reported_again_after_its_flag_was_resolved_alerts_the_clinic_again(
    stack, seeding, phone, desktop
):
    patient = data.treated_patient(seeding, "Uma Urgent")
    before = len(alerts(stack))  # other journeys' alerts go to the same admin

    report_swallowing(stack, seeding, phone, patient)
    stack.deliver()
    first = alerts(stack)[before:]
    assert len(first) == 1
    (first_link,) = links_in(first[0], "clinic")

    staff_sign_in(desktop, stack)
    desktop.goto(first_link)  # the flag's link opens its case, at the flag
    first_flag = desktop.locator(f"#flag-{flag_id_in(first_link)}")
    expect(first_flag).to_contain_text("Difficulty swallowing")
    first_flag.get_by_label("Outcome for this flag").select_option(label="Reassured")
    first_flag.get_by_role("button", name="Resolve this flag").click()
    expect(desktop.locator(f"#flag-status-{flag_id_in(first_link)}")).to_contain_text(
        "Resolved: Reassured"
    )

    report_swallowing(stack, seeding, phone, patient)
    stack.deliver()
    both = alerts(stack)[before:]
    assert len(both) == 2, [m["Subject"] for m in both]
    (second_link,) = links_in(both[1], "clinic")
    assert urlsplit(second_link).path != urlsplit(first_link).path  # a new flag, not the old one

    desktop.goto(second_link)
    expect(desktop.locator(f"#flag-status-{flag_id_in(second_link)}")).to_have_text("Open")
