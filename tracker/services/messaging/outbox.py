"""The outbox: every message is a row written with its cause, then delivered with retries.

Writing a message (`enqueue`) only adds a row in the caller's transaction, so a message exists if
and only if the thing that caused it was committed. A row's way through delivery is here too: it
is claimed with a compare-and-set UPDATE (`claim`) and the claim committed before sending, so two
delivery runs at once never send the same row; each outcome is committed at once with back-off
(`retry_delay`), so a run that dies half way loses nothing (a row it left in `sending` goes back
to pending after `SENDING_TIMEOUT`, `release_stuck`). The run itself is in `delivery`.

Rows that failed for good are listed for the clinic's admin, who can put them back in the queue.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select, update

from ...extensions import db
from ...infrastructure.database import begin_write, insert_ignoring_conflicts
from ...models import FAILED, PENDING, SENDING, SENT, OutboxMessage
from ...timeutil import utcnow

MAX_ATTEMPTS = 8
"""A row that has failed this many times is `failed` and left for a person to look at."""
FIRST_RETRY = timedelta(seconds=60)
MAX_RETRY = timedelta(hours=6)
JITTER = 0.1
"""Each delay is moved by up to this fraction either way, so rows failed together spread out."""
SENDING_TIMEOUT = timedelta(minutes=15)
"""A row claimed longer ago than this was left by a run that died: it is put back to pending.
The default of the `OUTBOX_SENDING_TIMEOUT_SECONDS` setting (tests lower it)."""
ERROR_MAX_CHARS = 1000
FAILED_PAGE_SIZE = 50


def enqueue(
    *,
    clinic_id: int,
    kind: str,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    patient_id: int | None = None,
    dedupe_key: str | None = None,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Add a pending message to the caller's transaction (flush only; the caller commits).

    With a `dedupe_key`, a second message with the same key is ignored and None is returned:
    one intent, one message, however often the code that writes it runs.
    """
    now = now or utcnow()
    values = {
        "clinic_id": clinic_id,
        "patient_id": patient_id,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "to_address": to_address,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "headers": dict(headers or {}),
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    new_id = db.session.execute(
        insert_ignoring_conflicts(OutboxMessage).values(values).returning(OutboxMessage.id)
    ).scalar()
    return db.session.get(OutboxMessage, new_id) if new_id is not None else None


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failure: 60 s doubling up to 6 h, with jitter."""
    rng = rng or random.Random()  # noqa: S311  (spreading retries, not a secret)
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def release_stuck(now: datetime) -> int:
    """Put rows left in `sending` by a run that died back to pending; returns how many."""
    seconds = current_app.config.get("OUTBOX_SENDING_TIMEOUT_SECONDS")
    timeout = timedelta(seconds=seconds) if seconds else SENDING_TIMEOUT
    begin_write()
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == SENDING, OutboxMessage.claimed_at < now - timeout)
        .values(status=PENDING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def claim(outbox_id: int, now: datetime, claimed_at: datetime | None = None) -> bool:
    """Claim one row due at `now` for sending (compare-and-set) and commit; False if someone
    else did. `claimed_at` (default `now`) is when the claim is made: a long run passes the
    time of each claim, so `release_stuck` never takes back a row this run has only just
    claimed."""
    begin_write()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .values(status=SENDING, claimed_at=claimed_at or now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def record_outcome(
    outbox_id: int, error: Exception | None, now: datetime, rng: random.Random | None
) -> str:
    """Mark a claimed row sent, or back off (or give up) after a failure; commit; new status."""
    begin_write()
    row = db.session.get(OutboxMessage, outbox_id, populate_existing=True)
    if error is None:
        row.status, row.sent_at, row.last_error = SENT, now, None
    else:
        row.attempts += 1
        row.last_error = f"{type(error).__name__}: {error}"[:ERROR_MAX_CHARS]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = FAILED
        else:
            row.status = PENDING
            row.next_attempt_at = now + retry_delay(row.attempts, rng)
    status = row.status
    db.session.commit()
    return status


# --- messages that failed for good, for the clinic's admin -------------------------------------


def failed_messages(clinic_id: int, page: int = 1) -> Pagination:
    """The clinic's messages that failed for good, the most recently tried first."""
    return db.paginate(
        select(OutboxMessage)
        .where(OutboxMessage.clinic_id == clinic_id, OutboxMessage.status == FAILED)
        .order_by(OutboxMessage.claimed_at.desc(), OutboxMessage.id.desc()),
        page=max(page, 1),
        per_page=FAILED_PAGE_SIZE,
        max_per_page=FAILED_PAGE_SIZE,
        error_out=False,
    )


def failed_count(clinic_id: int) -> int:
    """How many of the clinic's messages failed for good (for the staff navigation)."""
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.clinic_id == clinic_id, OutboxMessage.status == FAILED
        )
    )


def clinic_message(clinic_id: int, outbox_id: int) -> OutboxMessage | None:
    """A message of the clinic, or None (also for another clinic's)."""
    return db.session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.id == outbox_id, OutboxMessage.clinic_id == clinic_id
        )
    )


def retry_failed(message: OutboxMessage, now: datetime | None = None) -> bool:
    """Put a failed message back in the queue with its attempts reset; flush only.

    Compare-and-set on the status, so two admins pressing "retry" at once queue it once.
    False if it was not failed (any more).
    """
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == FAILED)
        .values(status=PENDING, attempts=0, next_attempt_at=now or utcnow(), claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(message)
    return result.rowcount == 1
