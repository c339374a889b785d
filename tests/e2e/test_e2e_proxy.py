"""Journey 5: behind the proxy every client keeps its own address, so one address that fails to
sign in too often is throttled while a colleague elsewhere signs in as usual."""

from __future__ import annotations

from tests.e2e import data
from tests.e2e.pages import ProxiedClient

BROWSER_FORM_POST = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}
"""What Chromium sends with our forms (`Referrer-Policy: no-referrer`: no Referer)."""
ADDRESS_LIMIT = 20  # failed sign-ins per address per 15 minutes (5 per account)


def sign_in(client: ProxiedClient, csrf: str, email: str, password: str, **headers) -> tuple:
    form = {"csrf_token": csrf, "email": email, "password": password}
    return client.request("POST", "/signin", form, headers={**BROWSER_FORM_POST, **headers})


def test_one_address_is_throttled_behind_the_proxy_and_another_is_not(stack, seeding):
    guesser = ProxiedClient(stack.port, stack=stack, source="127.0.0.2")
    csrf = guesser.form_token("/signin")
    for attempt in range(ADDRESS_LIMIT):  # a different account each time: the address limit
        status, _ = sign_in(guesser, csrf, f"guess{attempt}@riverside.test", "wrong password")
        assert status == 401
    # Even the right password is refused now, and a made-up X-Forwarded-For does not help:
    # nginx appends the address it saw, and the app believes that one hop only.
    status, text = sign_in(
        guesser, csrf, stack.clinician, stack.password, **{"X-Forwarded-For": "203.0.113.9"}
    )
    assert status == 429
    assert "Too many failed sign-ins" in text

    colleague = ProxiedClient(stack.port, stack=stack, source="127.0.0.3")
    status, _ = sign_in(colleague, colleague.form_token("/signin"), stack.clinician, stack.password)
    assert status == 302

    failures = data.failed_sign_ins_by_address(seeding)
    assert failures["127.0.0.2"] == ADDRESS_LIMIT  # the client's address, not the proxy's
    assert failures["203.0.113.9"] == failures["127.0.0.3"] == 0
