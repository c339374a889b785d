"""Fixtures: a fresh, migrated database per test, the app, its client, and data builders.

Without `TEST_DATABASE_URL` each test gets a copy of a SQLite file migrated once per session.
With `TEST_DATABASE_URL=postgresql+psycopg://user@host:port/NAME` the run creates its own database
`NAME_pytest_<pid>` beside NAME (so two runs at once never share one), migrates it once with the
real migrations, empties every table before each test, and drops it at the end.
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
from collections.abc import Iterator

import pyotp
import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import select

from tests import builders, pg
from tests.builders import TREATED_AT
from tracker import create_app
from tracker.catalogue import DEFAULT_CATALOGUE, URGENT
from tracker.extensions import db
from tracker.models import Patient, SecondFactor, User
from tracker.services.clinics.clinics import create_clinic, create_user
from tracker.services.patients.links import issue_link
from tracker.services.staff import second_factor
from tracker.services.staff.recovery_codes import replace_codes
from tracker.timeutil import utcnow

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None
ON_POSTGRESQL = bool(TEST_DATABASE_URL)

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


class IsolatedClient(FlaskClient):
    """A test client whose requests each run in a fresh context, as they do in production.

    Flask reuses an app context that is already pushed (as the `app` fixture does), which would
    share `g` and the database session between the test and every request. The test's own
    session is committed first, so its set-up is visible and its next read sees the request's.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_app(database_uri: str, **overrides) -> Flask:
    """An app on `database_uri` with test settings (CSRF stays on)."""
    app = _create_app(database_uri, **overrides)
    app.test_client_class = IsolatedClient
    if ON_POSTGRESQL:
        pg.EXTRA_APPS.append(app)
    return app


def _create_app(database_uri: str, **overrides) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "TRACKER_BASE_URL": "http://aftercare.test",
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",  # production's N is 32x this: slow to test
            **overrides,
        }
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): skipped when run on PostgreSQL")


def pytest_report_header(config):
    if ON_POSTGRESQL:
        return f"database: PostgreSQL ({pg.redacted(TEST_DATABASE_URL)}), a fresh database per run"
    return "database: SQLite, a fresh file per test"


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, skip the tests that check SQLite itself (WAL, its locking), saying why."""
    if not ON_POSTGRESQL:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason or item.name}"))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    """A SQLite file migrated once with the real migrations, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return str(path)


@pytest.fixture(scope="session")
def postgresql_database():
    """This run's own PostgreSQL database, migrated once; dropped when the run ends."""
    with pg.fresh_database(TEST_DATABASE_URL) as url:
        app = _create_app(url)
        with app.app_context():
            upgrade()
            db.engine.dispose()
        with pg.TableEmptier(url) as emptier:
            yield url, emptier


@pytest.fixture
def database_uri(request, tmp_path) -> Iterator[str]:
    """A fresh database for this test alone (on PostgreSQL: the run's database, emptied)."""
    if ON_POSTGRESQL:
        url, emptier = request.getfixturevalue("postgresql_database")
        emptier.empty_all_tables()
        yield url
        while pg.EXTRA_APPS:
            extra = pg.EXTRA_APPS.pop()
            with extra.app_context():
                db.engine.dispose()
        return
    migrated_template = request.getfixturevalue("migrated_template")
    path = tmp_path / "aftercare.db"
    shutil.copy(migrated_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def app(database_uri):
    """The app on this test's database, inside an app context."""
    app = make_app(database_uri)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def clinic(app):
    """A clinic with the default catalogue and one clinician."""
    clinic = create_clinic("Riverside Clinic")
    create_user(clinic, "nurse@riverside.test", "correct horse battery", "clinician")
    db.session.commit()
    return clinic


@pytest.fixture
def make_patient(app, clinic):
    """Build a patient (of `clinic` unless told otherwise) with one treatment, committed.

    The rows come from `tests.builders`; tests that need more call the builders themselves.
    """

    def build(name="Pat Example", clinic=clinic, timezone="Europe/London", treated_at=TREATED_AT):
        patient = builders.patient(clinic, name, timezone=timezone)
        treatment = builders.treatment(patient, treated_at)
        db.session.commit()
        return patient, treatment

    return build


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token in a rendered form."""
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token in the page: {' '.join(html.split())[:600]}"
    return match.group(1)


DEFAULT_URGENT_CODES = {d.code for d in DEFAULT_CATALOGUE if d.action == URGENT}


class PatientActions:
    """Drive the patient's pages like a browser: open a link, press its button."""

    def __init__(self, client):
        self.client = client

    def sign_in(self, patient: Patient):
        """Open a fresh personal link and press "Start my check-in"."""
        token = issue_link(patient)
        db.session.commit()
        page = self.client.get(f"/p/{token}")
        assert page.status_code == 200
        return self.client.post(f"/p/{token}", data={"csrf_token": csrf_token(page.text)})

    def checkin_page(self):
        return self.client.get("/checkin")

    def submit_checkin(self, severities: dict[str, object] | None = None, **fields):
        """Post the check-in form with a valid CSRF token; symptoms not named stay "None".

        An urgent symptom of the default catalogue with a severity of 1 or more is ticked in
        the urgent list instead (the form records it as severe)."""
        page = self.checkin_page()
        data = {"csrf_token": csrf_token(page.text), **fields}
        for code, severity in (severities or {}).items():
            if code in DEFAULT_URGENT_CODES and isinstance(severity, int):
                if severity >= 1:
                    data.setdefault("urgent", []).append(code)
            else:
                data[f"severity_{code}"] = severity
        return self.client.post("/checkin", data=data)


@pytest.fixture
def patient_actions(client):
    return PatientActions(client)


STAFF_PASSWORD = "correct horse battery"
RECOVERY_CODES: dict[str, list[str]] = {}
"""The unused recovery codes of each factor `give_second_factor` made, by its secret."""


def give_second_factor(user: User) -> SecondFactor:
    """`user` with an authenticator set up, as if enrolled earlier (no audit row, no code used).

    The enrolment pages themselves are tested in test_second_factor.
    """
    factor = SecondFactor(user_id=user.id, secret=pyotp.random_base32(), confirmed_at=utcnow())
    db.session.add(factor)
    db.session.flush()
    RECOVERY_CODES[factor.secret] = replace_codes(user)
    db.session.commit()
    return factor


def fresh_code(user: User) -> str:
    """A code `user`'s authenticator accepts now: this step's or the next one's if unused, or,
    once both are used (a frozen clock), one of their recovery codes.

    Never the previous step's: the clock may tick into the next step before the code is checked.
    """
    factor = second_factor.confirmed_factor(user)
    db.session.refresh(factor)
    totp = pyotp.TOTP(factor.secret)
    now = totp.timecode(utcnow())
    for step in range(now, now + second_factor.VALID_WINDOW + 1):
        if factor.last_used_step is None or step > factor.last_used_step:
            return totp.generate_otp(step)
    return RECOVERY_CODES[factor.secret].pop()


class StaffActions:
    """Sign staff in and out through the real forms (CSRF on)."""

    def __init__(self, client):
        self.client = client

    def sign_in(self, email: str = "nurse@riverside.test", password: str = STAFF_PASSWORD):
        """Both sign-in steps. Someone who must have a second factor is given one first (as if
        they had enrolled before), and the code page gets a fresh code."""
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user and second_factor.is_required(user) and not second_factor.is_enrolled(user):
            give_second_factor(user)
        response = self.submit_password(email, password)
        location = response.headers.get("Location", "")
        if response.status_code == 302 and location.startswith("/signin/code"):
            return self.submit_code(fresh_code(user), location)
        return response

    def submit_password(self, email: str, password: str = STAFF_PASSWORD, url: str = "/signin"):
        """The first sign-in step alone."""
        page = self.client.get(url)
        return self.client.post(
            url, data={"csrf_token": csrf_token(page.text), "email": email, "password": password}
        )

    def submit_code(self, code: str, url: str = "/signin/code"):
        """The second sign-in step: a code on the page `url` (the code or the enrolment page)."""
        page = self.client.get(url)
        return self.client.post(url, data={"csrf_token": csrf_token(page.text), "code": code})

    def sign_out(self):
        page = self.client.get("/clinic/patients")
        return self.client.post("/signout", data={"csrf_token": csrf_token(page.text)})

    def post(self, url: str, data: dict | None = None, form_page: str | None = None, **kwargs):
        """POST to `url` with a CSRF token taken from `form_page` (default: the patients list)."""
        page = self.client.get(form_page or "/clinic/patients")
        return self.client.post(
            url, data={"csrf_token": csrf_token(page.text), **(data or {})}, **kwargs
        )


@pytest.fixture
def staff_actions(client):
    return StaffActions(client)


@pytest.fixture
def nurse(client, clinic, staff_actions):
    """`clinic`'s clinician, signed in; modules that need the User itself override this."""
    assert staff_actions.sign_in().status_code == 302
    return staff_actions


@pytest.fixture
def admin(app, clinic):
    """An admin of `clinic`."""
    user = create_user(clinic, "admin@riverside.test", STAFF_PASSWORD, "admin")
    db.session.commit()
    return user


@pytest.fixture
def admin_client(client, admin):
    """The test client, signed in as the clinic's admin."""
    assert StaffActions(client).sign_in("admin@riverside.test").status_code == 302
    return client


@pytest.fixture
def clinician_client(client, clinic):
    """The test client, signed in as the clinic's clinician."""
    assert StaffActions(client).sign_in("nurse@riverside.test").status_code == 302
    return client


@pytest.fixture
def other_clinic(app):
    """A second clinic with its own clinician, patient and treatment, for scoping tests."""
    other = create_clinic("Hillside Clinic")
    create_user(other, "nurse@hillside.test", STAFF_PASSWORD, "clinician")
    db.session.commit()
    return other
