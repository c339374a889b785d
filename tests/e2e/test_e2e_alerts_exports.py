"""Alerts reach the people who act, and the exports are in the page, over HTTPS behind the proxy:

1. An urgent symptom of a treatment the nurse gave reaches the nurse's own inbox (aiosmtpd);
   the admins, needed only when nobody else would hear, get nothing.
2. The nurse downloads the queue's CSV and a case's FHIR bundle from the buttons on the pages.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from tests.e2e import data
from tests.e2e.pages import expect, links_in, report, staff_sign_in, start_check_in
from tracker.extensions import db
from tracker.models import Treatment, User


def treated_by_the_nurse(seeding, stack, name: str) -> data.Treated:
    """A patient treated this morning, the nurse named as the treating practitioner."""
    patient = data.treated_patient(seeding, name)
    with data.on(seeding):
        nurse = db.session.scalar(select(User).where(User.email == stack.clinician))
        db.session.get(Treatment, patient.treatment_id).practitioner_id = nurse.id
        db.session.commit()
    return patient


def test_an_urgent_symptom_reaches_the_treating_practitioners_inbox(stack, seeding, phone):
    patient = treated_by_the_nurse(seeding, stack, "Vic Vision")
    token = data.personal_link(seeding, patient)
    stack.tokens.append(token)
    admin_mail = len(stack.mail_to(stack.admin))

    start_check_in(phone, f"{stack.base_url}/p/{token}")
    report(phone, {"Double or blurred vision": "Moderate"})
    expect(phone.locator("main section").first).to_contain_text("Your clinic has been alerted.")

    stack.deliver()
    [alert] = [
        m for m in stack.mail_to(stack.clinician) if m["Subject"].startswith("URGENT: Double")
    ]
    assert alert["Subject"] == "URGENT: Double or blurred vision reported to Riverside Clinic"
    (flag_link,) = links_in(alert, "clinic")
    assert urlsplit(flag_link).path.startswith("/clinic/flags/")
    assert len(stack.mail_to(stack.admin)) == admin_mail  # the practitioner is there to act


def download(page, link: str) -> tuple[str, str]:
    """Press the link and wait for the browser's download: (its file name, its text)."""
    with page.expect_download() as started:
        page.get_by_role("link", name=link).click()
    return started.value.suggested_filename, Path(started.value.path()).read_text("utf-8")


def test_a_clinician_downloads_the_queue_csv_and_a_cases_fhir_bundle(stack, seeding, desktop):
    patient = data.treated_patient(seeding, "Cara Export")
    flag_id = data.flag_for(seeding, patient, "headache", severity=4)
    page = desktop
    staff_sign_in(page, stack)

    _, text = download(page, "Download CSV")
    [row] = [r for r in csv.DictReader(io.StringIO(text)) if r["patient_name"] == "Cara Export"]
    assert (row["symptom"], row["symptom_name"], row["reason"]) == (
        "headache",
        "Headache",
        "severe",
    )
    assert row["timezone"] == "Europe/London"

    page.locator(f"#case-{patient.treatment_id}").get_by_role("link", name="Cara Export").click()
    name, text = download(page, "FHIR bundle")
    assert name.startswith(f"case-{patient.treatment_id}-") and name.endswith(".fhir.json")
    bundle = json.loads(text)
    assert bundle["resourceType"] == "Bundle"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Procedure", "Medication", "AdverseEvent"} <= kinds

    _, text = download(page, "Download CSV")  # the case's own flags, here
    assert [r["flag_id"] for r in csv.DictReader(io.StringIO(text))] == [str(flag_id)]
