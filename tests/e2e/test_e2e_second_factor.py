"""Journey 7: the clinic's admin, at a desktop over HTTPS behind the proxy, must set up a second
factor at their first sign-in (a QR code under our CSP, or its key as text), then signs in with
it; the API asks for it too. Recovery codes stand in for the app's codes after enrolment, so
no test waits for the next 30-second step (a code's step is never accepted twice)."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp

from tests.e2e.pages import Page, api, enter_password, expect
from tracker.timeutil import utcnow

WRONG_CODE = "That code is not right, or was used already."
CODE_LABEL = "6-digit code from your authenticator app, or a recovery code"


def wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits that are no code of the steps the app accepts now (this one, either side)."""
    now = utcnow()
    accepted = {totp.at(now + timedelta(seconds=30 * step)) for step in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(10)) if code not in accepted)


def enrol(page: Page, console: list[str]) -> tuple[str, list[str]]:
    """On the set-up page the QR code shows and the key goes into an app; (key, recovery codes)."""
    qr = page.get_by_role("img", name="QR code holding your Aftercare authenticator key")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0  # drawn, not refused
    assert [line for line in console if "Content Security Policy" in line] == []
    key = page.locator("code.secret").inner_text()
    app = pyotp.TOTP(key.replace(" ", ""))
    page.get_by_label("The 6-digit code your app shows now").fill(app.now())
    page.get_by_role("button", name="Turn on the second factor").click()
    expect(page.get_by_role("heading", name="Second factor set up")).to_be_visible()
    codes = page.locator("ol.recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    return app.secret, codes


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()


def enter_code(page: Page, code: str) -> None:
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label(CODE_LABEL).fill(code)
    page.get_by_role("button", name="Continue").click()


def test_an_admin_sets_up_a_second_factor_and_then_needs_it(stack, desktop):
    page = desktop
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

    # 1. The password alone leads to the set-up page, and nowhere else.
    enter_password(page, stack, stack.admin)
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    key = page.locator("code.secret").inner_text()
    page.goto(f"{stack.base_url}/clinic/")  # a staff page sends them back to finish setting up
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_have_count(0)
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    expect(page.locator(".flash")).to_have_text("Finish signing in first.")
    expect(page.locator("code.secret")).to_have_text(key)  # the same half sign-in, same key
    secret, recovery = enrol(page, console)
    page.get_by_role("link", name="I have kept my codes: continue").click()
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    page.goto(f"{stack.base_url}/account/second-factor")  # the codes are never shown again
    expect(page.locator(".flash")).to_have_text("Your second factor is already set up.")
    expect(page.locator("ol.recovery-codes")).to_have_count(0)
    sign_out(page)

    # 2. Signing in again: the password, then a code; a wrong one is refused, saying so.
    enter_password(page, stack, stack.admin)
    enter_code(page, wrong_code(pyotp.TOTP(secret)))
    expect(page.locator(".field-error")).to_contain_text(WRONG_CODE)
    enter_code(page, recovery[0])
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    sign_out(page)
    enter_password(page, stack, stack.admin)
    enter_code(page, recovery[0])  # a recovery code works once
    expect(page.locator(".field-error")).to_contain_text(WRONG_CODE)
    enter_code(page, recovery[1])
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()

    # 3. The API through nginx asks for the second factor as well.
    credentials = {"email": stack.admin, "password": stack.password}
    status, body = api(stack, "POST", "/api/v1/token", credentials)
    assert (status, body["error"]["code"]) == (401, "otp_required"), body
    status, body = api(stack, "POST", "/api/v1/token", {**credentials, "otp": recovery[1]})
    assert (status, body["error"]["code"]) == (401, "invalid_otp"), body  # used in the browser
    status, body = api(stack, "POST", "/api/v1/token", {**credentials, "otp": recovery[2]})
    assert status == 200, body
    status, flags = api(stack, "GET", "/api/v1/flags", token=body["token"])
    assert status == 200, flags
    assert [line for line in console if "Content Security Policy" in line] == []
