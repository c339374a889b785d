"""Real processes at once: two `tracker scheduler` processes over the same work, and a delivery
process killed (SIGKILL) half way and started again.

Each test runs on a migrated database of its own: a SQLite file in WAL mode, or with
`TEST_DATABASE_URL` a fresh PostgreSQL database. Mail goes to an aiosmtpd server on 127.0.0.1,
which counts what arrives by Message-ID (it names the outbox row) and recipient. Processes use
real time; every subprocess is bounded in time and killed in teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select, update

from tests import builders, own_database
from tests.conftest import ON_POSTGRESQL
from tests.test_gunicorn_concurrency import stop
from tests.test_smtp_delivery import Inbox, SmtpServer
from tracker import config as settings
from tracker import scheduler as scheduling
from tracker.extensions import db
from tracker.models import (
    PENDING,
    SENDING,
    SENT,
    Clinic,
    Flag,
    OutboxMessage,
    Symptom,
)
from tracker.services.clinics.clinics import create_clinic, create_user
from tracker.services.messaging.outbox import enqueue, release_stuck
from tracker.timeutil import is_timezone, local, local_date, utcnow

ROOT = Path(__file__).resolve().parent.parent
SECRET = secrets.token_hex(32)
SENDER = "Riverside Clinic <care@riverside.test>"
MESSAGE_ID_RE = re.compile(r"<outbox\.(\d+)\.")

JOB_INTERVAL_SECONDS = 1
RUN_AT_LEAST = 12  # seconds: every job runs about this many times in each process
RUN_AT_MOST = 40
START_TIMEOUT = 30


# --- processes, databases and mail -------------------------------------------------------------


def process_env(database_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    """A production-like environment: nothing inherited that could change the app."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRACKER_", "FLASK_", "MAIL_", "OUTBOX_"))
        and key not in {"SECRET_KEY", "DATABASE_URL", "WERKZEUG_RUN_MAIN"}
    }
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET,
        TRACKER_ENV="production",
        TRACKER_BASE_URL="https://aftercare.test",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        MAIL_TIMEOUT="10",
        MAIL_DEFAULT_SENDER=SENDER,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def flask(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`flask --app wsgi ARGS` in its own process group, its output in `log`."""
    return subprocess.Popen(  # noqa: S603  (our own interpreter and command)
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL to the whole group, at once (a crash)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    """Every subprocess a test starts goes in here, and is stopped (or killed) afterwards."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        stop(process)


@pytest.fixture
def database_url(tmp_path) -> Iterator[str]:
    """A migrated database for the processes alone: a WAL SQLite file or a fresh PostgreSQL one."""
    with own_database.own_database(tmp_path, "processes") as url:
        yield url


on = functools.partial(own_database.on, secret=SECRET)
"""An app context on the processes' database, for seeding and counting."""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def outbox_id(received) -> int:
    match = MESSAGE_ID_RE.match(received.message["Message-ID"])
    assert match, received.message["Message-ID"]
    return int(match[1])


def journal_mode_is_wal(database_url: str) -> None:
    if not ON_POSTGRESQL:
        with on(database_url):
            assert db.session.execute(db.text("PRAGMA journal_mode")).scalar() == "wal"


# --- two scheduler processes at once ----------------------------------------------------------


def midday_timezone(now: datetime) -> str:
    """A fixed-offset zone where it is now 12:xx: reminders (09:00) and the clinic's digest
    (07:00) are due, and no local date changes during the test, whatever time it runs."""
    offset = 12 - now.hour  # hours east of UTC, from -11 to +12
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs: GMT-2 is UTC+2


PENDING_ROWS = 12
ADMINS = ("admin1@riverside.test", "admin2@riverside.test")
DAYS = (1, 2, 3, 5, 8, 14, 15, 21, 28)
"""A patient treated this many days ago (plus 30 minutes' margin) for each."""


def queue_invites(
    clinic: Clinic, count: int, *, dedupe_prefix: str | None = None, now: datetime | None = None
) -> None:
    """`count` invites to person0@example.com onwards, queued; deduplicated if given a prefix."""
    for number in range(count):
        enqueue(
            clinic_id=clinic.id,
            kind="invite",
            to_address=f"person{number}@example.com",
            subject=f"Your check-in link {number}",
            body_text=f"Plain text {number}",
            dedupe_key=f"{dedupe_prefix}:{number}" if dedupe_prefix else None,
            now=now,
        )


def seed_clinic(database_url: str) -> dict:
    """A clinic with two admins (the alerts' recipients), a patient per day of `DAYS` with
    check-ins that make symptoms overdue, and PENDING_ROWS messages already queued.

    Check-ins are written as rows (not through the check-in service), so every flag is left for
    the sweep to raise; every time is hours away from any threshold the run could cross.
    """
    now = utcnow()
    zone = midday_timezone(now)
    with on(database_url):
        clinic = create_clinic("Riverside Clinic", timezone=zone)
        admins = [create_user(clinic, email, "correct horse battery", "admin") for email in ADMINS]
        treated = {}
        for day in DAYS:
            patient = builders.patient(
                clinic, f"Day {day} Patient", email=f"day{day}@example.com", timezone=zone
            )
            at = now - timedelta(days=day) + timedelta(minutes=30)
            treated[day] = builders.treatment(patient, at)
        treatments = {day: treatment.id for day, treatment in treated.items()}

        def check_in(day: int, ago: timedelta, **severities: int) -> None:
            builders.unjudged_checkin(treated[day], now - ago, severities)

        check_in(3, timedelta(hours=60), headache=2)  # 48 h expected: overdue; silent 60 h
        check_in(5, timedelta(days=4), bruising=2)  # 72 h expected: overdue; silent 4 days
        check_in(8, timedelta(days=5), bruising=1)
        check_in(8, timedelta(hours=1), bruising=1)  # still there: overdue; checked in today
        check_in(14, timedelta(hours=1), difficulty_breathing=1)  # urgent; review day all the same
        check_in(21, timedelta(days=2), eyelid_drooping=2)  # a review symptom
        queue_invites(clinic, PENDING_ROWS, dedupe_prefix="seed", now=now)
        db.session.commit()
        assert db.session.scalar(select(func.count(Flag.id))) == 0
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == PENDING_ROWS
        return {
            "clinic": clinic.id,
            "admins": {user.id: user.email for user in admins},
            "treatments": treatments,
            "today": local_date(now, zone),
        }


def expected_flags(treatments: dict[int, int]) -> set[tuple[int, str, str | None]]:
    """(treatment, reason, symptom code) of every flag the sweep must raise, once each."""
    return {
        (treatments[3], "overdue", "headache"),
        (treatments[3], "no_response", None),
        (treatments[5], "overdue", "bruising"),
        (treatments[5], "no_response", None),
        (treatments[8], "overdue", "bruising"),
        (treatments[14], "urgent", "difficulty_breathing"),
        (treatments[21], "review", "eyelid_drooping"),
    }


def expected_messages(seeded: dict, urgent_flag_id: int) -> dict[str, str]:
    """The dedupe key and recipient of every message that must be sent, once each."""
    treatments, today = seeded["treatments"], seeded["today"].isoformat()
    expected = {f"seed:{n}": f"person{n}@example.com" for n in range(PENDING_ROWS)}
    for day in (1, 2, 3, 5, 21, 28):  # day 8 checked in today; day 15 is no reminder day
        expected[f"reminder:{treatments[day]}:{today}"] = f"day{day}@example.com"
    expected[f"review:{treatments[14]}"] = "day14@example.com"
    for user_id, email in seeded["admins"].items():
        expected[f"urgent:{urgent_flag_id}:admin:{user_id}"] = email
        expected[f"digest:{seeded['clinic']}:{today}:admin:{user_id}"] = email
    return expected


def test_two_scheduler_processes_at_once_send_every_message_once_and_flag_once(
    database_url, smtp, processes, tmp_path
):
    seeded = seed_clinic(database_url)
    expected_total = PENDING_ROWS + 7 + 2 * len(ADMINS)  # the keys of `expected_messages`
    env = process_env(
        database_url,
        smtp.port,
        # the test-only interval, which production refuses: otherwise production settings
        TRACKER_ENV="development",
        TRACKER_JOB_INTERVAL_SECONDS=str(JOB_INTERVAL_SECONDS),
    )
    logs = [tmp_path / f"scheduler-{n}.log" for n in (1, 2)]
    started = time.monotonic()
    processes += [flask(["tracker", "scheduler"], env, log) for log in logs]

    while time.monotonic() - started < RUN_AT_MOST:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                pytest.fail(f"a scheduler exited with {process.returncode}:\n{log.read_text()}")
        if len(smtp.inbox.received) >= expected_total and time.monotonic() - started > RUN_AT_LEAST:
            break
        time.sleep(0.2)
    for process in processes:
        stop(process)
    elapsed = time.monotonic() - started

    outputs = [log.read_text() for log in logs]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
        assert "Scheduler stopped." in output
        for job in scheduling.JOBS:  # both ran every job over and over, at the same time
            assert output.count(f"Job {job.id}: ") >= 3, (job.id, output[-3000:])
        for problem in (" ERROR ", "Traceback", "database is locked", "deadlock"):
            assert problem not in output, output[-3000:]

    with on(database_url):
        flags = db.session.execute(
            select(Flag.treatment_id, Flag.reason, Symptom.code, func.count())
            .outerjoin(Symptom, Flag.symptom_id == Symptom.id)
            .group_by(Flag.treatment_id, Flag.reason, Symptom.code)
        ).all()
        assert Counter({(t, r, c): n for t, r, c, n in flags}) == Counter(
            expected_flags(seeded["treatments"])
        )
        urgent_flag_id = db.session.scalar(select(Flag.id).where(Flag.reason == "urgent"))
        rows = db.session.scalars(select(OutboxMessage)).all()
        assert {row.dedupe_key: row.to_address for row in rows} == expected_messages(
            seeded, urgent_flag_id
        )
        assert len(rows) == expected_total
        assert {(row.status, row.attempts) for row in rows} == {(SENT, 0)}
        addresses = {row.id: row.to_address for row in rows}
    journal_mode_is_wal(database_url)

    arrived = Counter((outbox_id(r), tuple(r.rcpt_tos)) for r in smtp.inbox.received)
    assert arrived == Counter({(i, (address,)): 1 for i, address in addresses.items()}), (
        f"after {elapsed:.0f} s"
    )


# --- a delivery process killed half way --------------------------------------------------------


class SlowInbox(Inbox):
    """Takes each message, then waits before saying 250; says when the Nth has been taken."""

    def __init__(self, delay: float, signal_at: int):
        super().__init__()
        self.delay = delay
        self.signal_at = signal_at
        self.reached = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        await super().handle_DATA(server, session, envelope)  # taken: it will be delivered
        if len(self.received) >= self.signal_at:
            self.reached.set()
        await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


MESSAGES = 16
KILL_AT = 6
SLOW_SECONDS = 0.3


def test_a_delivery_killed_half_way_and_restarted_sends_everything_with_one_duplicate_at_most(
    database_url, processes, tmp_path
):
    with on(database_url):
        clinic = create_clinic("Riverside Clinic")
        queue_invites(clinic, MESSAGES)
        db.session.commit()
    server = SmtpServer()
    server.inbox = inbox = SlowInbox(SLOW_SECONDS, signal_at=KILL_AT)
    server.start()
    try:
        first = flask(
            ["tracker", "deliver"],
            process_env(database_url, server.port),
            tmp_path / "deliver-1.log",
        )
        processes.append(first)
        # The server has just taken message KILL_AT and not yet answered: the process dies with
        # that row claimed (`sending`) and the message at the server.
        assert inbox.reached.wait(START_TIMEOUT), (tmp_path / "deliver-1.log").read_text()
        kill(first)
        at_kill = [outbox_id(r) for r in inbox.received]

        with on(database_url):
            status = dict(db.session.execute(select(OutboxMessage.id, OutboxMessage.status)).all())
            in_flight = [i for i, s in status.items() if s == SENDING]
            sent = {i for i, s in status.items() if s == SENT}
            pending = {i for i, s in status.items() if s == PENDING}
            assert len(in_flight) == 1, status  # killed half way, mid-message ...
            assert len(sent) >= KILL_AT - 1 and pending, status  # ... with work left to do
            claimed_at = db.session.get(OutboxMessage, in_flight[0]).claimed_at
        assert set(at_kill) == sent | set(in_flight)

        # Restarted: the row left in `sending` goes back to pending once it is older than the
        # timeout (lowered here from 15 minutes), and is sent again with the rest.
        time.sleep(max(0.0, (claimed_at + timedelta(seconds=2) - utcnow()).total_seconds()))
        log = tmp_path / "deliver-2.log"
        second = flask(
            ["tracker", "deliver"],
            process_env(database_url, server.port, OUTBOX_SENDING_TIMEOUT_SECONDS="1"),
            log,
        )
        processes.append(second)
        assert second.wait(timeout=60) == 0, log.read_text()
        assert f"Sent {len(pending) + 1} messages" in log.read_text()
    finally:
        server.stop()

    arrived = Counter(outbox_id(r) for r in inbox.received)
    assert set(arrived) == set(status), "every message arrives"
    duplicates = {i for i, n in arrived.items() if n > 1}
    # At most one twice: the one the server had taken when the process died before recording
    # `sent` (at-least-once delivery). Here the kill was timed to hit exactly that window.
    assert duplicates == set(in_flight)
    assert all(n <= 2 for n in arrived.values())
    with on(database_url):
        assert set(db.session.scalars(select(OutboxMessage.status))) == {SENT}
    journal_mode_is_wal(database_url)


# --- the two settings these tests use ---------------------------------------------------------


def test_the_job_interval_setting_replaces_the_cron_times(app, tmp_path):
    assert settings.from_environment(str(tmp_path), {})["TRACKER_JOB_INTERVAL_SECONDS"] is None
    env = {"TRACKER_JOB_INTERVAL_SECONDS": "1.5"}
    assert settings.from_environment(str(tmp_path), env)["TRACKER_JOB_INTERVAL_SECONDS"] == 1.5

    app.config["TRACKER_JOB_INTERVAL_SECONDS"] = None
    for job in scheduling.JOBS:
        assert isinstance(scheduling.trigger_for(app, job), CronTrigger)  # production
    app.config["TRACKER_JOB_INTERVAL_SECONDS"] = 1.5
    scheduler = scheduling.build_scheduler(app)
    scheduler.start(paused=True)
    try:
        jobs = scheduler.get_jobs()
        assert {job.id for job in jobs} == {job.id for job in scheduling.JOBS}
        for job in jobs:
            assert isinstance(job.trigger, IntervalTrigger)
            assert job.trigger.interval == timedelta(seconds=1.5)
            assert (job.coalesce, job.max_instances) == (True, 1)
    finally:
        scheduler.shutdown(wait=False)


def test_the_sending_timeout_is_a_setting(app, clinic, tmp_path):
    assert settings.from_environment(str(tmp_path), {})["OUTBOX_SENDING_TIMEOUT_SECONDS"] == 900
    env = {"OUTBOX_SENDING_TIMEOUT_SECONDS": "5"}
    assert settings.from_environment(str(tmp_path), env)["OUTBOX_SENDING_TIMEOUT_SECONDS"] == 5

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    row = enqueue(clinic_id=clinic.id, kind="t", to_address="a@x.com", subject="S", body_text="T")
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id)
        .values(status=SENDING, claimed_at=now - timedelta(seconds=10))
    )
    db.session.commit()
    assert release_stuck(now) == 0  # 15 minutes by default
    app.config["OUTBOX_SENDING_TIMEOUT_SECONDS"] = 5
    assert release_stuck(now) == 1
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).status == PENDING


@pytest.mark.parametrize("hour", range(24))
def test_the_seeded_zone_is_at_midday_whenever_the_test_runs(hour):
    now = datetime(2026, 11, 24, hour, 59, tzinfo=UTC)
    zone = midday_timezone(now)
    assert is_timezone(zone)
    assert local(now, zone).hour == 12
