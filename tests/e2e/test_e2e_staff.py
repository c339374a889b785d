"""Journey 1: a clinician at a desktop, over HTTPS behind the proxy, works a flag from the case
queue to resolved: acknowledge, a note, an outcome."""

from __future__ import annotations

from tests.e2e import data
from tests.e2e.pages import expect, staff_sign_in


def test_a_clinician_signs_in_over_https_and_resolves_a_flag(stack, seeding, desktop):
    patient = data.treated_patient(seeding, "Fiona Flagged")
    flag_id = data.flag_for(seeding, patient, "headache", severity=4)
    page = desktop

    shown, signed_in = staff_sign_in(page, stack)
    for response in (shown, signed_in):
        assert response.headers["strict-transport-security"].startswith("max-age=")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "session"]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    row = page.locator(f"#case-{patient.treatment_id}")
    expect(row).to_contain_text("Fiona Flagged")
    expect(row).to_contain_text("Open")
    row.get_by_role("link", name="Fiona Flagged").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fiona Flagged")
    status = page.locator(f"#flag-status-{flag_id}")
    expect(status).to_have_text("Open")

    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".flash")).to_have_text("Acknowledged.")
    expect(status).to_have_text("Acknowledged")
    expect(page.get_by_text("by Nina Nurse")).to_be_visible()

    page.get_by_label("Add a note").fill("Rang Fiona: resting, paracetamol helps.")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".flash")).to_have_text("Note saved.")
    expect(page.locator("#notes")).to_contain_text("Rang Fiona: resting, paracetamol helps.")

    page.get_by_label("Outcome for this flag").select_option(label="Advised self-care")
    page.get_by_role("button", name="Resolve this flag").click()
    expect(page.locator(".flash")).to_have_text("Resolved: Advised self-care.")
    expect(status).to_contain_text("Resolved: Advised self-care")
    expect(page.get_by_role("button", name="Resolve this flag")).to_have_count(0)

    page.get_by_role("link", name="Back to the cases").click()
    expect(page.locator(f"#case-{patient.treatment_id}")).to_have_count(0)  # open work only
