"""`make bench`: time the jobs and the busiest requests on synthetic data, each beside a baseline.

Absolute times drift a lot between runs on a shared machine, so every figure is printed next to a
baseline measured in the same run on the same data, and the ratio is what to compare over time:

- the sweep and the reminder run, against the bare SQL each job needs to read (raw driver, no
  ORM, no rules), so the ratio is the cost of our Python on top of the database;
- a page of the case queue, against one indexed query of 25 active flags;
- check-ins through the real patient form (session, validation, flags, audit), against a bare
  Flask endpoint doing one insert.

Usage: `make bench` or `.venv/bin/python -m tracker.bench --treatments 20000`. It builds its own
database (a temporary SQLite file unless `--database-url` names an empty database) and never
touches `instance/`. Nothing here is asserted: it prints.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import bindparam, insert, select, text

from . import create_app
from .catalogue import DEFAULT_SCHEDULE, EXPECTED
from .extensions import db
from .models import CheckIn, Patient, Symptom, SymptomReport, Treatment
from .models.types import UTCDateTime
from .services.clinics.clinics import create_clinic
from .services.flags.cases import CaseFilters, case_page
from .services.flags.flagging import sweep
from .services.patients.links import issue_link
from .timeutil import utcnow

CHECKINS_PER_TREATMENT = 5
SYMPTOMS_PER_CHECKIN = 2
"""With these, each treatment has about ten symptom reports, the proportion of the target chain
(100,000 treatments, 1,000,000 reports)."""
CHUNK = 5000


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    """The median wall time of `repeat` calls of `run`."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def build_data(treatments: int, now: datetime, rng: random.Random) -> int:
    """One clinic with `treatments` patients, each treated once in the last 28 days, and their
    check-ins; returns the clinic's id. Bulk inserts: minutes of ORM work would time nothing."""
    clinic = create_clinic("Bench clinic")
    db.session.flush()
    symptoms = db.session.scalars(
        select(Symptom).where(Symptom.clinic_id == clinic.id, Symptom.action == EXPECTED)
    ).all()
    window = timedelta(days=DEFAULT_SCHEDULE.window_days)
    patients, courses = [], []
    for n in range(1, treatments + 1):
        patients.append(
            {
                "id": n,
                "clinic_id": clinic.id,
                "name": f"Patient {n}",
                "email": f"patient{n}@bench.test",
                "timezone": "Europe/London",
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
    print(f"data: {treatments} treatments, {len(checkins)} check-ins, {len(reports)} reports")
    return clinic.id


def _insert_chunked(model: type, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start : start + CHUNK])


def raw_query(sql: str, **params) -> Callable[[], object]:
    """A baseline: `sql` as plain text on a connection of its own, every row fetched."""
    statement = text(sql).bindparams(
        *(bindparam(k, type_=UTCDateTime) for k, v in params.items() if isinstance(v, datetime))
    )

    def run() -> object:
        with db.engine.connect() as connection:
            return connection.execute(statement, params).fetchall()

    return run


def rolled_back(job: Callable[[], object]) -> Callable[[], object]:
    """Run a job and undo it, so every repetition does the same work."""

    def run() -> object:
        try:
            return job()
        finally:
            db.session.rollback()

    return run


def report(name: str, ours: float, baseline: float, unit: str = "s") -> None:
    ratio = ours / baseline
    print(
        f"{name:<28} {ours:10.3f} {unit:<6} baseline {baseline:10.3f} {unit:<6} ratio {ratio:6.1f}"
    )


def bench_jobs(clinic_id: int, now: datetime, repeat: int) -> None:
    start = now - timedelta(days=DEFAULT_SCHEDULE.window_days)
    sweep_baseline = raw_query(
        "SELECT r.treatment_id, r.checkin_id, r.symptom_id, r.severity, r.onset_at"
        " FROM symptom_reports r JOIN treatments t ON t.id = r.treatment_id"
        " WHERE t.treated_at >= :start AND r.severity > 0",
        start=start,
    )
    baseline = median_seconds(sweep_baseline, repeat)
    report("sweep, first run", median_seconds(rolled_back(lambda: sweep(now)), repeat), baseline)
    sweep(now)
    db.session.commit()
    later = now + timedelta(minutes=15)  # the next run: most flags are already open
    report("sweep, next run", median_seconds(rolled_back(lambda: sweep(later)), repeat), baseline)
    try:
        from .services.messaging.reminders import send_due_reminders
    except ImportError:
        print("reminders: not available in this version")
    else:
        reminder_baseline = raw_query(
            "SELECT t.id, p.id, p.timezone, p.reminder_time, max(c.reported_at)"
            " FROM treatments t JOIN patients p ON p.id = t.patient_id"
            " LEFT JOIN checkins c ON c.treatment_id = t.id"
            " WHERE t.treated_at >= :start AND p.reminders_enabled GROUP BY t.id, p.id",
            start=start,
        )
        report(
            "reminder run",
            median_seconds(rolled_back(lambda: send_due_reminders(now)), repeat),
            median_seconds(reminder_baseline, repeat),
        )
    queue_baseline = raw_query(
        "SELECT * FROM flags WHERE clinic_id = :clinic AND status <> 'resolved'"
        " ORDER BY opened_at LIMIT 25",
        clinic=clinic_id,
    )
    report(
        "case queue, one page",
        median_seconds(rolled_back(lambda: case_page(clinic_id, CaseFilters(), 1, now)), repeat),
        median_seconds(queue_baseline, repeat),
    )


def bench_checkins(app: Flask, requests: int) -> None:
    """Check-ins per second through the patient form, beside a bare one-insert endpoint."""

    @app.post("/bench/bare-insert")
    def bare_insert():
        db.session.execute(
            insert(CheckIn).values(treatment_id=1, reported_at=utcnow(), source="patient")
        )
        db.session.commit()
        return "", 204

    with app.app_context():
        codes = db.session.scalars(select(Symptom.code).order_by(Symptom.id)).all()
        patient_ids = db.session.scalars(select(Patient.id).order_by(Patient.id).limit(50)).all()
        tokens = [issue_link(db.session.get(Patient, pid)) for pid in patient_ids]
        db.session.commit()
    clients = []
    for token in tokens:
        client = app.test_client()
        client.post(f"/p/{token}")
        clients.append(client)
    form = {f"severity_{code}": "0" for code in codes}
    form.update({f"severity_{code}": "1" for code in codes[:3]})

    def checkins() -> None:
        for n in range(requests):
            response = clients[n % len(clients)].post("/checkin", data=form)
            assert response.status_code == 302, response.status_code

    def bare() -> None:
        client = app.test_client()
        for _ in range(requests):
            assert client.post("/bench/bare-insert").status_code == 204

    ours = requests / median_seconds(checkins, 1)
    baseline = requests / median_seconds(bare, 1)
    print(
        f"{'check-ins through the form':<28} {ours:10.0f} req/s  baseline {baseline:10.0f} req/s"
        f"  ratio {baseline / ours:6.1f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--treatments", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each job (median shown)")
    parser.add_argument("--requests", type=int, default=300, help="check-ins to post")
    parser.add_argument("--database-url", help="an empty database (default: a temporary file)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "bench-only-secret-key-not-for-anything-else",
                "WTF_CSRF_ENABLED": False,
                "TRACKER_BASE_URL": "http://bench.test",
            }
        )
        now = utcnow()
        with app.app_context():
            upgrade()
            clinic_id = build_data(args.treatments, now, random.Random(args.seed))
            bench_jobs(clinic_id, now, args.repeat)
        bench_checkins(app, args.requests)
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
