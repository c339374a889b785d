"""`make bench`: time the jobs and the busiest requests on synthetic data, each beside a baseline.

Absolute times drift a lot between runs on a shared machine, so every figure is printed next to a
baseline measured in the same run on the same data, and the ratio is what to compare over time:

- `tracker rebuild-state` once (the data is inserted in bulk, bypassing the check-in service,
  as after the upgrade that added the follow-up state), then the sweep's first run (every
  treatment with something to flag is due: the one-off catch-up) and its next run 15 minutes
  later (only what fell due meanwhile: every run from then on); the reminder run on fresh data
  ("first run") and 15 minutes later ("next run"); the jobs as the scheduler runs them
  (`scheduler.run_job`: their own transactions and commits), against the bare SQL the old sweep
  read (every report of the window: raw driver, no ORM, no rules);
- a page of the case queue at `--open-flags` open flags (the median of a few, after one to
  warm up, as a worker serving the queue all day serves it), against one indexed query of 25;
- check-ins through the real patient form over HTTP under gunicorn (4 workers, `--clients`
  concurrent patients), against a bare one-insert endpoint served by the same gunicorn.

The jobs commit as they go, so each is timed once per state (the baselines, which only read, are
medians of `--repeat` runs). Each job runs in a child process of its own (multiprocessing,
`spawn`), its next run in the same one, as the scheduler process runs both; its peak memory is
that child's own peak resident set (`VmHWM`, over both runs for the next). While each job runs,
a few patients keep posting check-ins: how many failed, and the longest wait, show whether the
job holds the database's write lock for long (SQLite: one writer at a time).

Usage: `make bench BENCH_ARGS="--treatments 20000"` (or `.venv/bin/python -m tracker.bench ...`).
It builds its own data: in a temporary SQLite file, removed afterwards, unless `--database-url`
names an empty database, which is then left in place so the jobs can be timed again as
processes. It never touches the database in `instance/`. Nothing is asserted: it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import random
import resource
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import bindparam, func, insert, inspect, select, text, update

from . import bench_http, create_app
from .catalogue import DEFAULT_SCHEDULE, EXPECTED, URGENT
from .extensions import db
from .models import CheckIn, Flag, Patient, Symptom, SymptomReport, Treatment
from .models.flag import OUTCOMES
from .models.types import UTCDateTime
from .rules import OPEN, RESOLVED, Reason
from .services.clinics.clinics import create_clinic
from .services.flags.flagging import rebuild_followup_state
from .services.patients.links import issue_link
from .timeutil import from_local, local, utcnow

CHECKINS_PER_TREATMENT = 5
SYMPTOMS_PER_CHECKIN = 2
"""With these, each treatment has about ten symptom reports, the proportion of the target chain
(100,000 treatments, 1,000,000 reports)."""
CHUNK = 5000
NEXT_RUN = timedelta(minutes=15)
"""The scheduler's interval between two sweeps (and two reminder runs)."""
QUEUE_PAGE_SIZE = 25
QUEUE_PAGE_RUNS = 5
"""The queue page is timed as the median of this many, after one to warm up."""
RESOLVED_SHARE = 0.2
"""Resolved flags added beside the open ones for the queue, as a share of the open ones."""
REVIEW = Reason.REVIEW.value
RESOLVED_OUTCOME = next(iter(OUTCOMES))
"""The outcome given to the flags the bench resolves (the first the clinic can choose)."""
PROBE_PAUSE_SECONDS = 0.05
"""Between two check-ins of one probe: enough to see waits, too little load to slow the job."""
KIB_PER_MIB = 1024
READY = "ready"
JOBS_IN_CHILDREN = 4
"""The rebuild, the sweep (first and next run), the reminder run (both) and the queue page."""
TIMEZONE = "Europe/London"
"""Every bench patient's timezone (their reminders fall due at their own reminder time)."""


# --- the data -----------------------------------------------------------------------------------


def build_data(treatments: int, now: datetime, rng: random.Random) -> tuple[int, str]:
    """One clinic with `treatments` patients, each treated once in the last 28 days, and their
    check-ins; returns the clinic's id and a line saying how much was built. Bulk inserts:
    minutes of ORM work would time nothing."""
    clinic = create_clinic("Bench clinic")
    db.session.flush()
    symptoms = db.session.scalars(
        select(Symptom).where(Symptom.clinic_id == clinic.id, Symptom.action == EXPECTED)
    ).all()
    window = DEFAULT_SCHEDULE.window
    patients, courses = [], []
    for n in range(1, treatments + 1):
        patients.append(
            {
                "id": n,
                "clinic_id": clinic.id,
                "name": f"Patient {n}",
                "email": f"patient{n}@bench.test",
                "timezone": TIMEZONE,
                "created_at": now - window,
            }
        )
        treated_at = now - window * rng.random()
        courses.append(
            {
                "id": n,
                "clinic_id": clinic.id,
                "patient_id": n,
                "treated_at": treated_at,
                "product": "Botox",
                "batch_number": f"B{n:06d}",
                "indication": "cosmetic",
                "areas": ["forehead"],
                "units_by_area": {"forehead": 10},
                "units_total": 10,
                "created_at": treated_at,
            }
        )
    _insert_chunked(Patient, patients)
    _insert_chunked(Treatment, courses)
    checkins, reports = [], []
    for course in courses:
        days = (now - course["treated_at"]).days
        for day in range(1, min(days, CHECKINS_PER_TREATMENT) + 1):
            reported_at = course["treated_at"] + timedelta(days=day)
            checkin_id = len(checkins) + 1
            checkins.append(
                {
                    "id": checkin_id,
                    "treatment_id": course["id"],
                    "reported_at": reported_at,
                    "source": "patient",
                    "created_at": reported_at,
                }
            )
            for symptom in rng.sample(symptoms, SYMPTOMS_PER_CHECKIN):
                reports.append(
                    {
                        "checkin_id": checkin_id,
                        "treatment_id": course["id"],
                        "symptom_id": symptom.id,
                        "reported_at": reported_at,
                        "severity": rng.choice((0, 1, 1, 2, 2, 3)),
                    }
                )
    _insert_chunked(CheckIn, checkins)
    _insert_chunked(SymptomReport, reports)
    if db.engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
        for table in ("patients", "treatments", "checkins"):
            sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"  # noqa: S608
            db.session.execute(text(sql))  # table names are the literals above
    db.session.commit()
    built = (
        f"data: {treatments:,} treatments, {len(checkins):,} check-ins, {len(reports):,} reports"
    )
    print(built, flush=True)
    return clinic.id, built


def gather_statistics() -> None:
    """ANALYZE after a bulk load, as autovacuum would soon do in production: without the
    planner's statistics PostgreSQL takes a fresh table for empty and picks plans that take a
    minute where a millisecond will do (the reminder run's batch read, at 20,000 treatments)."""
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _insert_chunked(model: type, rows: list[dict]) -> None:
    """Bulk inserts of `rows`, CHUNK at a time."""
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start : start + CHUNK])


def set_open_flags(clinic_id: int, target: int, now: datetime) -> int:
    """Bring the clinic's open flags to `target` in bulk, for the queue: the newest of any excess
    resolved, or "review" flags added (with a share of resolved ones beside them) on treatments
    and symptoms without one open. Returns how many are open."""
    excess = _open_flags(clinic_id) - target
    if excess > 0:
        newest = (
            select(Flag.id)
            .where(Flag.clinic_id == clinic_id, Flag.status != RESOLVED)
            .order_by(Flag.id.desc())
            .limit(excess)
        )
        db.session.execute(
            update(Flag)
            .where(Flag.id.in_(newest.scalar_subquery()))
            .values(status=RESOLVED, resolved_at=now, outcome=RESOLVED_OUTCOME)
        )
    elif excess < 0:
        _insert_chunked(Flag, _new_flags(clinic_id, -excess, now))
    db.session.commit()
    gather_statistics()
    return _open_flags(clinic_id)


def _new_flags(clinic_id: int, wanted: int, now: datetime) -> list[dict]:
    """`wanted` open review flags and a share of resolved ones, none clashing with an open one."""
    symptoms = db.session.scalars(select(Symptom.id).where(Symptom.clinic_id == clinic_id)).all()
    taken = set(
        db.session.execute(
            select(Flag.treatment_id, Flag.symptom_id).where(
                Flag.clinic_id == clinic_id, Flag.reason == REVIEW, Flag.status != RESOLVED
            )
        ).all()
    )
    treatments = db.session.execute(
        select(Treatment.id, Treatment.treated_at).where(Treatment.clinic_id == clinic_id)
    ).all()
    total = wanted + int(wanted * RESOLVED_SHARE)
    rows: list[dict] = []
    for symptom_id in symptoms:
        for treatment_id, treated_at in treatments:
            if len(rows) >= total:
                return rows
            if (treatment_id, symptom_id) not in taken:
                status = OPEN if len(rows) < wanted else RESOLVED
                rows.append(_flag_row(clinic_id, treatment_id, symptom_id, treated_at, status, now))
    return rows


def _flag_row(clinic_id, treatment_id, symptom_id, treated_at, status, now) -> dict:
    observed = min(treated_at + timedelta(days=1), now)
    return {
        "clinic_id": clinic_id,
        "treatment_id": treatment_id,
        "symptom_id": symptom_id,
        "reason": REVIEW,
        "status": status,
        "episode_started_at": observed,
        "observed_at": observed,
        "opened_at": observed,
        "resolved_at": now if status == RESOLVED else None,
        "outcome": RESOLVED_OUTCOME if status == RESOLVED else None,
    }


def _open_flags(clinic_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Flag)
        .where(Flag.clinic_id == clinic_id, Flag.status != RESOLVED)
    )


def require_empty(url: str) -> None:
    """Stop unless the database has no clinic yet: the bench adds its own, with fixed ids."""
    tables = inspect(db.engine).get_table_names()
    if "clinics" in tables and db.session.scalar(select(func.count()).select_from(text("clinics"))):
        raise SystemExit(f"{url} already holds data: give the bench an empty database.")


# --- the baselines ------------------------------------------------------------------------------


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    """The median wall time of `repeat` calls of `run`."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def raw_query(sql: str, **params) -> Callable[[], object]:
    """A baseline: `sql` as plain text on a connection of its own, every row fetched."""
    statement = text(sql).bindparams(
        *(bindparam(k, type_=UTCDateTime) for k, v in params.items() if isinstance(v, datetime))
    )

    def run() -> object:
        with db.engine.connect() as connection:
            return connection.execute(statement, params).fetchall()

    return run


SWEEP_READ = (
    "SELECT r.treatment_id, r.checkin_id, r.symptom_id, r.severity, r.onset_at"
    " FROM symptom_reports r JOIN treatments t ON t.id = r.treatment_id"
    " WHERE t.treated_at >= :start AND r.severity > 0"
)
"""The sweep's baseline: every report of every treatment in the window (what it used to read)."""
REMINDER_READ = (
    "SELECT t.id, p.id, p.timezone, p.reminder_time, max(c.reported_at)"
    " FROM treatments t JOIN patients p ON p.id = t.patient_id"
    " LEFT JOIN checkins c ON c.treatment_id = t.id"
    " WHERE t.treated_at >= :start AND p.reminders_enabled GROUP BY t.id, p.id"
)
"""The reminder run's: each treatment in the window, its patient's settings, its last check-in."""
QUEUE_READ = (
    "SELECT * FROM flags WHERE clinic_id = :clinic AND status <> 'resolved'"
    " ORDER BY opened_at LIMIT :size"
)
"""The queue page's: one indexed query of a page of active flags."""


# --- the jobs, each in a child process ----------------------------------------------------------


def bench_app(settings: dict[str, Any]) -> Flask:
    """The app on the bench's database, with no scheduler of its own."""
    return create_app({**settings, "TRACKER_SCHEDULER": False})


def peak_rss_mib() -> float:
    """This process's peak resident memory: `VmHWM` of /proc/self/status, where it exists.

    Not `ru_maxrss`: Linux carries that over fork and exec, so a spawned child would report its
    parent's peak (the parent builds the data). `VmHWM` belongs to the process's own memory map,
    new at exec. Elsewhere, `ru_maxrss` (KiB on Linux, bytes on macOS) is the best there is.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / KIB_PER_MIB
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (KIB_PER_MIB * (KIB_PER_MIB if sys.platform == "darwin" else 1))


def child_main(settings: dict[str, Any], connection: Connection) -> None:
    """A child process: load the app and connect, say so, then run each job it is sent and
    report its time, outcome and memory, until the parent closes the pipe. A job's next run
    goes to the child of its first, as the scheduler process runs both (its statement cache
    warm); its peak is then the process's over both runs.

    `sweep` and `remind` go through `scheduler.run_job`, exactly as the scheduler runs them (its
    own transaction and commits, whatever the service returns); `queue` reads one page of cases.
    """
    app = bench_app(settings)
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # connect before the clock starts
        db.session.rollback()
    connection.send(READY)
    while True:
        try:
            job, now, clinic_id = connection.recv()
        except EOFError:  # the parent is done with this child
            return
        connection.send(_run_in_child(app, job, now, clinic_id))


def _run_in_child(app: Flask, job: str, now: datetime, clinic_id: int) -> dict:
    """Run one job in this child; its time, outcome, and the process's memory."""
    from .scheduler import run_job

    at_rest = peak_rss_mib()
    if job == "queue":
        seconds, ok, summary = _time_queue_page(app, clinic_id, now)
    else:
        started = time.perf_counter()
        if job == "rebuild-state":
            with app.app_context():
                followed = rebuild_followup_state(now)
            ok, summary = True, f"{followed} treatments followed up"
        else:
            run = run_job(app, job, now)
            ok, summary = run.ok, run.summary
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "ok": ok,
        "summary": summary,
        "peak": peak_rss_mib(),
        "rest": at_rest,
    }


class Child:
    """A spawned process (a clean heap: its peak is the job's) that loads the app ahead of time,
    while the parent builds data, and runs one job when asked. Several wait at once, idle."""

    def __init__(self, settings: dict[str, Any]):
        context = multiprocessing.get_context("spawn")
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=child_main, args=(settings, theirs), daemon=True)
        self.process.start()
        theirs.close()

    def wait_until_ready(self) -> Child:
        """Return once the child has loaded the app and connected."""
        try:
            if self.connection.recv() != READY:
                raise RuntimeError("the bench's child process did not start")
        except EOFError as error:
            raise RuntimeError("a child of the bench died: see its output above") from error
        return self

    def run(self, job: str, now: datetime, clinic_id: int) -> dict:
        """Run `job` as of `now` in this (ready) child; what it reported."""
        try:
            self.connection.send((job, now, clinic_id))
            return self.connection.recv()
        except EOFError as error:
            raise RuntimeError(f"the child running {job} died: see its output above") from error

    def close(self) -> None:
        """Let the child end (no more jobs), and wait for it."""
        self.connection.close()
        self.process.join(timeout=30)


def _time_queue_page(app: Flask, clinic_id: int, now: datetime) -> tuple[float, bool, str]:
    """The queue page's median time, whether every run of it worked, and what it showed. Once
    untimed first: a worker's first page also compiles its statements, and the page is timed
    as a worker serving the queue all day serves it."""
    ok, summary = _queue_page(app, clinic_id, now)
    outcomes = []
    seconds = median_seconds(
        lambda: outcomes.append(_queue_page(app, clinic_id, now)), QUEUE_PAGE_RUNS
    )
    return seconds, ok and all(fine for fine, _ in outcomes), summary


def _queue_page(app: Flask, clinic_id: int, now: datetime) -> tuple[bool, str]:
    """The first page of the clinic's case queue, as the queue page asks for it."""
    from .services.flags.cases import CaseFilters, case_page

    with app.app_context():
        try:
            page = case_page(clinic_id, CaseFilters(), 1, now)
        except Exception as error:  # the queue's signature may change under us: report it
            return False, f"{type(error).__name__}: {error}"
        finally:
            db.session.rollback()
    rows = getattr(page, "rows", None)
    return True, f"{len(rows) if rows is not None else '?'} cases on the page"


# --- the table ----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: our figure beside its baseline, and what happened meanwhile."""

    job: str
    ours: float
    baseline: float
    unit: str
    baseline_name: str
    peak_mib: float | None = None
    rest_mib: float = 0.0
    meanwhile: bench_http.Load | None = None
    note: str = ""
    did: str = ""
    higher_is_better: bool = False

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.baseline / self.ours if self.ours else float("inf")
        return self.ours / self.baseline if self.baseline else float("inf")

    def cells(self) -> list[str]:
        meanwhile = ""
        if self.meanwhile is not None:
            load = self.meanwhile
            meanwhile = (
                f"{load.failures} of {load.requests} failed, longest {load.longest_ms:.0f} ms"
            )
        peak = ""
        if self.peak_mib is not None:
            peak = f"{self.peak_mib:.0f} MiB (+{self.peak_mib - self.rest_mib:.0f})"
        return [
            self.job,
            _amount(self.ours, self.unit),
            f"{_amount(self.baseline, self.unit)} ({self.baseline_name})",
            f"{self.ratio:.2f}",
            peak,
            meanwhile,
            self.note,
        ]


def _amount(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.0f}{unit}"


@dataclass
class Results:
    """Everything one bench run measured (what `main` prints, and returns for the smoke test)."""

    data: str = ""
    rows: list[Row] = field(default_factory=list)
    loads: list[bench_http.Load] = field(default_factory=list)
    child_at_rest_mib: float = 0.0
    workers: int = bench_http.WORKERS

    def row(self, job: str) -> Row:
        return next(row for row in self.rows if row.job == job)

    @property
    def failed_requests(self) -> int:
        meanwhile = [row.meanwhile for row in self.rows if row.meanwhile is not None]
        return sum(load.failures for load in [*self.loads, *meanwhile])


def markdown(header: list[str], lines: list[list[str]]) -> str:
    """A markdown table, ready to paste into the README."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out)


def print_results(results: Results, engine: str) -> None:
    """The jobs table, then the requests table, then how to read them."""
    print()
    print(results.data)
    print()
    header = ["job", "ours", "baseline", "ratio", "peak RSS", "check-ins meanwhile", "note"]
    print(markdown(header, [row.cells() for row in results.rows]))
    print()
    header = [
        f"requests (gunicorn, {results.workers} workers)",
        "requests",
        "failed",
        "per second",
        "p50",
        "p99",
    ]
    print(
        markdown(
            header,
            [
                [
                    load.name,
                    str(load.requests),
                    str(load.failures),
                    f"{load.per_second:.0f}/s",
                    f"{load.percentile_ms(50):.0f} ms",
                    f"{load.percentile_ms(99):.0f} ms",
                ]
                for load in results.loads
            ],
        )
    )
    print()
    for row in results.rows:
        if row.did:
            print(f"- {row.job}: {row.did}")
    print()
    print(
        f"Engine: {engine}. Ratio: ours / baseline for times, baseline / ours for throughput "
        "(lower is better). Peak RSS: the job's own child process (spawned), its VmHWM, and in "
        f"brackets its growth over the child at rest with the app loaded "
        f"({results.child_at_rest_mib:.0f} MiB). "
        "Check-ins meanwhile: patients posting the form while the job ran."
    )


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Bench:
    """What the steps share: settings, the clinic, the clock, the server and its patients."""

    settings: dict[str, Any]
    clinic_id: int
    now: datetime
    repeat: int
    port: int = 0
    phones: list[bench_http.Phone] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    results: Results = field(default_factory=Results)
    children: list[Child] = field(default_factory=list)

    def next_child(self) -> Child:
        """The next child waiting, once it is ready (a fresh process for each job)."""
        return self.children.pop(0).wait_until_ready()

    def job(
        self,
        label: str,
        job: str,
        at: datetime,
        baseline: float,
        what: str,
        probes: int,
        child: Child | None = None,
    ) -> Child:
        """Run `job` in a child (a new one, or `child`) while `probes` patients post check-ins;
        add its row; returns the child, for the job's next run."""
        senders = [self.sender(phone) for phone in self.phones[:probes]]
        fresh = child is None
        child = child or self.next_child()
        with bench_http.posting_meanwhile(label, senders, PROBE_PAUSE_SECONDS) as meanwhile:
            outcome = child.run(job, at, self.clinic_id)
        self.results.rows.append(
            Row(
                label,
                outcome["seconds"],
                baseline,
                "s",
                what,
                outcome["peak"],
                outcome["rest"],
                meanwhile,
                note="" if outcome["ok"] else "FAILED",
                did=outcome["summary"],
            )
        )
        if fresh:
            self.results.child_at_rest_mib = outcome["rest"]
        print(f"{label}: {outcome['seconds']:.3f} s ({outcome['summary']})", flush=True)
        return child

    def sender(self, phone: bench_http.Phone) -> Callable[[], bool]:
        return lambda: phone.check_in(self.answers)


def sign_in_phones(bench: Bench, count: int) -> None:
    """`count` patients (the first ones, treated in the window), each signed in on a phone."""
    with bench_app(bench.settings).app_context():
        patient_ids = db.session.scalars(select(Patient.id).order_by(Patient.id).limit(count)).all()
        tokens = [issue_link(db.session.get(Patient, pid)) for pid in patient_ids]
        codes = db.session.scalars(
            select(Symptom.code)
            .where(Symptom.clinic_id == bench.clinic_id, Symptom.action != URGENT)
            .order_by(Symptom.id)
        ).all()
        db.session.commit()
        db.engine.dispose()
    bench.answers = {f"severity_{code}": "0" for code in codes}
    bench.answers.update({f"severity_{code}": "1" for code in codes[:2]})
    for token in tokens:
        phone = bench_http.Phone(bench.port)
        phone.sign_in(token)
        bench.phones.append(phone)


def bench_jobs(bench: Bench, probes: int) -> None:
    """The sweep and the reminder run, first and next, each with check-ins posted meanwhile."""
    with bench_app(bench.settings).app_context():
        start = DEFAULT_SCHEDULE.window_start(bench.now)
        sweep_read = median_seconds(raw_query(SWEEP_READ, start=start), bench.repeat)
        reminder_read = median_seconds(raw_query(REMINDER_READ, start=start), bench.repeat)
        db.engine.dispose()
    catch_up = bench.now - NEXT_RUN
    bench.job(
        "rebuild-state (once, at the upgrade)",
        "rebuild-state",
        catch_up,
        sweep_read,
        "bare read",
        probes,
    ).close()
    sweeper = bench.job(
        "sweep, first run (the catch-up)", "sweep", catch_up, sweep_read, "bare read", probes
    )
    bench.job("sweep, next run", "sweep", bench.now, sweep_read, "bare read", probes, sweeper)
    sweeper.close()
    remind_at = reminder_moment(bench.now)
    reminder = bench.job("reminder run", "remind", remind_at, reminder_read, "bare read", probes)
    bench.job(
        "reminder run, next",
        "remind",
        remind_at + NEXT_RUN,
        reminder_read,
        "bare read",
        probes,
        reminder,
    )
    reminder.close()


def reminder_moment(now: datetime) -> datetime:
    """`now`, or later today once the patients' reminder time has come (else nothing is due)."""
    reminder_time = Patient.__table__.c.reminder_time.default.arg
    due_from = from_local(local(now, TIMEZONE).date(), reminder_time, TIMEZONE)
    return max(now, due_from + timedelta(minutes=5))


def bench_queue(bench: Bench, open_flags: int) -> None:
    """A page of the case queue once the clinic has `open_flags` open flags."""
    with bench_app(bench.settings).app_context():
        count = set_open_flags(bench.clinic_id, open_flags, bench.now)
        page = raw_query(QUEUE_READ, clinic=bench.clinic_id, size=QUEUE_PAGE_SIZE)
        baseline = median_seconds(page, bench.repeat)
        db.engine.dispose()
    child = bench.next_child()
    outcome = child.run("queue", bench.now, bench.clinic_id)
    child.close()
    bench.results.rows.append(
        Row(
            f"case queue, one page ({count:,} open flags)",
            1000 * outcome["seconds"],
            1000 * baseline,
            "ms",
            "bare query",
            outcome["peak"],
            outcome["rest"],
            note="" if outcome["ok"] else "FAILED",
            did=outcome["summary"],
        )
    )


def bench_checkins(bench: Bench, clients: int, seconds: float) -> None:
    """Check-ins through the form, then the bare insert, `clients` at once for `seconds` each."""
    form = bench_http.run_load(
        "patient check-in form (POST /checkin)",
        [bench.sender(phone) for phone in bench.phones[:clients]],
        seconds,
    )
    bare = bench_http.run_load(
        "bare one-insert endpoint",
        [bench_http.Phone(bench.port).bare_insert for _ in range(clients)],
        seconds,
    )
    bench.results.loads += [form, bare]
    bench.results.rows.append(
        Row(
            f"check-ins through the form ({clients} clients)",
            form.per_second,
            bare.per_second,
            "/s",
            "bare insert",
            note=f"p99 {form.percentile_ms(99):.0f} ms (bare {bare.percentile_ms(99):.0f} ms)",
            higher_is_better=True,
        )
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--treatments", type=int, default=20000)
    parser.add_argument("--database-url", help="an empty database, left in place afterwards")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each baseline (median)")
    parser.add_argument("--open-flags", type=int, default=10000, help="for the queue page")
    parser.add_argument("--workers", type=int, default=bench_http.WORKERS, help="gunicorn's")
    parser.add_argument("--clients", type=int, default=16, help="concurrent patients posting")
    parser.add_argument("--http-seconds", type=float, default=10, help="per endpoint")
    parser.add_argument("--probes", type=int, default=2, help="patients posting during a job")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """The named database, or a temporary SQLite file removed at the end."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as scratch:
        yield f"sqlite:///{Path(scratch) / 'bench.db'}"


def main(argv: list[str] | None = None) -> Results:
    """Build the data, run every measurement, print the tables; returns what was measured."""
    args = parse_args(argv)
    with database(args.database_url) as url, tempfile.TemporaryDirectory() as scratch:
        settings = {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": secrets.token_hex(32),
            "TRACKER_BASE_URL": "http://bench.test",
        }
        now = utcnow()
        with bench_app(settings).app_context():
            require_empty(url)
            upgrade()
            clinic_id, built = build_data(args.treatments, now, random.Random(args.seed))
            gather_statistics()
            engine = db.engine.dialect.name
            db.engine.dispose()
        bench = Bench(settings, clinic_id, now, args.repeat)
        bench.children = [Child(settings) for _ in range(JOBS_IN_CHILDREN)]
        bench.results.data = built
        bench.results.workers = args.workers
        log = Path(scratch) / "gunicorn.log"
        with bench_http.gunicorn(url, settings["SECRET_KEY"], log, args.workers) as port:
            bench.port = port
            sign_in_phones(bench, max(args.clients, args.probes))
            bench_jobs(bench, args.probes)
            bench_queue(bench, args.open_flags)
            bench_checkins(bench, args.clients, args.http_seconds)
        print_results(bench.results, engine)
        if args.database_url:
            print_how_to_time_again(args.database_url)
    return bench.results


def print_how_to_time_again(url: str) -> None:
    """The database stays: how to time the jobs again as the processes production runs."""
    print(
        "\nThe database is left in place. Time the jobs again as processes (as of now):\n"
        f"  time DATABASE_URL='{url}' .venv/bin/flask --app wsgi tracker sweep\n"
        f"  time DATABASE_URL='{url}' .venv/bin/flask --app wsgi tracker remind"
    )


def stop_on_termination() -> None:
    """End on SIGTERM or SIGHUP (a job killed, a terminal closed) as on Ctrl-C: by an exception,
    so the way out stops the gunicorn the bench started, which runs in a session of its own
    (the signal sent to the bench's process group does not reach it)."""

    def end(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for termination in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(termination, end)


if __name__ == "__main__":
    stop_on_termination()
    main(sys.argv[1:])
