"""The app under gunicorn (real processes, production settings): many check-ins at once, and
the refusal to start without a real secret key.

Runs on a SQLite file in WAL mode, or with `TEST_DATABASE_URL` on a fresh PostgreSQL database of
its own. Each server is bounded in time and stopped in teardown.
"""

from __future__ import annotations

import functools
import http.client
import re
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import builders, own_database
from tests.conftest import DEFAULT_URGENT_CODES, ON_POSTGRESQL
from tracker.bench_http import (
    free_port,
    production_environment,
    send,
    start_gunicorn,
    stop,
    wait_until_healthy,
)
from tracker.extensions import db
from tracker.models import CheckIn, Flag, Symptom, SymptomReport
from tracker.services.clinics.clinics import create_clinic
from tracker.services.patients.links import issue_link
from tracker.timeutil import utcnow

SECRET = secrets.token_hex(32)
WORKERS = 4
CLIENTS = 8
PATIENTS = 4  # two clients per patient: the same patient at once, and different ones
CHECKINS_PER_CLIENT = 6
START_TIMEOUT = 30
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def server_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of a production start: nothing inherited that could change the app."""
    return production_environment(database_url, port, WORKERS, **extra)


def gunicorn(env: dict[str, str], log: Path) -> subprocess.Popen:
    """gunicorn with the repository's gunicorn.conf.py, in its own process group."""
    return start_gunicorn(env, log)


# --- the database the server runs on --------------------------------------------------------


@pytest.fixture
def server_database(tmp_path) -> Iterator[str]:
    """A migrated database for the server alone: a WAL SQLite file, or a fresh PostgreSQL one."""
    with own_database.own_database(tmp_path, "gunicorn") as url:
        yield url


on = functools.partial(own_database.on, secret=SECRET)
"""An app context on the server's database, for seeding and counting."""


def seed(database_url: str) -> tuple[list[int], list[str]]:
    """A clinic, PATIENTS patients treated this morning, one personal link per client."""
    with on(database_url):
        clinic = create_clinic("Riverside Clinic")
        treatments, patients = [], []
        for number in range(PATIENTS):
            patient = builders.patient(
                clinic, f"Patient {number}", email=f"patient{number}@example.com"
            )
            treated_at = utcnow() - timedelta(hours=6)  # too soon for "worsening"
            treatment = builders.treatment(patient, treated_at)
            treatments.append(treatment.id)
            patients.append(patient)
        tokens = [issue_link(patients[client % PATIENTS]) for client in range(CLIENTS)]
        db.session.commit()
        return treatments, tokens


# --- a browser, by hand -----------------------------------------------------------------------


@dataclass
class Browser:
    """One patient's phone: its own cookies (kept by hand, as the production cookie is Secure
    and would not be sent back over plain http by a cookie jar)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)

    def connect(self) -> http.client.HTTPConnection:
        """A connection to the server (the end-to-end suite's client talks HTTPS to its proxy)."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        connection = self.connect()
        status, text = send(connection, method, path, self.cookies, form, headers)
        self.statuses.append(status)
        connection.close()
        return status, text

    def form_token(self, path: str) -> str:
        status, text = self.request("GET", path)
        assert status == 200, (path, status, text[:500])
        match = CSRF_RE.search(text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def open_link(self, token: str) -> None:
        csrf = self.form_token(f"/p/{token}")
        status, _ = self.request("POST", f"/p/{token}", {"csrf_token": csrf})
        assert status == 302

    def check_in(self, severities: dict[str, int]) -> int:
        form = {"csrf_token": self.form_token("/checkin")}
        urgent = [code for code in severities if code in DEFAULT_URGENT_CODES]  # ticked only
        form.update({f"severity_{c}": str(n) for c, n in severities.items() if c not in urgent})
        form.update({"urgent": urgent} if urgent else {})
        status, text = self.request("POST", "/checkin", form)
        assert status == 302, (status, text[:500])
        return status


# --- the tests --------------------------------------------------------------------------------


@pytest.fixture
def server(server_database, tmp_path):
    """gunicorn with WORKERS workers on the server database; yields (port, log path)."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    process = gunicorn(server_env(server_database, port, SECRET_KEY=SECRET), log)
    try:
        wait_until_healthy(process, port, log)
        yield port, log
    finally:
        stop(process)


def test_eight_clients_checking_in_at_once_lose_nothing_and_flag_once(server_database, server):
    port, log = server
    treatments, tokens = seed(server_database)
    browsers = [Browser(port) for _ in range(CLIENTS)]
    for browser, token in zip(browsers, tokens, strict=True):
        browser.open_link(token)
    start = threading.Barrier(CLIENTS, timeout=30)
    errors: list[BaseException] = []

    def run(browser: Browser) -> None:
        try:
            start.wait()
            for _ in range(CHECKINS_PER_CLIENT):
                # Urgent and very severe every time: each flag may be raised once only.
                browser.check_in({"difficulty_breathing": 1, "headache": 4})
        except BaseException as error:  # reported below: a thread's failure fails the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a client did not finish"

    server_log = log.read_text()
    assert errors == [], server_log[-3000:]
    assert all(status < 500 for b in browsers for status in b.statuses)
    assert "database is locked" not in server_log
    assert "Traceback" not in server_log
    assert '" 500 ' not in server_log
    with on(server_database):
        checkins = db.session.execute(
            select(CheckIn.treatment_id, func.count()).group_by(CheckIn.treatment_id)
        ).all()
        per_treatment = CLIENTS // PATIENTS * CHECKINS_PER_CLIENT
        assert dict(checkins) == {t: per_treatment for t in treatments}
        assert db.session.scalar(select(func.count()).select_from(SymptomReport)) == (
            CLIENTS * CHECKINS_PER_CLIENT * 2
        )
        flags = db.session.execute(
            select(Flag.treatment_id, Flag.reason, Symptom.code, func.count())
            .join(Symptom, Flag.symptom_id == Symptom.id)
            .group_by(Flag.treatment_id, Flag.reason, Symptom.code)
        ).all()
        expected = {(t, "urgent", "difficulty_breathing", 1) for t in treatments}
        expected |= {(t, "severe", "headache", 1) for t in treatments}
        assert set(flags) == expected
        if not ON_POSTGRESQL:
            assert db.session.execute(db.text("PRAGMA journal_mode")).scalar() == "wal"


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({}, id="no-secret-key-and-TRACKER_ENV-left-to-gunicorn-conf"),
        pytest.param({"TRACKER_ENV": "production"}, id="no-secret-key"),
        pytest.param({"TRACKER_ENV": "production", "SECRET_KEY": "short"}, id="short-key"),
        pytest.param({"SECRET_KEY": SECRET, "FLASK_DEBUG": "1"}, id="debug-on"),
    ],
)
def test_gunicorn_refuses_to_start_in_production_without_safe_settings(tmp_path, settings):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = server_env(f"sqlite:///{tmp_path / 'aftercare.db'}", port, **settings)
    process = gunicorn(env, log)
    try:
        returncode = process.wait(timeout=START_TIMEOUT)
    finally:
        stop(process)
    assert returncode != 0
    assert "Refusing to start" in log.read_text()


def test_gunicorn_refuses_to_run_the_scheduler_in_its_workers(tmp_path):
    log = tmp_path / "gunicorn.log"
    env = server_env("sqlite://", free_port(), SECRET_KEY=SECRET, TRACKER_SCHEDULER="1")
    process = gunicorn(env, log)
    try:
        returncode = process.wait(timeout=START_TIMEOUT)
    finally:
        stop(process)
    assert returncode != 0
    assert "tracker scheduler" in log.read_text()
