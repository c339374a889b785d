"""Journey: the batch watch. Two patients treated from one batch a week apart (the clinic typed
its number two ways) each report a toxin-spread sign on their phones; the sweep raises a spread
signal and the clinic's admin is emailed at once, with the cases but no names. At a desktop,
over HTTPS behind the proxy, the admin sees the signal on the queue, opens the batch,
quarantines it, and opens a case's regulator report."""

from __future__ import annotations

import secrets

from tests.e2e import data
from tests.e2e.pages import enter_password, expect, links_in, report, start_check_in
from tests.e2e.test_e2e_second_factor import enter_code


def check_in_with(stack, seeding, phone, patient: data.Treated, symptom: str) -> None:
    """The patient opens a fresh link and reports `symptom` as mild; told to get help now."""
    token = data.personal_link(seeding, patient)
    stack.tokens.append(token)
    start_check_in(phone, f"{stack.base_url}/p/{token}")
    report(phone, {symptom: "Mild"})
    expect(phone.locator("main section").first.get_by_role("heading")).to_have_text(
        "Get medical help now"
    )


def test_an_admin_sees_a_spread_signal_quarantines_the_batch_and_opens_the_report(
    stack, seeding, phone, desktop
):
    clinic, _ = data.clinic_of_its_own(seeding, stack, "Nia Nurse")
    admin = data.admin_of(seeding, stack, clinic, "Aled Admin")
    batch = f"SP {secrets.token_hex(3).upper()}"
    latest = batch.replace(" ", "").lower()  # one batch; shown as the latest treatment spelt it
    first = data.treated_patient(seeding, "Siân Swallow", clinic, batch_number=batch, days_ago=7)
    second = data.treated_patient(seeding, "Vic Vision", clinic, batch_number=latest)

    check_in_with(stack, seeding, phone, first, "Difficulty swallowing")
    check_in_with(stack, seeding, phone, second, "Double or blurred vision")
    stack.sweep()
    stack.deliver()
    (alert,) = [m for m in stack.mail_to(admin.email) if "batch" in m["Subject"].lower()]
    body = alert.get_body(("plain",)).get_content()
    assert latest in alert["Subject"] and latest in body
    assert "Siân" not in body and "Vic" not in body  # the cases are links, never names
    case_links = links_in(alert, "clinic")
    assert {link.rsplit("/", 1)[1] for link in case_links} >= {
        str(first.treatment_id),
        str(second.treatment_id),
    }

    page = desktop
    enter_password(page, stack, admin.email)
    enter_code(page, admin.recovery_codes[0])
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    banner = page.locator("#open-signals")
    expect(banner).to_contain_text("Possible toxin spread")
    banner.get_by_role("link", name=f"Botox batch {latest}").click()

    signals = page.locator("#signals")
    expect(signals).to_contain_text("Possible toxin spread")
    expect(signals.locator(".signal-case")).to_have_count(2)
    expect(page.locator("#batch-treatments tbody tr")).to_have_count(2)

    page.get_by_label("Why quarantine this batch?").fill("Two spread signs in a week.")
    page.get_by_role("button", name="Quarantine this batch").click()
    quarantined = page.locator("#quarantine-in-force")
    expect(quarantined).to_contain_text("Quarantined by Aled Admin")
    expect(quarantined).to_contain_text("Two spread signs in a week.")

    signals.get_by_role("link", name="Siân Swallow").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Siân Swallow")
    page.locator("#case-report-link").click()
    expect(page.get_by_role("heading", name="Suspected adverse reaction report")).to_be_visible()
    expect(page.locator("#patient-initials")).to_have_text("S.S.")
    expect(page.locator("#report-product")).to_contain_text(batch)
    expect(page.locator("#product-route")).to_have_text("Intramuscular")
    expect(page.locator("#report")).to_contain_text("Difficulty swallowing")
    expect(page.locator("#missing-sex")).to_be_visible()
