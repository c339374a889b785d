"""Every form, fed arbitrary input with a valid CSRF token: a success or a clear 4xx, never a 500.

The forms are read from the pages themselves (every `<form method="post">` and its field
names), so a form added later is fuzzed without touching this file. Hypothesis draws each
field's value from text, numbers, dates and edge cases, and sometimes adds a field the form does
not have. Bounded: a few dozen examples a page.
"""

from __future__ import annotations

from html import unescape
from html.parser import HTMLParser

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.cases import flagged_case
from tests.conftest import PatientActions, StaffActions, give_second_factor
from tracker.extensions import db
from tracker.forms import Form
from tracker.inputs import NUL_ERROR
from tracker.models import LoginAttempt
from tracker.services.staff import second_factor

EDGE_CASES = [
    "",
    " ",
    "0",
    "4",
    "-1",
    "99999999999999999999",
    "1e309",
    "nan",
    "2026-03-02T10:00",
    "2026-02-30T25:61",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "25:00",
    "06:00",
    "Europe/London",
    "Mars/Olympus_Mons",
    "forehead",
    "reassured",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x")',
    "\x00",
    "a\x00b",
    "İ" * 250 + "@example.com",  # lower-cased, each İ is two characters: past any column
    "é" * 3000,
]
VALUE = st.one_of(
    st.sampled_from(EDGE_CASES),
    st.text(max_size=200),
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
)


class FormReader(HTMLParser):
    """The POST forms of a page: (action, field names), csrf_token left to the caller."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str | None, set[str]]] = []
        self.ticks: set[str] = set()
        """Checkboxes, buttons and file inputs: only whether they are sent counts, never their
        text (a file's bytes are judged by the photo service: tests/test_photo_images.py)."""
        self._fields: set[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._fields = set()
            self.forms.append((attrs.get("action"), self._fields))
        elif tag in ("input", "select", "textarea") and self._fields is not None:
            name = attrs.get("name")
            if name and name != "csrf_token":
                self._fields.add(name)
                if attrs.get("type") in ("checkbox", "submit", "file"):
                    self.ticks.add(name)

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None


def read_page(client, page_url: str) -> tuple[FormReader, str]:
    """The page's POST forms, and its CSRF token."""
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    reader = FormReader()
    reader.feed(page.text)
    token_start = page.text.find('name="csrf_token"')
    assert token_start != -1, page_url
    return reader, page.text[token_start:].split('value="', 1)[1].split('"', 1)[0]


def post_forms(client, page_url: str) -> list[tuple[str, list[str], str]]:
    """(action URL, field names, CSRF token) for each POST form on the page."""
    reader, token = read_page(client, page_url)
    return [
        (action or page_url, sorted(fields), token)
        for action, fields in reader.forms
        if action not in KEEP_OUT
    ]


KEEP_OUT = {"/signout", "/patient/signout"}
"""Forms that end the session the fuzzing runs in (they take no input anyway)."""

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def case(app, admin, make_patient, time_machine):
    """A patient with a check-in and a flag, a signed-in admin (who reaches every clinic form)
    and a signed-in patient."""
    flagged = flagged_case(app, admin, make_patient, time_machine)
    patient_client = app.test_client()
    assert PatientActions(patient_client).sign_in(flagged["patient"]).status_code == 302
    return {
        "staff": flagged["staff"],
        "patient": patient_client,
        "visitor": app.test_client(),
        "patient_id": flagged["patient"].id,
        "flag_id": flagged["flag"].id,
        "symptom_id": db.session.execute(db.text("SELECT min(id) FROM symptoms")).scalar_one(),
    }


STAFF_PAGES = [
    "/clinic/patients/new",
    "/clinic/patients/{patient_id}/edit",
    "/clinic/patients/{patient_id}/treatments/new",
    "/clinic/flags/{flag_id}",
    "/clinic/catalogue/{symptom_id}",
    "/clinic/staff",
    "/clinic/staff/new",
    "/account/password",
]
PATIENT_PAGES = ["/checkin", "/reminders"]


MAX_FIELDS = 40


def fuzz_page(client, url: str, data) -> None:
    """Post one drawn input to one of the page's forms.

    The draws don't depend on the page (a form index, a fixed-length list of values, an extra
    field), because the forms on a page change as the fuzzing changes the data (a flag once
    resolved has no resolve form), and Hypothesis needs each example to draw the same way again.
    """
    which = data.draw(st.integers(min_value=0, max_value=7))
    values = data.draw(
        st.lists(st.tuples(st.booleans(), VALUE), min_size=MAX_FIELDS, max_size=MAX_FIELDS)
    )
    extra = data.draw(st.sampled_from([None, "severity_unknown", "extra", "onset_x"]))
    forms = post_forms(client, url)
    assert forms, f"{url} has no POST form to fuzz"
    action, fields, token = forms[which % len(forms)]
    assert len(fields) <= MAX_FIELDS
    body = {name: value for name, (sent, value) in zip(fields, values, strict=False) if sent}
    if extra:
        body[extra] = "1"
    response = client.post(action, data={"csrf_token": token, **body})
    assert response.status_code < 500, (action, body, response.status_code)


@pytest.mark.parametrize("page", STAFF_PAGES)
@FUZZ
@given(data=st.data())
def test_clinic_forms_never_fail_with_a_server_error(case, page, data):
    fuzz_page(case["staff"], page.format(**case), data)


@pytest.mark.parametrize("page", PATIENT_PAGES)
@FUZZ
@given(data=st.data())
def test_patient_forms_never_fail_with_a_server_error(case, page, data):
    fuzz_page(case["patient"], page, data)


@FUZZ
@given(data=st.data())
def test_the_sign_in_form_never_fails_with_a_server_error(app, clinic, data):
    fuzz_page(app.test_client(), "/signin", data)


# --- NUL characters, field by field ------------------------------------------------------------

NUL_PAGES = (
    [("staff", page) for page in STAFF_PAGES]
    + [("patient", page) for page in PATIENT_PAGES]
    + [("visitor", "/signin")]
)


@pytest.mark.parametrize(("who", "page"), NUL_PAGES, ids=[page for _, page in NUL_PAGES])
def test_a_nul_character_in_any_field_of_any_form_is_a_clear_field_error(case, who, page):
    """PostgreSQL cannot store NUL in text: each field of each form says so, and keeps nothing."""
    client = case[who]
    url = page.format(**case)
    reader, token = read_page(client, url)
    for action, fields in reader.forms:
        if action in KEEP_OUT:
            continue
        for name in fields:
            response = client.post(action or url, data={"csrf_token": token, name: "a\x00b"})
            assert response.status_code < 500, (action, name)
            if name not in reader.ticks:
                assert response.status_code == 422, (action, name, response.status_code)
                assert NUL_ERROR in unescape(response.text), (action, name)


def test_every_form_of_the_app_derives_from_the_one_base_form(app):
    """The NUL and date checks come from `tracker.forms.Form`: a form without it would lack them."""
    forms, todo = [], [FlaskForm]
    while todo:
        for subclass in todo.pop().__subclasses__():
            todo.append(subclass)
            if subclass.__module__.startswith("tracker.") and subclass is not Form:
                forms.append(subclass)
    assert len(forms) > 15, forms
    assert [f.__qualname__ for f in forms if not issubclass(f, Form)] == []


@pytest.mark.parametrize("step", ["/signin/code", "/account/second-factor"])
@FUZZ
@given(data=st.data())
def test_the_second_factor_forms_never_fail_with_a_server_error(app, clinic, admin, step, data):
    db.session.execute(delete(LoginAttempt))  # each example starts unthrottled
    db.session.commit()
    if step == "/signin/code" and not second_factor.is_enrolled(admin):
        give_second_factor(admin)
    staff = StaffActions(app.test_client())
    assert staff.submit_password(admin.email).headers["Location"] == step
    fuzz_page(staff.client, step, data)
