"""No long locks (issue 14): check-ins go on while the sweep works through a large history.

The sweep commits a batch at a time, so on SQLite (one writer at a time) a check-in waits at
most about one batch, never the whole run. The test posts check-ins through the service while a
sweep judges a few thousand treatments in another thread, and asserts that none failed and that
none waited for as much as half the sweep (a ratio in the same run, not a time: timings are
noisy on a shared machine); the figures are printed (run with -s).
"""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from tests import builders
from tracker.bench import build_data
from tracker.extensions import db
from tracker.infrastructure.database import begin_write
from tracker.models import Treatment
from tracker.services.flags.flagging import sweep
from tracker.timeutil import utcnow

TREATMENTS = 3000
BATCH = 100


def test_check_ins_go_on_while_the_sweep_judges_a_large_history(app):
    now = utcnow()
    build_data(TREATMENTS, now - timedelta(minutes=1), random.Random(7))
    db.session.rollback()  # end the read its return value began: each check-in begins a write
    done = threading.Event()
    outcome = {}

    def run_sweep():
        with app.app_context():
            try:
                started = time.perf_counter()
                outcome["result"] = sweep(now, batch_size=BATCH)
                outcome["seconds"] = time.perf_counter() - started
            finally:
                db.session.remove()
                done.set()

    sweeper = threading.Thread(target=run_sweep)
    sweeper.start()
    waits, failures, treatment_id = [], [], 1
    while not done.is_set():
        started = time.perf_counter()
        try:
            begin_write()  # as every request does (BEGIN IMMEDIATE on SQLite)
            builders.checkin(db.session.get(Treatment, treatment_id), utcnow(), {"bruising": 1})
            db.session.commit()
        except OperationalError as error:  # "database is locked": waited the busy timeout
            db.session.rollback()
            failures.append(str(error))
        waits.append(time.perf_counter() - started)
        treatment_id = treatment_id % TREATMENTS + 1
    sweeper.join(timeout=600)

    result = outcome["result"]
    print(
        f"\nsweep: {result.treatments} treatments in {result.batches} batches; "
        f"{len(waits)} check-ins meanwhile, longest {max(waits) * 1000:.0f} ms; "
        f"longest batch {max(result.batch_seconds) * 1000:.0f} ms"
    )
    assert failures == []
    assert result.batches > 1 and len(waits) > 1  # they did run side by side
    assert len(result.batch_seconds) == result.batches  # each batch's write transaction, timed
    # Not a time: a ratio of two in the same run. One transaction for the whole sweep (as it was)
    # makes a check-in wait for all of it; a batch at a time, for a small part.
    assert max(waits) < outcome["seconds"] / 2
