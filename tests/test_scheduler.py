"""The scheduler: its jobs, how a failing job is contained, and where it runs (never twice)."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from sqlalchemy import func, select

from tests.conftest import TEST_SECRET, make_app
from tracker import scheduler as scheduling
from tracker.extensions import db
from tracker.models import OutboxMessage
from tracker.services import messaging
from tracker.services.messaging import digest as morning_digest
from tracker.services.messaging import reminders
from tracker.services.messaging.outbox import enqueue

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def scheduler_log(monkeypatch, caplog):
    """Capture the scheduler's log (Alembic's logging set-up, run by the migrations fixture,
    disables loggers that existed before it)."""
    monkeypatch.setattr(scheduling.log, "disabled", False)
    caplog.set_level(logging.INFO, logger=scheduling.log.name)


@pytest.fixture
def running(app):
    """Start a scheduler for `app` (jobs wait for their cron times); stopped afterwards."""
    started = []

    def start():
        scheduler = scheduling.build_scheduler(app)
        scheduler.start()
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        scheduler.shutdown(wait=True)


def run_now(scheduler, job_id: str, timeout: float = 10) -> scheduling.JobRun:
    """Make the scheduler run `job_id` at once, in its own thread, and wait for it."""
    done = threading.Event()
    runs = []

    def listener(event):
        if event.job_id == job_id:
            runs.append(event.retval)
            done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
    assert done.wait(timeout), f"job {job_id} did not run"
    scheduler.remove_listener(listener)
    return runs[0]


# --- the job list -------------------------------------------------------------------------------


def test_every_job_has_an_id_coalesce_one_instance_and_a_misfire_grace_time(app):
    scheduler = scheduling.build_scheduler(app)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"deliver", "sweep", "remind", "digest"}
        for job in jobs.values():
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.misfire_grace_time == scheduling.MISFIRE_GRACE_SECONDS >= 300
            assert str(job.trigger.timezone) == "UTC"
        assert "minute='*'" in str(jobs["deliver"].trigger)  # every minute
        for job_id in ("sweep", "remind", "digest"):  # every 15 minutes
            fields = str(jobs[job_id].trigger)
            assert fields.count(",") == 3, fields
        assert str(scheduler.timezone) == "UTC"
    finally:
        scheduler.shutdown(wait=False)


def test_a_job_run_commits_and_says_what_it_did(app, clinic, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    enqueue(clinic_id=clinic.id, kind="t", to_address="a@example.com", subject="S", body_text="T")
    db.session.commit()

    run = scheduling.run_job(app, "deliver")
    assert run.ok and run.summary == "sent=1, retrying=0, failed=0, released=0"
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    assert "Job deliver: sent=1" in caplog.text

    swept = scheduling.run_job(app, "sweep", now=NOW)
    assert swept.ok and swept.summary == "judged 0 treatments due, opened 0 flags"
    assert swept.job_id == "sweep" and swept.started_at == NOW


def test_every_job_runs_its_real_service(app, clinic, make_patient, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    make_patient()
    for job in scheduling.JOBS:
        run = scheduling.run_job(app, job.id, now=NOW)
        assert run.ok, (job.id, run.summary)
        assert run.summary != "nothing done", f"{job.id}: its service could not be imported"


# --- errors -------------------------------------------------------------------------------------


def test_a_job_that_raises_is_logged_rolled_back_and_the_scheduler_keeps_running(
    app, clinic, running, monkeypatch, caplog
):
    from tracker.services.flags import flagging

    clinic_id = clinic.id

    def broken_sweep(now):
        enqueue(clinic_id=clinic_id, kind="t", to_address="a@x.com", subject="S", body_text="T")
        raise RuntimeError("the sweep broke")

    monkeypatch.setattr(flagging, "sweep", broken_sweep)
    scheduler = running()

    run = run_now(scheduler, "sweep")
    assert not run.ok and run.summary == "RuntimeError: the sweep broke"
    assert "Job sweep failed" in caplog.text and "the sweep broke" in caplog.text
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0  # rolled back

    assert scheduler.running
    assert scheduler.get_job("sweep").next_run_time is not None  # still scheduled
    assert run_now(scheduler, "deliver").ok  # other jobs carry on
    monkeypatch.undo()
    assert run_now(scheduler, "sweep").ok  # and so does the one that failed


def test_a_service_that_cannot_be_imported_stops_the_scheduler_from_starting(monkeypatch):
    monkeypatch.delattr(messaging, "reminders")
    monkeypatch.setitem(sys.modules, "tracker.services.messaging.reminders", None)  # import fails
    monkeypatch.delitem(sys.modules, "tracker.scheduler")
    with pytest.raises(ImportError):
        importlib.import_module("tracker.scheduler")


def test_remind_and_digest_call_their_services_with_now(app, monkeypatch):
    calls = []

    class Result:
        summary = "queued 2 reminders"

    monkeypatch.setattr(
        reminders, "send_due_reminders", lambda now: calls.append(("remind", now)) or Result()
    )

    def fake_digest(now):
        calls.append(("digest", now))
        return {"clinics": 1}

    monkeypatch.setattr(morning_digest, "send_due_digests", fake_digest)

    assert scheduling.run_job(app, "remind", now=NOW).summary == "queued 2 reminders"
    assert scheduling.run_job(app, "digest", now=NOW).summary == "{'clinics': 1}"
    assert calls == [("remind", NOW), ("digest", NOW)]


# --- where it runs ------------------------------------------------------------------------------


def test_under_the_reloader_only_the_serving_child_runs_the_jobs(app, monkeypatch):
    monkeypatch.setattr(app, "debug", True)
    assert scheduling.web_process_should_run(app, {}) is False  # the watcher
    assert scheduling.web_process_should_run(app, {"WERKZEUG_RUN_MAIN": "true"}) is True
    monkeypatch.setattr(app, "debug", False)
    assert scheduling.web_process_should_run(app, {}) is True  # no reloader: one process


@pytest.mark.parametrize(
    ("command", "debug", "reload", "runs"),
    [
        ("run", False, None, True),  # make run
        ("run", True, None, False),  # flask run --debug: the reloader's watcher
        ("run", True, False, True),  # flask run --debug --no-reload
        ("run", False, True, False),  # flask run --reload
        ("upgrade", False, None, False),  # flask db upgrade
        ("scheduler", False, None, False),  # flask tracker scheduler: has its own
    ],
)
def test_only_flask_run_starts_it_from_the_command_line(app, command, debug, reload, runs):
    app.debug = debug
    with click.Context(click.Command(command), info_name=command) as context:
        context.params["reload"] = reload
        assert scheduling.web_process_should_run(app, {}) is runs


def test_the_web_scheduler_is_started_once_per_process(database_uri, monkeypatch):
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    try:
        first = make_app(database_uri, TRACKER_SCHEDULER=True)
        started = scheduling._web_scheduler
        assert started is not None and started.running
        assert {job.id for job in started.get_jobs()} == {"deliver", "sweep", "remind", "digest"}
        make_app(database_uri, TRACKER_SCHEDULER=True)  # a second app in the same process
        assert scheduling._web_scheduler is started
        assert scheduling.start_in_web_process(first) is started
    finally:
        scheduling.stop_web_scheduler()
    assert scheduling._web_scheduler is None


def test_the_reloaders_watcher_starts_no_scheduler(database_uri, monkeypatch):
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    monkeypatch.setenv("FLASK_DEBUG", "1")  # `flask run --debug`: the reloader is on
    make_app(database_uri, TRACKER_SCHEDULER=True)
    assert scheduling._web_scheduler is None


def test_flask_run_debug_starts_one_scheduler_in_the_reloaders_child(database_uri, tmp_path):
    """The real thing: `flask run --debug` is two processes; exactly one runs the jobs."""
    (tmp_path / "sitecustomize.py").write_text(  # lets both processes' INFO lines through
        "import logging\n"
        "logging.basicConfig(level=logging.INFO, format='%(process)d %(name)s: %(message)s')\n"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**environment(database_uri), "TRACKER_SCHEDULER": "1", "PYTHONPATH": str(tmp_path)}
    command = ["run", "--debug", "--host", "127.0.0.1", "--port", str(port)]
    output = run_flask_until(command, env, "Debugger PIN", settle=2)
    started = [line for line in output.splitlines() if "Scheduler started in the web" in line]
    assert len(started) == 1, output


def test_tests_get_no_scheduler_unless_they_ask(database_uri, monkeypatch):
    monkeypatch.setenv("TRACKER_SCHEDULER", "1")
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    app = make_app(database_uri)
    assert app.config["TRACKER_SCHEDULER"] is True
    assert scheduling._web_scheduler is None


# --- the command --------------------------------------------------------------------------------


def environment(database_uri: str) -> dict[str, str]:
    """The environment for a `flask` subprocess on this test's database."""
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": TEST_SECRET}
    for name in ("TRACKER_SCHEDULER", "WERKZEUG_RUN_MAIN", "FLASK_DEBUG"):
        env.pop(name, None)
    return {**env, "PYTHONUNBUFFERED": "1"}


def run_flask_until(args, env, marker: str, settle: float = 0.0, stop=signal.SIGTERM) -> str:
    """Start `flask --app wsgi ARGS`, wait (30 s at most) for `marker` in its output, then
    `settle` seconds more, then send it `stop` and return all it wrote; it must exit 0."""
    process = subprocess.Popen(  # noqa: S603  (our own flask command)
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a signal to its group reaches the reloader's child too
    )
    lines: list[str] = []
    seen = threading.Event()

    def read():
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(30), "".join(lines)
        time.sleep(settle)
        assert process.poll() is None, "it runs until told to stop\n" + "".join(lines)
        os.killpg(process.pid, stop)
        process.wait(timeout=20)
        reader.join(timeout=5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = "".join(lines)
    assert process.returncode == 0, output
    return output


def test_tracker_scheduler_runs_in_the_foreground_until_sigterm(database_uri):
    output = run_flask_until(
        ["tracker", "scheduler"], environment(database_uri), "Scheduler started"
    )
    assert "Scheduler started (UTC): deliver, sweep, remind, digest" in output
    assert "Scheduler stopped." in output


def test_run_forever_stops_when_asked(app):
    stop = threading.Event()
    thread = threading.Thread(target=scheduling.run_forever, args=(app, stop))
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
