"""The scheduled jobs (delivery, sweep, reminders, clinic digests) and the scheduler that runs them.

The job list is code: `JOBS`. Each job pushes an app context, runs one service function in its own
transaction, commits, and logs what it did; an error is logged and rolled back, and the scheduler
carries on. The services are imported with this module: a broken import stops the scheduler
from starting at all, rather than leaving a job that quietly does nothing.

Two ways to run it:
- `flask --app wsgi tracker scheduler`: in the foreground, one process for production;
- `TRACKER_SCHEDULER=1`: in the background of the web process (as `make run` does), started by
  the app factory through `start_in_web_process`, never twice under the Werkzeug reloader.

Triggers are cron times in UTC, staggered so the 15-minute jobs do not all begin at once.
Tests that run the real `tracker scheduler` process set `TRACKER_JOB_INTERVAL_SECONDS` to make
every job run every few seconds instead (see `trigger_for`).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from typing import Any

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from .extensions import db
from .infrastructure.database import begin_write
from .services.batches import watch
from .services.messaging import delivery, reminders
from .services.messaging import digest as morning_digest
from .timeutil import utcnow

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 10 * 60
"""A run that could not start on time (process busy, laptop asleep) still runs this much later."""


# --- the jobs ------------------------------------------------------------------------------------


def deliver(now: datetime) -> Any:
    """Send what is due in the outbox (commits per message itself)."""
    return delivery.deliver_due(now)


def sweep(now: datetime) -> Any:
    """Open the flags that need time to pass (overdue, no response), then the batch signals
    (commits per batch and per signal itself)."""
    begin_write()
    return watch.sweep_and_watch(now)


def remind(now: datetime) -> Any:
    """Queue the check-in and review reminders that are due (commits per batch itself)."""
    return reminders.send_due_reminders(now)


def digest(now: datetime) -> Any:
    """Queue each clinic's morning digest of new flags (the service decides whose morning it is)."""
    begin_write()
    return morning_digest.send_due_digests(now)


@dataclass(frozen=True)
class Job:
    """A scheduled job: its id, what it runs, and when (cron fields, UTC)."""

    id: str
    func: Callable[[datetime], Any]
    minute: str


JOBS = (
    Job("deliver", deliver, minute="*"),
    Job("sweep", sweep, minute="0,15,30,45"),
    Job("remind", remind, minute="5,20,35,50"),
    Job("digest", digest, minute="10,25,40,55"),
)


@dataclass
class JobRun:
    """The last run of a job: when, how long, and what it did or why it failed."""

    job_id: str
    started_at: datetime
    seconds: float
    ok: bool
    summary: str


def describe(result: Any) -> str:
    """A one-line account of what a service returned, for the log."""
    if result is None:
        return "nothing done"
    summary = getattr(result, "summary", None)
    if summary is not None:
        return str(summary() if callable(summary) else summary)
    if is_dataclass(result) and not isinstance(result, type):
        return ", ".join(f"{key}={value}" for key, value in asdict(result).items())
    return str(result)


def run_job(app: Flask, job_id: str, now: datetime | None = None) -> JobRun:
    """Run one job now in its own app context and transaction; never raises."""
    job = next(job for job in JOBS if job.id == job_id)
    started = now or utcnow()
    clock = time.monotonic()
    with app.app_context():
        try:
            summary, ok = describe(job.func(started)), True
            db.session.commit()
        except Exception as error:  # one failed run must not stop the scheduler
            db.session.rollback()
            summary, ok = f"{type(error).__name__}: {error}", False
            log.exception("Job %s failed", job.id)
        finally:
            db.session.remove()
    run = JobRun(job.id, started, round(time.monotonic() - clock, 3), ok, summary)
    if ok:
        log.info("Job %s: %s (%.1f s)", job.id, summary, run.seconds)
    return run


# --- the scheduler -------------------------------------------------------------------------------


def trigger_for(app: Flask, job: Job) -> CronTrigger | IntervalTrigger:
    """The job's cron times in UTC, or, with `TRACKER_JOB_INTERVAL_SECONDS`, every N seconds.

    The interval is for tests that run real scheduler processes for a bounded time (every job
    many times over, in each process at once). A test-only setting rather than running each job
    at start-up: one run at start would not show two processes racing repeatedly, and what it
    queued would wait for the next minute's delivery. Production leaves it unset. The intervals
    count from a fixed instant, so every process fires at the same moments, as cron times do.
    """
    seconds = app.config.get("TRACKER_JOB_INTERVAL_SECONDS")
    if seconds:
        return IntervalTrigger(
            seconds=seconds, start_date=datetime(2000, 1, 1, tzinfo=UTC), timezone=UTC
        )
    return CronTrigger(minute=job.minute, timezone=UTC)


def build_scheduler(app: Flask, scheduler_class: type[BaseScheduler] = BackgroundScheduler):
    """A scheduler (not started) with every job in `JOBS`, in UTC."""
    scheduler = scheduler_class(
        timezone=UTC,
        job_defaults={
            "coalesce": True,  # after a pause, run once, not once per missed time
            "max_instances": 1,  # a slow run is never overlapped by the next
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    for job in JOBS:
        scheduler.add_job(
            run_job,
            trigger_for(app, job),
            args=(app, job.id),
            id=job.id,
            name=job.id,
            replace_existing=True,
        )
    return scheduler


def run_forever(app: Flask, stop: threading.Event | None = None) -> None:
    """Run the jobs until SIGTERM or SIGINT (or `stop` is set); waits for running jobs to end."""
    stop = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    scheduler = build_scheduler(app)
    scheduler.start()
    log.info("Scheduler started (UTC): %s", ", ".join(job.id for job in JOBS))
    try:
        while not stop.is_set():
            time.sleep(0.2)  # polls, so a signal handler never waits on a lock held here
    finally:
        log.info("Scheduler stopping: waiting for running jobs to finish.")
        scheduler.shutdown(wait=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        log.info("Scheduler stopped.")


_web_scheduler: BaseScheduler | None = None
_web_lock = threading.Lock()


def web_process_should_run(app: Flask, environ: Mapping[str, str]) -> bool:
    """Whether this process is the one that serves requests (and should run the jobs).

    Under the Werkzeug reloader (`flask run --debug`) the first process only watches files and
    restarts a child, marked `WERKZEUG_RUN_MAIN=true`, that serves: only the child runs the jobs.
    Other `flask` commands (`db upgrade`, `tracker demo`, `tracker scheduler`) never do.
    """
    if environ.get("WERKZEUG_RUN_MAIN") == "true":
        return True  # the reloader's child
    command = click.get_current_context(silent=True)
    if command is None:  # not the flask command line: a WSGI server, or app.run()
        return not app.debug  # app.run(debug=True) uses the reloader
    if command.info_name != "run":
        return False
    reload = command.params.get("reload")  # `flask run --reload/--no-reload`; default: debug
    return not (app.debug if reload is None else reload)


def start_in_web_process(
    app: Flask, environ: Mapping[str, str] | None = None
) -> BaseScheduler | None:
    """Start the background scheduler in this web process, once; None if this is not the one."""
    global _web_scheduler
    if not web_process_should_run(app, os.environ if environ is None else environ):
        return None
    with _web_lock:
        if _web_scheduler is None:
            if not app.testing:
                _show_job_lines()
            _web_scheduler = build_scheduler(app)
            _web_scheduler.start()
            atexit.register(stop_web_scheduler)
            log.info("Scheduler started in the web process (TRACKER_SCHEDULER=1).")
        return _web_scheduler


def _show_job_lines() -> None:
    """Print what each job did on the console of `make run` (logging there is unconfigured,
    so INFO lines would be dropped), unless someone configured logging already."""
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def stop_web_scheduler() -> None:
    """Stop the web process's scheduler, if it runs (at exit, and in tests)."""
    global _web_scheduler
    with _web_lock:
        if _web_scheduler is not None:
            _web_scheduler.shutdown(wait=False)
            _web_scheduler = None
