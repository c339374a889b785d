"""What a person does in the browser, step by step, shared by the journeys."""

from __future__ import annotations

from playwright.sync_api import Page, Response, expect

from tests.e2e.harness import Stack


def staff_sign_in(page: Page, stack: Stack) -> tuple[Response, Response]:
    """The clinician signs in on the sign-in page; (the page's response, the form's response)."""
    shown = page.goto(f"{stack.base_url}/signin")
    assert shown is not None and shown.ok, shown
    page.get_by_label("Email").fill(stack.clinician)
    page.get_by_label("Password").fill(stack.password)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Flags", exact=True)).to_be_visible()
    return shown, posted.value


def start_check_in(page: Page, link: str) -> None:
    """The patient opens their personal link and presses the start button."""
    page.goto(link)
    expect(page.get_by_role("heading", name="Your daily check-in")).to_be_visible()
    page.get_by_role("button", name="Start my check-in").tap()
    expect(page.get_by_role("heading", name="How are you today?")).to_be_visible()


def report(page: Page, severities: dict[str, str]) -> None:
    """Choose a severity for each named symptom (taps on its scale) and send the check-in."""
    for symptom, severity in severities.items():
        scale = page.get_by_role("group", name=symptom, exact=True)
        scale.get_by_text(severity, exact=True).tap()  # the label: the radio itself is hidden
        expect(scale.get_by_label(severity, exact=True)).to_be_checked()
    page.get_by_role("button", name="Send my check-in").tap()
