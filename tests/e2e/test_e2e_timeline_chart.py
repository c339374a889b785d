"""Journey: a patient on their phone opens My timeline and sees each symptom's expected course
drawn (the band it usually lasts, their check-ins, today), with the days in words beneath; the
clinician's case page shows the same chart."""

from __future__ import annotations

from datetime import timedelta

from axe_playwright_python.sync_playwright import Axe

from tests import builders
from tests.e2e import data
from tests.e2e.pages import enter_password, expect, screenshot, start_check_in
from tracker.extensions import db
from tracker.models import Treatment
from tracker.timeutil import utcnow


def axe_violations(page, selector: str) -> list[str]:
    """axe-core's WCAG 2.2 A/AA violations inside `selector` (the chart's own figure)."""
    results = Axe().run(
        page,
        context=selector,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]}
        },
    )
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


def treated_days_ago(app, treated: data.Treated, days: int, checkins: dict[int, dict]) -> None:
    """Move the treatment `days` back and record check-ins on the days given (10:00 UTC on day
    N, or two hours ago for today), through the check-in service."""
    with data.on(app):
        treatment = db.session.get(Treatment, treated.treatment_id)
        now = utcnow()
        treatment.treated_at = (now - timedelta(days=days)).replace(hour=8, minute=0)
        db.session.flush()
        for day, symptoms in checkins.items():
            at = min(treatment.treated_at + timedelta(days=day, hours=2), now)
            builders.checkin(treatment, at, symptoms, now=at)
        db.session.commit()


def test_the_expected_course_is_drawn_on_the_phone_and_on_the_case_page(
    stack, seeding, phone, desktop
):
    clinic, nurse_email = data.clinic_of_its_own(seeding, stack, "Nia Nurse")
    patient = data.treated_patient(seeding, "Tia Timeline", clinic)
    treated_days_ago(
        seeding,
        patient,
        5,
        {1: {"bruising": 2, "headache": 1}, 2: {"bruising": 3}, 4: {"bruising": 1}},
    )
    token = data.personal_link(seeding, patient)
    stack.tokens.append(token)

    start_check_in(phone, f"{stack.base_url}/p/{token}")  # the session starts at its button
    phone.get_by_role("link", name="My timeline").tap()
    expect(phone.get_by_role("heading", name="My timeline")).to_be_visible()
    expect(phone.get_by_text("Day 0 is the day of your treatment.")).to_be_visible()
    bruising = phone.locator("#chart-bruising")
    chart = bruising.get_by_role("img", name="Bruising: severity day by day")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.band")).to_have_count(1)  # the expected band
    expect(chart.locator("circle.dot")).to_have_count(3)
    expect(chart.locator("line.today")).to_have_count(1)
    expect(chart.locator("rect.overdue")).to_have_count(2)  # days 4 and 5
    expect(chart.locator("desc")).to_contain_text("Usually gone within 3 days")
    expect(chart.locator("desc")).to_contain_text("longer than expected")
    legend = bruising.locator(".course-legend")
    expect(legend).to_contain_text("Expected duration")
    expect(legend).to_contain_text("Longer than expected")
    box = chart.bounding_box()
    assert box is not None and box["width"] <= 390  # fits the phone
    screenshot(phone, "timeline-phone")

    bruising.get_by_text("Day by day", exact=True).tap()
    table = bruising.get_by_role("table", name="Bruising, day by day")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(6)  # days 0 to 5 (today)
    expect(rows.nth(2)).to_contain_text("Severe")
    expect(rows.nth(3)).to_contain_text("No check-in (still there)")
    expect(rows.nth(4)).to_contain_text("Mild")
    expect(rows.nth(4)).to_contain_text("Yes")
    expect(rows.nth(5)).to_contain_text("5 (today)")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    rows.nth(5).scroll_into_view_if_needed()
    expect(rows.nth(5)).to_be_in_viewport()
    screenshot(phone, "timeline-phone-day-by-day")
    assert axe_violations(phone, "#chart-bruising") == []

    enter_password(desktop, stack, nurse_email)
    desktop.goto(f"{stack.base_url}/clinic/cases/{patient.treatment_id}")
    expect(desktop.get_by_role("heading", level=1)).to_have_text("Tia Timeline")
    staff_chart = desktop.locator("#history-chart-bruising").get_by_role(
        "img", name="Bruising: severity day by day"
    )
    expect(staff_chart).to_be_visible()
    expect(staff_chart.locator("rect.band")).to_have_count(1)
    expect(staff_chart.locator("circle.dot")).to_have_count(3)
    expect(staff_chart.locator("desc")).to_have_text(chart.locator("desc").text_content())
    desktop.locator("#history-chart-bruising").scroll_into_view_if_needed()
    screenshot(desktop, "timeline-case-page")
    assert axe_violations(desktop, "#history-chart-bruising") == []
