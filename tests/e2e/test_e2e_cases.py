"""Journey: a nurse at a desktop, over HTTPS behind the proxy, works two cases to the end:
acknowledge, assign to herself, a note, "Resolve and open next case", and the empty queue."""

from __future__ import annotations

from tests.e2e import data
from tests.e2e.pages import enter_password, expect


def test_a_nurse_works_two_cases_to_the_empty_queue(stack, seeding, desktop):
    clinic, nurse_email = data.clinic_of_its_own(seeding, stack, "Cara Cases")
    first = data.treated_patient(seeding, "Ivy Eyelid", clinic)
    second = data.treated_patient(seeding, "Hal Headache", clinic)
    data.flag_for(seeding, first, "eyelid_drooping", severity=2)  # review: the more urgent case
    data.flag_for(seeding, second, "headache", severity=4)  # severe
    page = desktop
    count = page.locator("#nav-cases .count")

    enter_password(page, stack, nurse_email)
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    expect(count).to_have_text("2")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Ivy Eyelid")
    expect(rows.nth(0).locator(".reason")).to_have_text(["Review"])
    expect(rows.nth(1)).to_contain_text("Hal Headache")

    rows.nth(0).get_by_role("link", name="Ivy Eyelid").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ivy Eyelid")
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Acknowledged.")
    expect(page.get_by_text("by Cara Cases")).to_be_visible()
    expect(count).to_have_text("2")  # an acknowledged case is still in the queue

    page.get_by_label("Assign to").select_option(label="Cara Cases")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Assigned to Cara Cases.")
    expect(page.locator("#assigned-to")).to_have_text("Cara Cases")

    page.get_by_label("Add a note").fill("Rang Ivy: drooping is mild, review at day 14.")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".flash")).to_have_text("Note saved.")
    expect(page.locator("#notes")).to_contain_text("Rang Ivy: drooping is mild")

    outcome = page.get_by_label("Outcome", exact=True)
    expect(outcome).to_have_value("")  # nothing chosen in advance
    outcome.select_option(label="Reassured")
    page.get_by_role("button", name="Resolve and open next case").click()
    expect(page.locator(".flash")).to_have_text("Case resolved: Reassured. This is the next case.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hal Headache")
    expect(count).to_have_text("1")

    page.get_by_label("Outcome", exact=True).select_option(label="Advised self-care")
    page.get_by_role("button", name="Resolve and open next case").click()
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    expect(page.locator(".flash")).to_have_text(
        "Case resolved: Advised self-care. No more cases: the queue is empty."
    )
    expect(page.locator("#no-cases")).to_be_visible()
    expect(count).to_have_count(0)  # nav count 0: no badge at all
