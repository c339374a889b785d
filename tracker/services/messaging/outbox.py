"""The outbox: every message is a row written with its cause, then delivered with retries.

Writing a message (`enqueue`) only adds a row in the caller's transaction, so a message exists if
and only if the thing that caused it was committed. Delivery (`deliver_due`) is a job: it claims
each due row with a compare-and-set UPDATE and commits the claim before sending, so two delivery
runs at once never send the same row, and commits each outcome at once, so a run that dies half
way loses nothing (a row it left in `sending` goes back to pending after `SENDING_TIMEOUT`).

Transports are pluggable: anything with `send(message, outbox_id)` (and optionally `close()`,
called at the end of each run). With `MAIL_SERVER` set the `SmtpTransport` hands messages to that
server; without it the `FileTransport` writes `.eml` files under `instance/mail/`.

Rows that failed for good are listed for the clinic's admin, who can put them back in the queue.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol

from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select, update

from ...extensions import db
from ...infrastructure.database import begin_write, insert_ignoring_conflicts
from ...infrastructure.smtp import SMTP_TIMEOUT_SECONDS, SmtpTransport
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
BATCH_SIZE = 100
ERROR_MAX_CHARS = 1000
FAILED_PAGE_SIZE = 50

log = logging.getLogger(__name__)


class Transport(Protocol):
    """Something that hands an email on (a mail server, a folder); raises if it could not."""

    def send(self, message: EmailMessage, outbox_id: int) -> None:
        """Hand the message of outbox row `outbox_id` on, or raise."""


class FileTransport:
    """Writes each message as an RFC 5322 `.eml` file named after its outbox row.

    Writing the same row again replaces its file, so a retried row never leaves two copies.
    """

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)

    def path_for(self, outbox_id: int) -> Path:
        """Where the message of outbox row `outbox_id` is written."""
        return self.directory / f"outbox-{outbox_id:08d}.eml"

    def send(self, message: EmailMessage, outbox_id: int) -> None:
        """Write the message atomically (a reader never sees half a file)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(message.as_bytes())
            os.replace(temporary, self.path_for(outbox_id))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def default_transport() -> Transport:
    """The transport the configuration asks for: SMTP with `MAIL_SERVER`, else `.eml` files."""
    config = current_app.config
    if config.get("MAIL_SERVER"):
        return SmtpTransport(
            config["MAIL_SERVER"],
            int(config.get("MAIL_PORT") or 25),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
            timeout=float(config.get("MAIL_TIMEOUT") or SMTP_TIMEOUT_SECONDS),
        )
    return FileTransport(Path(current_app.instance_path) / "mail")


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


def build_email(row: OutboxMessage, sender: str) -> EmailMessage:
    """The RFC 5322 message of an outbox row: plain text with an HTML alternative.

    The Message-ID comes from the row, so every retry of a row carries the same one.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "aftercare.localhost"
    message["Message-ID"] = f"<outbox.{row.id}.{row.created_at:%Y%m%d%H%M%S}@{domain}>"
    for name, value in (row.headers or {}).items():
        message[name] = value
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failure: 60 s doubling up to 6 h, with jitter."""
    rng = rng or random.Random()  # noqa: S311  (spreading retries, not a secret)
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


@dataclass
class DeliveryResult:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0


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


def _due_ids(now: datetime, after_id: int) -> list[int]:
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.id > after_id,
        )
        .order_by(OutboxMessage.id)
        .limit(BATCH_SIZE)
    ).all()
    db.session.commit()  # end the read, so each claim starts its own write transaction
    return list(ids)


def _record_outcome(
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


def deliver_due(
    now: datetime | None = None,
    transport: Transport | None = None,
    *,
    rng: random.Random | None = None,
) -> DeliveryResult:
    """One delivery run: send every pending row due by `now`, each claimed once.

    A job, not a step of someone else's unit of work: it commits per row (the claim, then the
    outcome), so call it with no transaction of your own open.
    """
    now = now or utcnow()
    transport = transport or default_transport()
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    result = DeliveryResult(released=release_stuck(now))
    try:
        _deliver(now, transport, sender, result, rng)
    finally:
        close = getattr(transport, "close", None)
        if close is not None:
            close()  # e.g. the run's SMTP connection
    return result


def _deliver(
    now: datetime,
    transport: Transport,
    sender: str,
    result: DeliveryResult,
    rng: random.Random | None,
) -> None:
    started = time.monotonic()
    last_id = 0
    while ids := _due_ids(now, last_id):
        last_id = ids[-1]
        for outbox_id in ids:
            claimed_at = now + timedelta(seconds=time.monotonic() - started)
            if not claim(outbox_id, now, claimed_at):
                continue  # another run got there first
            error: Exception | None = None
            try:
                row = db.session.get(OutboxMessage, outbox_id)
                transport.send(build_email(row, sender), outbox_id)
            except Exception as exc:  # any failure of one message must not stop the run
                error = exc
            db.session.rollback()
            status = _record_outcome(outbox_id, error, now, rng)
            if status == SENT:
                result.sent += 1
            elif status == FAILED:
                result.failed += 1
                log.warning("Outbox message %s failed for good: %s", outbox_id, error)
            else:
                result.retrying += 1


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
