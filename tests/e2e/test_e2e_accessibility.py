"""WCAG 2.2 AA on every page type: axe-core in Chromium on each patient page (on a phone) and
each staff page (on a desktop), failing on any violation; then the keyboard (a skip link, a
visible focus on the severity scales) and reflow (320 CSS px, and a phone at 200% zoom).

One clinic of its own with an admin (second factor enrolled once) and a patient with a few
check-ins, seeded once for the module; each page is its own test id.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from tests import builders
from tests.e2e import data
from tests.e2e.conftest import DESKTOP, PHONE, TIMEOUT_MS
from tests.e2e.pages import Page, assert_accessible, enter_password, expect, start_check_in
from tests.test_course_chart import contrast
from tracker.extensions import db
from tracker.models import BatchSignal, OutboxMessage, Patient, Treatment, User
from tracker.models.outbox import FAILED
from tracker.services.clinics.catalogue_admin import clinic_symptoms
from tracker.services.clinics.clinics import create_user, find_clinic
from tracker.services.patients.links import issue_link
from tracker.services.patients.patients import PatientDetails, create_patient
from tracker.timeutil import utcnow

CODE_LABEL = "6-digit code from your authenticator app, or a recovery code"


@dataclass
class World:
    """The module's data: a clinic with an admin (and their authenticator) and a patient."""

    clinic: str
    admin_email: str
    clinician_email: str
    totp: pyotp.TOTP | None
    patient: data.Treated
    flag_id: int
    checkins: dict[str, int]
    symptom_id: int
    links: dict[str, str]
    stop_token: str
    untreated_link: str
    clinician_id: int
    batch_key: str


def _link(seeding, patient_id: int, now=None) -> str:
    with data.on(seeding):
        token = issue_link(db.session.get(Patient, patient_id), now=now)
        db.session.commit()
        return token


@pytest.fixture(scope="module")
def world(stack, seeding) -> World:
    clinic, clinician = data.clinic_of_its_own(seeding, stack, "Nora Nurse")
    admin = f"admin@{clinician.split('@', 1)[1]}"
    with data.on(seeding):
        create_user(find_clinic(clinic), admin, stack.password, "admin", name="Adam Admin")
        db.session.commit()
    # Its own batch: the open signal on it below must reach no other journey's clinic (the
    # sweep tells every clinic that used a batch of its open signals).
    batch = f"AX{secrets.token_hex(3).upper()}"
    patient = data.treated_patient(seeding, "Alys Access", clinic, batch_number=batch)
    flag_id = data.flag_for(seeding, patient, "headache", 4)
    checkins = {}
    with data.on(seeding):
        treatment = db.session.get(Treatment, patient.treatment_id)
        now = utcnow()
        checkins["nothing"] = builders.checkin(treatment, now, {}).checkin.id
        checkins["expected"] = builders.checkin(treatment, now, {"bruising": 2}).checkin.id
        checkins["urgent"] = builders.checkin(
            treatment, now, {"difficulty_breathing": 3, "swelling": 4}
        ).checkin.id
        symptom_id = clinic_symptoms(find_clinic(clinic).id)[0].id
        untreated = create_patient(
            find_clinic(clinic).id,
            PatientDetails(
                name="Una Untreated", email=data.unique_email("Una"), timezone="Europe/London"
            ),
        ).id
        treated = db.session.get(Treatment, patient.treatment_id)
        db.session.add(  # a signal on the patient's batch: the batch page shows it, to close
            BatchSignal(
                clinic_id=treated.clinic_id,
                kind="spread",
                product_key=treated.product_key,
                batch_key=treated.batch_key,
                product=treated.product,
                batch_number=treated.batch_number,
                treatment_ids=[treated.id],
                figures={"patients": 2, "treatments": 2, "symptoms": ["Difficulty breathing"]},
            )
        )
        clinician_id = db.session.scalar(select(User.id).where(User.email == clinician))
        for message in db.session.scalars(  # the invite bounced: Messages lists it
            select(OutboxMessage).where(OutboxMessage.patient_id == patient.patient_id)
        ):
            message.status, message.attempts, message.claimed_at = FAILED, 5, now
            message.last_error = "550 mailbox unavailable"
        db.session.commit()
    links = {
        "session": _link(seeding, patient.patient_id),
        "valid": _link(seeding, patient.patient_id),
        "expired": _link(seeding, patient.patient_id, now=utcnow() - timedelta(days=30)),
        "signout": _link(seeding, patient.patient_id),
    }
    stack.tokens.extend(links.values())
    return World(
        clinic=clinic,
        admin_email=admin,
        clinician_email=clinician,
        totp=None,
        patient=patient,
        flag_id=flag_id,
        checkins=checkins,
        symptom_id=symptom_id,
        links=links,
        stop_token=data.stop_token(seeding, patient),
        untreated_link=_link(seeding, untreated),
        clinician_id=clinician_id,
        batch_key=batch,
    )


def _context(chromium, device: dict):
    context = chromium.new_context(ignore_https_errors=True, **device)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(scope="module")
def patient_page(chromium, stack, world) -> Page:
    """A phone with the patient's session (started once with their link)."""
    context = _context(chromium, PHONE)
    page = context.new_page()
    start_check_in(page, f"{stack.base_url}/p/{world.links['session']}")
    yield page
    context.close()


def enrol(page: Page) -> pyotp.TOTP:
    """On the set-up page, the key goes into an app and its code turns the factor on."""
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    totp = pyotp.TOTP(page.locator("code.secret").inner_text().replace(" ", ""))
    page.get_by_label("The 6-digit code your app shows now").fill(totp.now())
    page.get_by_role("button", name="Turn on the second factor").click()
    expect(page.get_by_role("heading", name="Second factor set up")).to_be_visible()
    return totp


@pytest.fixture(scope="module")
def staff_page(chromium, stack, world) -> Page:
    """A desktop signed in as the clinic's admin (their second factor set up on the way)."""
    context = _context(chromium, DESKTOP)
    page = context.new_page()
    enter_password(page, stack, world.admin_email)
    world.totp = enrol(page)
    page.get_by_role("link", name="I have kept my codes: continue").click()
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    yield page
    context.close()


@pytest.fixture
def fresh_phone(chromium, stack) -> Page:
    context = _context(chromium, PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def fresh_desktop(chromium, stack) -> Page:
    context = _context(chromium, DESKTOP)
    yield context.new_page()
    context.close()


# --- the patient's pages, on the phone ------------------------------------------------------

Visit = Callable[[Page, str, World], None]


def go(path: str, status: int = 200, shows: str | None = None) -> Visit:
    """Open `path` (formatted with the world), expecting `status` and, if given, an element."""

    def visit(page: Page, base: str, world: World) -> None:
        response = page.goto(base + path.format(w=world))
        assert response is not None and response.status == status, (path, response)
        if shows:
            expect(page.locator(shows).first).to_be_visible()

    visit.path = path
    return visit


def checkin_with_errors(page: Page, base: str, world: World) -> None:
    """A tampered severity (a value no scale offers) comes back as the form's error summary."""
    page.goto(f"{base}/checkin")
    page.locator("input[type=radio][name^=severity_]").first.evaluate(
        "radio => { radio.value = '9'; radio.checked = true; }"
    )
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my check-in").click()
    assert posted.value.status == 422
    expect(page.locator(".error-summary")).to_be_visible()


def stop_done(page: Page, base: str, world: World) -> None:
    page.goto(f"{base}/stop/{world.stop_token}")
    page.get_by_role("button", name="Stop reminders").click()
    expect(page.locator("h1")).to_be_visible()


def reminders_with_errors(page: Page, base: str, world: World) -> None:
    page.goto(f"{base}/reminders")
    page.locator("input[name=reminder_time]").evaluate("input => { input.type = 'text'; }")
    page.locator("input[name=reminder_time]").fill("25:99")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save").click()
    assert posted.value.status == 422


checkin_with_errors.path = "/checkin"
stop_done.path = "/stop/{w.stop_token}"
reminders_with_errors.path = "/reminders"

PATIENT_PAGES: dict[str, Visit] = {
    "checkin": go("/checkin"),
    "checkin-with-errors": checkin_with_errors,
    "answer-nothing": go("/checkins/{w.checkins[nothing]}"),
    "answer-expected": go("/checkins/{w.checkins[expected]}"),
    "answer-urgent": go("/checkins/{w.checkins[urgent]}"),
    "timeline": go("/timeline"),
    "reminders": go("/reminders"),
    "reminders-with-errors": reminders_with_errors,
    "patient-404": go("/checkins/999999999", 404),
}
ANONYMOUS_PATIENT_PAGES: dict[str, Visit] = {
    "public-index": go("/"),
    "link-valid": go("/p/{w.links[valid]}"),
    "link-used": go("/p/{w.links[session]}", 410),
    "link-expired": go("/p/{w.links[expired]}", 410),
    "link-invalid": go("/p/not-a-link", 404),
    "stop-confirm": go("/stop/{w.stop_token}"),
    "stop-done": stop_done,
    "not-signed-in": go("/timeline", 401),
    "not-found": go("/no-such-page", 404),
}


@pytest.mark.parametrize("visit", PATIENT_PAGES.values(), ids=PATIENT_PAGES.keys())
def test_patient_page_has_no_axe_violation(stack, world, patient_page, visit):
    visit(patient_page, stack.base_url, world)
    assert_accessible(patient_page)


@pytest.mark.parametrize(
    "visit", ANONYMOUS_PATIENT_PAGES.values(), ids=ANONYMOUS_PATIENT_PAGES.keys()
)
def test_public_page_has_no_axe_violation(stack, world, fresh_phone, visit):
    visit(fresh_phone, stack.base_url, world)
    assert_accessible(fresh_phone)


def test_signed_out_page_has_no_axe_violation(stack, world, fresh_phone):
    start_check_in(fresh_phone, f"{stack.base_url}/p/{world.links['signout']}")
    fresh_phone.get_by_role("button", name="Sign out").tap()
    expect(fresh_phone.get_by_role("button", name="Sign out")).to_have_count(0)
    assert_accessible(fresh_phone)


def test_no_treatment_page_has_no_axe_violation(stack, world, fresh_phone):
    fresh_phone.goto(f"{stack.base_url}/p/{world.untreated_link}")
    fresh_phone.get_by_role("button", name="Start my check-in").tap()
    expect(fresh_phone.get_by_role("button", name="Sign out")).to_be_visible()
    assert_accessible(fresh_phone)


# --- the staff's pages, on a desktop ---------------------------------------------------------


def form_with_errors(path: str, button: str) -> Visit:
    """The form at `path` sent empty (the browser's own checks off): shown again with errors."""

    def visit(page: Page, base: str, world: World) -> None:
        page.goto(base + path.format(w=world))
        page.locator("main form[method=post]").last.evaluate("form => form.noValidate = true")
        for field in page.locator("main input[type=text], main input[type=email]").all():
            field.fill("")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.locator("main").get_by_role("button", name=button).click()
        assert posted.value.status in (400, 422), posted.value.status

    visit.path = path
    return visit


STAFF_PAGES: dict[str, Visit] = {
    "cases-queue": go("/clinic/"),
    "cases-filtered": go("/clinic/?reason=severe&status=open"),
    "cases-empty": go("/clinic/?assigned=me"),
    "case-page": go("/clinic/cases/{w.patient.treatment_id}"),
    "flag-page": go("/clinic/flags/{w.flag_id}"),
    "flags-list": go("/clinic/flags"),
    "patients": go("/clinic/patients"),
    "patients-search": go("/clinic/patients?q=Alys"),
    "patients-search-empty": go("/clinic/patients?q=Nobody+By+That+Name"),
    "patient-new": go("/clinic/patients/new"),
    "patient-new-with-errors": form_with_errors("/clinic/patients/new", "Save"),
    "patient-edit": go("/clinic/patients/{w.patient.patient_id}/edit"),
    "patient-detail": go("/clinic/patients/{w.patient.patient_id}"),
    "patient-erase": go("/clinic/patients/{w.patient.patient_id}/erase"),
    "treatment-new": go("/clinic/patients/{w.patient.patient_id}/treatments/new"),
    "treatment-new-with-errors": form_with_errors(
        "/clinic/patients/{w.patient.patient_id}/treatments/new", "Save"
    ),
    "treatment-detail": go("/clinic/treatments/{w.patient.treatment_id}"),
    "catalogue": go("/clinic/catalogue"),
    "symptom-form": go("/clinic/catalogue/{w.symptom_id}"),
    "staff-list": go("/clinic/staff", shows="tr[id^=staff-] form"),
    "staff-new": go("/clinic/staff/new"),
    "staff-new-with-errors": form_with_errors("/clinic/staff/new", "Add"),
    "staff-details": go("/clinic/staff/{w.clinician_id}/details"),
    "audit-log": go("/clinic/audit"),
    "batches": go("/clinic/batches"),
    "batch-page": go("/clinic/batches/botox/{w.batch_key}"),
    "case-report": go("/clinic/cases/{w.patient.treatment_id}/report"),
    "messages-failed": go("/clinic/messages", shows="tr[id^=message-]"),
    "account": go("/account/password"),
    "api-docs": go("/api/v1/docs"),
    "staff-404": go("/clinic/patients/999999999", 404),
}


@pytest.mark.parametrize("visit", STAFF_PAGES.values(), ids=STAFF_PAGES.keys())
def test_staff_page_has_no_axe_violation(stack, world, staff_page, visit):
    visit(staff_page, stack.base_url, world)
    assert_accessible(staff_page)


def test_staff_sign_in_pages_have_no_axe_violation(stack, world, staff_page, fresh_desktop):
    """Sign-in (as shown, then refused), and the second factor's code page."""
    page = fresh_desktop
    page.goto(f"{stack.base_url}/signin")
    assert_accessible(page)
    page.get_by_label("Email").fill(world.admin_email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".field-error, .error-summary, .flash").first).to_be_visible()
    assert_accessible(page)
    enter_password(page, stack, world.admin_email)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert_accessible(page)
    page.get_by_label(CODE_LABEL).fill("000000" if world.totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".field-error")).to_be_visible()
    assert_accessible(page)


def test_second_factor_enrolment_pages_have_no_axe_violation(stack, seeding, fresh_desktop):
    """The set-up page (with its QR code) and the recovery codes, for a new admin."""
    _, email = data.clinic_of_its_own(seeding, stack, "Ed Enrol")
    with data.on(seeding):
        user = db.session.scalars(select(User).where(User.email == email)).one()
        user.role = "admin"
        db.session.commit()
    enter_password(fresh_desktop, stack, email)
    expect(fresh_desktop.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    assert_accessible(fresh_desktop)
    enrol(fresh_desktop)
    assert_accessible(fresh_desktop)


def test_forbidden_page_has_no_axe_violation(stack, world, fresh_desktop):
    """A clinician (not an admin) asking for the staff list."""
    enter_password(fresh_desktop, stack, world.clinician_email)
    response = fresh_desktop.goto(f"{stack.base_url}/clinic/staff")
    assert response is not None and response.status == 403
    assert_accessible(fresh_desktop)


# --- every page is in the lists above ------------------------------------------------------

NOT_PAGES = {
    "static",
    "health.healthz",
    "clinic.treatment_fhir",
    *("clinic.photo", "clinic.photo_thumbnail", "patient.photo", "patient.photo_thumbnail"),
}
"""GET endpoints that answer with no HTML page (besides the API's JSON and the downloads): the
photos are JPEGs, shown in the pages that are checked (the answer page, the case page)."""
TESTED_ON_THEIR_OWN = {"auth.signin", "auth.enter_code", "auth.enrol"}  # the sign-in tests


def test_every_html_page_of_the_url_map_is_checked_with_axe(app):
    """A new page (a GET endpoint that is neither JSON nor a download) must join a list here."""
    urls = app.url_map.bind("127.0.0.1")

    def endpoint(path: str) -> str:
        try:
            return urls.match(re.sub(r"\{[^}]*\}", "1", path).split("?")[0])[0]
        except NotFound:
            return "the 404 page"

    visited = {
        endpoint(visit.path)
        for pages in (PATIENT_PAGES, ANONYMOUS_PATIENT_PAGES, STAFF_PAGES)
        for visit in pages.values()
    } | TESTED_ON_THEIR_OWN
    assert "the 404 page" in visited
    pages = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and rule.endpoint not in NOT_PAGES
        and not (rule.endpoint.startswith("api.") and rule.endpoint != "api.docs")
        and not rule.endpoint.startswith("clinic.export_")
    }
    assert pages - visited == set()


# --- the keyboard ----------------------------------------------------------------------------


def test_the_skip_link_is_the_first_tab_and_moves_focus_to_main(stack, world, patient_page):
    page = patient_page
    page.goto(f"{stack.base_url}/checkin")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next Tab goes into the page's content, past the header
    assert page.evaluate("!!document.activeElement.closest('main')")


def rgb(css: str) -> str:
    """A computed colour, rgb(r, g, b) or rgba(...), as #rrggbb."""
    return "#" + "".join(f"{int(float(n)):02x}" for n in re.findall(r"[\d.]+", css)[:3])


FOCUS_STYLE = """el => {
  const s = getComputedStyle(el);
  let around = el.parentElement;  // the ring is drawn outside the element, on its surroundings
  while (around && getComputedStyle(around).backgroundColor === 'rgba(0, 0, 0, 0)') {
    around = around.parentElement;
  }
  return {outline: s.outlineStyle !== 'none' ? [s.outlineColor, parseFloat(s.outlineWidth)] : null,
          shadow: s.boxShadow, page: getComputedStyle(around || document.body).backgroundColor};
}"""


def focus_ring(element) -> tuple[str, float, str]:
    """The focus indicator drawn around `element`: (colour, width in px, the colour behind it)."""
    style = element.evaluate(FOCUS_STYLE)
    if style["outline"]:
        colour, width = style["outline"]
        return rgb(colour), width, rgb(style["page"])
    assert style["shadow"] != "none", "no outline and no box-shadow"
    colour = rgb(style["shadow"])
    width = float(re.findall(r"([\d.]+)px", style["shadow"].split(")", 1)[1])[-1])
    return colour, width, rgb(style["page"])


def test_keyboard_focus_on_a_severity_scale_is_clearly_visible(stack, world, patient_page):
    """Tab from the top of the check-in to the first scale (its radios are hidden): the label
    of the focused radio gets a ring of at least 2 px at 3:1 against what is behind it
    (WCAG 2.4.7, 2.4.13, 1.4.11), which it has not without the focus (the chosen one's own mark
    is not a focus indicator); the arrows move the ring along the scale."""
    page = patient_page
    page.goto(f"{stack.base_url}/checkin")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('.scale')"):
            break
    else:
        pytest.fail("60 Tabs did not reach a severity scale")
    focused = page.locator(".scale label:has(input:focus-visible)")
    expect(focused).to_have_count(1)
    colour, width, background = focus_ring(focused)
    assert width >= 2, width
    assert contrast(colour, background) >= 3, (colour, background)
    label = focused.element_handle()
    page.keyboard.press("Tab")  # on, out of this scale
    unfocused = label.evaluate(FOCUS_STYLE)
    assert unfocused["outline"] is None or unfocused["outline"][1] < 2, unfocused
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("ArrowRight")
    expect(page.locator(".scale label:has(input:focus-visible)")).to_have_count(1)
    assert not label.evaluate("el => el.matches(':has(input:focus-visible)')")


@pytest.mark.parametrize("selector", ["header.site a.brand", "main a, main button"])
def test_keyboard_focus_on_links_and_buttons_is_clearly_visible(stack, world, staff_page, selector):
    page = staff_page
    page.goto(f"{stack.base_url}/clinic/patients")
    element = page.locator(selector).first
    element.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert element.evaluate("el => el === document.activeElement")
    colour, width, background = focus_ring(element)
    assert width >= 2, width
    assert contrast(colour, background) >= 3, (colour, background)


# --- reflow ----------------------------------------------------------------------------------

NARROW = {"viewport": {"width": 320, "height": 640}, "is_mobile": True, "has_touch": True}
ZOOMED = {  # a 390 px phone at 200% zoom
    "viewport": {"width": 195, "height": 422},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
CLIPPED = """() => [...document.querySelectorAll('button, .button, a, label, h1, h2, legend')]
  .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
  .map(el => el.outerHTML.slice(0, 120))"""
TOO_WIDE = """() => { const width = document.documentElement.clientWidth;
  return [...document.body.querySelectorAll('*')]
    .filter(el => el.getBoundingClientRect().right > width + 1 && !el.closest('.table-scroll')
      && el.parentElement.getBoundingClientRect().right <= width + 1)
    .map(el => el.outerHTML.slice(0, 120)); }"""


def assert_reflows(page: Page) -> None:
    """No sideways scrolling of the page (the elements sticking out are named), and no control
    or heading whose text is cut off; tables may scroll inside their .table-scroll box."""
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client, (page.url, scroll, client, page.evaluate(TOO_WIDE))
    assert page.evaluate(CLIPPED) == [], page.url


@pytest.mark.parametrize("device", [NARROW, ZOOMED], ids=["320px", "zoom-200"])
def test_patient_pages_reflow(chromium, stack, seeding, world, device):
    token = _link(seeding, world.patient.patient_id)
    stack.tokens.append(token)
    context = _context(chromium, device)
    try:
        page = context.new_page()
        for path in (
            "/",
            "/p/not-a-link",
            f"/p/{world.links['expired']}",
            f"/stop/{world.stop_token}",
        ):
            page.goto(stack.base_url + path)
            assert_reflows(page)
        page.goto(f"{stack.base_url}/p/{token}")
        assert_reflows(page)
        page.get_by_role("button", name="Start my check-in").tap()
        expect(page.get_by_role("heading", name="How are you today?")).to_be_visible()
        none = page.get_by_role("button", name="No symptoms today")
        box = none.bounding_box()
        assert (
            box is not None
            and box["x"] >= 0
            and box["x"] + box["width"] <= device["viewport"]["width"]
        )
        assert_reflows(page)
        for path in ("/timeline", "/reminders", f"/checkins/{world.checkins['urgent']}"):
            page.goto(stack.base_url + path)
            assert_reflows(page)
    finally:
        context.close()


STAFF_REFLOW = [
    "/clinic/",
    "/clinic/cases/{w.patient.treatment_id}",
    "/clinic/patients",
    "/clinic/patients/{w.patient.patient_id}",
    "/clinic/patients/new",
]


@pytest.mark.parametrize("width", [320, 640], ids=["320px", "640px"])
def test_main_staff_pages_reflow(stack, world, staff_page, width):
    staff_page.set_viewport_size({"width": width, "height": 700})
    try:
        for path in STAFF_REFLOW:
            staff_page.goto(stack.base_url + path.format(w=world))
            assert_reflows(staff_page)
    finally:
        staff_page.set_viewport_size(DESKTOP["viewport"])
