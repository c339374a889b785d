"""The benchmark's WSGI app: the real app plus one bare-insert endpoint, for `make bench` only.

`tracker/bench.py` serves it with `gunicorn --config gunicorn.conf.py 'tracker.bench_app:build()'`,
so the form and its baseline run in the same workers on the same database. Production serves
`wsgi:app`, which never imports this module. Importing it builds nothing, and `build` refuses
unless `TRACKER_BENCH=1` is set, so naming it by mistake fails at start-up instead of serving an
unauthenticated write endpoint.
"""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import insert

from . import create_app
from .extensions import csrf, db
from .models import CheckIn
from .timeutil import utcnow

BARE_INSERT_PATH = "/bench/bare-insert"
ENABLE_VARIABLE = "TRACKER_BENCH"
TREATMENT_VARIABLE = "TRACKER_BENCH_TREATMENT_ID"
"""Which treatment the bare endpoint's check-ins belong to (default 1, the bench's first)."""


def add_bare_insert(app: Flask, treatment_id: int) -> None:
    """`POST /bench/bare-insert`: one check-in row inserted and committed, nothing else.

    It runs inside the app's own request handling (the same write transaction begun for every
    request, the same security headers), so the difference from the form is the form's work.
    """

    @csrf.exempt
    @app.post(BARE_INSERT_PATH)
    def bench_bare_insert():
        db.session.execute(
            insert(CheckIn).values(
                treatment_id=treatment_id, reported_at=utcnow(), source="patient"
            )
        )
        db.session.commit()
        return "", 204


def build(environ: dict[str, str] | None = None) -> Flask:
    """The app from the environment, with the bare endpoint; refuses without TRACKER_BENCH=1."""
    environ = dict(os.environ if environ is None else environ)
    if environ.get(ENABLE_VARIABLE) != "1":
        raise SystemExit(
            f"tracker.bench_app is the benchmark's app: set {ENABLE_VARIABLE}=1 to serve it "
            "(production serves wsgi:app)."
        )
    app = create_app()
    add_bare_insert(app, int(environ.get(TREATMENT_VARIABLE) or 1))
    return app
