"""What people do, shared by the journeys: in the browser, in their mail, or with a plain HTTPS
client."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from tests.e2e.harness import Stack
from tests.test_gunicorn_concurrency import Browser

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Page, Response, expect
except ImportError:  # every journey then skips, saying why (conftest): nothing here runs
    Axe = Page = Response = expect = None


SCREENSHOTS = Path(
    os.environ.get("E2E_SCREENSHOTS", Path(__file__).parents[2] / "instance" / "screenshots")
)
"""Where `screenshot` saves pages, for people to look at (never committed: under instance/)."""


def screenshot(page: Page, name: str) -> Path:
    """Save the whole of the page as `<name>.png`, for a person to see what the journey saw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
"""WCAG 2.0/2.1/2.2 A and AA, and axe's best practices (landmarks, heading order, one h1,
empty table headers), which the WCAG tags alone do not check."""


def axe_report(page: Page) -> list[str]:
    """axe-core's violations (AXE_TAGS) on the whole page, one readable line
    per violation: rule, impact, what it means, and the elements (CSS selectors) at fault.

    It waits for the page's "load" event first: run on a page whose stylesheets are still
    arriving, axe judges the unstyled page (tiny links and buttons fail target-size)."""
    page.wait_for_load_state("load")
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
    ]


def assert_accessible(page: Page) -> None:
    violations = axe_report(page)
    assert violations == [], f"{page.url}:\n  " + "\n  ".join(violations)


def enter_password(page: Page, stack: Stack, email: str) -> tuple[Response, Response]:
    """Someone of the staff gives their password on the sign-in page; (the page's response,
    the form's response)."""
    shown = page.goto(f"{stack.base_url}/signin")
    assert shown is not None and shown.ok, shown
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(stack.password)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign in").click()
    return shown, posted.value


def staff_sign_in(page: Page, stack: Stack) -> tuple[Response, Response]:
    """The clinician signs in on the sign-in page; (the page's response, the form's response)."""
    responses = enter_password(page, stack, stack.clinician)
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    return responses


def add_patient(page: Page, name: str, email: str, language: str | None = None) -> None:
    """The signed-in clinician adds a patient in London (reading `language`, if given)."""
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Add a patient").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Timezone").select_option("Europe/London")
    if language is not None:
        page.get_by_label("Language of pages and emails").select_option(language)
    page.get_by_role("button", name="Save patient").click()


@dataclass(frozen=True)
class CheckInWords:
    """What the link page and the check-in form say, in the patient's language: what a
    journey looks for and presses."""

    link_page: str = "Your daily check-in"
    start: str = "Start my check-in"
    form: str = "How are you today?"
    urgent_question: str = "Right now, do you have any of these?"
    send: str = "Send my check-in"


def start_check_in(page: Page, link: str, words: CheckInWords = CheckInWords()) -> None:
    """The patient opens their personal link and presses the start button."""
    page.goto(link)
    expect(page.get_by_role("heading", name=words.link_page)).to_be_visible()
    page.get_by_role("button", name=words.start).tap()
    expect(page.get_by_role("heading", name=words.form)).to_be_visible()


def report(page: Page, severities: dict[str, str], words: CheckInWords = CheckInWords()) -> None:
    """Answer for each named symptom and send the check-in: an urgent one is ticked in "Right
    now, do you have any of these?" (its severity is not asked), any other gets its severity
    tapped on its scale, after opening its body area's group if that is closed."""
    urgent = page.get_by_role("group", name=words.urgent_question)
    for symptom, severity in severities.items():
        tick = urgent.get_by_label(symptom, exact=True)
        if tick.count():
            tick.tap()
            expect(tick).to_be_checked()
            continue
        scale = page.get_by_role("group", name=symptom, exact=True)
        if not scale.is_visible():  # in a closed group: not in the accessibility tree yet
            legend = page.locator("legend").get_by_text(symptom, exact=True)
            page.locator("details.area", has=legend).locator("summary").tap()
        scale.get_by_text(severity, exact=True).tap()  # the label: the radio itself is hidden
        expect(scale.get_by_label(severity, exact=True)).to_be_checked()
    page.get_by_role("button", name=words.send).tap()


@dataclass
class ProxiedClient(Browser):
    """A plain HTTPS client at its own loopback address, through nginx (which trusts our cert).

    The whole of 127.0.0.0/8 is this machine on Linux, so binding the client's socket to
    127.0.0.2 or 127.0.0.3 before it connects gives each client its own address as nginx sees
    it ($remote_addr, then X-Forwarded-For), with one nginx listening on 127.0.0.1 alone.
    """

    stack: Stack | None = None
    source: str = "127.0.0.1"

    def connect(self) -> http.client.HTTPConnection:
        assert self.stack is not None
        return self.stack.https(self.source)


def api(
    stack: Stack, method: str, path: str, body: dict | None = None, token: str | None = None
) -> tuple[int, dict]:
    """A JSON request to the API through nginx, as an integration sends it; (status, JSON)."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with contextlib.closing(stack.https()) as connection:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")


LINK_RE = re.compile(r"https://127\.0\.0\.1:\d+/[^\s<>\"]+")


def links_in(message: EmailMessage, kind: str) -> list[str]:
    """The links to `/<kind>/...` (p, stop, clinic) in a message's plain-text part."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    return [link for link in LINK_RE.findall(text) if urlsplit(link).path.startswith(f"/{kind}/")]
