"""The `flask tracker ...` commands, as documentation, scripts and integrations use them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import TREATED_AT
from tracker.catalogue import DEFAULT_CATALOGUE
from tracker.extensions import db
from tracker.models import Clinic, Flag, Patient, Symptom, Treatment, User
from tracker.rules import Reason
from tracker.services.clinics.demo import DEMO_CLINIC, DEMO_PASSWORD, DEMO_PATIENTS, DEMO_STAFF
from tracker.services.patients.links import LinkState, check_link

LINK_PREFIX = "http://aftercare.test/p/"
LINK_RE = re.compile(re.escape(LINK_PREFIX) + r"(\S+)")
DEMO_NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def tracker(runner, *args: str):
    """Run `flask tracker ARGS...`; what it did not commit is lost, as when its process ends."""
    result = runner.invoke(args=["tracker", *args])
    db.session.rollback()
    return result


def count(model: type, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def assert_refused(result, exit_code: int, message: str) -> None:
    """The command stopped with `message` for the person, not a traceback."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit)
    assert message in result.output
    assert "Traceback" not in result.output


# --- create-clinic ---------------------------------------------------------------------------


def test_create_clinic_creates_it_with_the_default_catalogue(runner):
    result = tracker(runner, "create-clinic", "Hillside Clinic", "--timezone", "Europe/Dublin")
    assert result.exit_code == 0, result.output
    assert "Created clinic 'Hillside Clinic'" in result.output
    clinic = db.session.scalar(select(Clinic).filter_by(name="Hillside Clinic"))
    assert clinic.timezone == "Europe/Dublin"
    assert count(Symptom, Symptom.clinic_id == clinic.id) == len(DEFAULT_CATALOGUE)


@pytest.mark.parametrize("name", ["Riverside Clinic", "riverside clinic", "  RIVERSIDE CLINIC "])
def test_create_clinic_with_a_name_already_taken_is_refused(runner, clinic, name):
    assert_refused(tracker(runner, "create-clinic", name), 1, "already exists")
    assert count(Clinic) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["   "], "A clinic needs a name.", id="blank-name"),
        pytest.param(["Hillside", "--timezone", "Mars/Olympus"], "Unknown timezone", id="tz"),
    ],
)
def test_create_clinic_with_bad_input_is_refused(runner, args, message):
    assert_refused(tracker(runner, "create-clinic", *args), 1, message)
    assert count(Clinic) == 0


# --- create-user -----------------------------------------------------------------------------


def user_args(**overrides: str) -> list[str]:
    options = {
        "clinic": "Riverside Clinic",
        "email": "admin@riverside.test",
        "password": "a long enough password",
        "role": "admin",
        **overrides,
    }
    return [part for key, value in options.items() for part in (f"--{key}", value)]


def test_create_user_creates_staff_with_a_hashed_password(runner, clinic):
    result = tracker(runner, "create-user", *user_args(clinic="riverside clinic"))
    assert result.exit_code == 0, result.output
    assert "Created admin admin@riverside.test at Riverside Clinic." in result.output
    user = db.session.scalar(select(User).filter_by(email="admin@riverside.test"))
    assert (user.clinic_id, user.role) == (clinic.id, "admin")
    assert user.password_hash != "a long enough password"
    assert user.check_password("a long enough password")


@pytest.mark.parametrize(
    ("overrides", "exit_code", "message"),
    [
        pytest.param(
            {"clinic": "Nowhere Clinic"}, 1, "No clinic called 'Nowhere Clinic'", id="clinic"
        ),
        pytest.param({"password": "short"}, 1, "Use at least 8 characters", id="short"),
        pytest.param({"password": "x" * 129}, 1, "Use at most 128 characters", id="long"),
        pytest.param({"password": "Password123"}, 1, "too easy to guess", id="common"),
        pytest.param(
            {"password": "alex.rivers-2026", "email": "alex.rivers@riverside.test"},
            1,
            "email address in your password",
            id="contains-email",
        ),
        pytest.param({"role": "superuser"}, 2, "Invalid value for '--role'", id="role"),
        pytest.param({"email": "not-an-email"}, 1, "is not an email address", id="email"),
        pytest.param({"email": "NURSE@riverside.test"}, 1, "already exists", id="taken-email"),
    ],
)
def test_create_user_with_bad_input_is_refused_clearly(
    runner, clinic, overrides, exit_code, message
):
    assert_refused(tracker(runner, "create-user", *user_args(**overrides)), exit_code, message)
    assert count(User) == 1  # only the fixture's nurse


# --- patient-link ----------------------------------------------------------------------------


def test_patient_link_prints_a_fresh_working_link_under_the_base_url(runner, make_patient):
    patient, _ = make_patient()
    result = tracker(runner, "patient-link", str(patient.id))
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith(LINK_PREFIX)
    found = check_link(url.removeprefix(LINK_PREFIX))
    assert found.state is LinkState.VALID
    assert found.link.patient_id == patient.id


def test_patient_link_for_an_unknown_patient_is_refused(runner, make_patient):
    patient, _ = make_patient()
    assert_refused(tracker(runner, "patient-link", str(patient.id + 1)), 1, "No patient with id")


# --- sweep -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "opened"),
    [
        pytest.param("2026-03-04T09:59:00+00:00", 0, id="47h59m-utc"),
        pytest.param("2026-03-04T10:01:00+00:00", 1, id="48h01m-utc"),
        pytest.param("2026-03-04T10:01:00Z", 1, id="48h01m-zulu"),
        pytest.param("2026-03-04T10:59:00+01:00", 0, id="47h59m-given-in-paris"),
        pytest.param("2026-03-04T11:01:00+01:00", 1, id="48h01m-given-in-paris"),
    ],
)
def test_sweep_judges_as_of_the_given_time_with_its_offset(runner, make_patient, now, opened):
    make_patient()  # treated at TREATED_AT and silent since: due once silent for 48 hours
    result = tracker(runner, "sweep", "--now", now)
    assert result.exit_code == 0, result.output
    judged = opened  # only a treatment that is due is read
    swept = f"Swept: judged {judged} treatments due, opened {opened} flags"
    assert re.search(rf"{swept}( \(longest batch \d+ ms\))?\.", result.output), result.output
    assert count(Flag, Flag.reason == "no_response") == opened


def test_sweep_without_a_time_judges_as_of_the_clock(runner, make_patient, time_machine):
    make_patient()
    time_machine.move_to(TREATED_AT + timedelta(hours=49), tick=False)
    result = tracker(runner, "sweep")
    assert result.exit_code == 0, result.output
    assert "opened 1 flags" in result.output


@pytest.mark.parametrize("now", ["2026-03-04T10:01:00", "2026-03-04", "yesterday", ""])
def test_sweep_with_a_time_without_offset_or_garbage_is_a_usage_error(runner, make_patient, now):
    make_patient()
    assert_refused(tracker(runner, "sweep", "--now", now), 2, "not an ISO 8601 time with an offset")
    assert count(Flag) == 0


# --- demo ------------------------------------------------------------------------------------


@pytest.fixture
def demo_now(time_machine):
    """Pin the clock: the demo's history is built backwards from now."""
    time_machine.move_to(DEMO_NOW, tick=False)
    return DEMO_NOW


def test_demo_creates_a_clinic_whose_open_flags_show_every_reason(runner, demo_now):
    result = tracker(runner, "demo")
    assert result.exit_code == 0, result.output
    assert f"Created demo clinic {DEMO_CLINIC!r}." in result.output
    assert DEMO_PASSWORD in result.output
    for email, _name, role, _registration in DEMO_STAFF:
        assert re.search(rf"{role}\s+{re.escape(email)}", result.output)

    patients = db.session.scalars(select(Patient).order_by(Patient.id)).all()
    assert [p.name for p in patients] == [d.name for d in DEMO_PATIENTS]
    tokens = LINK_RE.findall(result.output)
    assert len(tokens) == len(DEMO_PATIENTS)
    assert [check_link(t).link.patient_id for t in tokens] == [p.id for p in patients]
    for patient in patients:
        assert patient.name in result.output

    open_reasons = set(db.session.scalars(select(Flag.reason).where(Flag.status == "open")))
    assert open_reasons == {reason.value for reason in Reason}


def test_demo_run_twice_uses_the_existing_clinic_and_duplicates_nothing(runner, demo_now):
    assert tracker(runner, "demo").exit_code == 0
    before = {model: count(model) for model in (Clinic, User, Patient, Treatment, Flag)}

    again = tracker(runner, "demo")
    assert again.exit_code == 0, again.output
    assert f"Using existing demo clinic {DEMO_CLINIC!r}." in again.output
    assert "Created" not in again.output
    assert {model: count(model) for model in before} == before
    assert len(LINK_RE.findall(again.output)) == len(DEMO_PATIENTS)


def test_demo_is_refused_in_production(app, runner):
    app.config["TRACKER_ENV"] = "production"
    assert_refused(tracker(runner, "demo"), 1, "not in production")
    assert count(Clinic) == 0
    assert count(Patient) == 0
