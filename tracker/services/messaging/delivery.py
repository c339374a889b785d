"""Delivery runs: every pending outbox row that is due, sent through a transport, each once.

Transports are pluggable: anything with `send(message, outbox_id)` (and optionally `close()`,
called at the end of each run). With `MAIL_SERVER` set the `SmtpTransport` hands messages to that
server; without it the `FileTransport` writes `.eml` files under `instance/mail/`. Claiming a row
and recording what happened to it (with back-off) are the outbox's (`outbox.claim`,
`outbox.record_outcome`).
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
from sqlalchemy import select

from ...extensions import db
from ...infrastructure.smtp import SMTP_TIMEOUT_SECONDS, SmtpTransport
from ...models import FAILED, PENDING, SENT, OutboxMessage
from ...timeutil import utcnow
from . import outbox

BATCH_SIZE = 100

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


@dataclass
class DeliveryResult:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0


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
    result = DeliveryResult(released=outbox.release_stuck(now))
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
            if not outbox.claim(outbox_id, now, claimed_at):
                continue  # another run got there first
            error: Exception | None = None
            try:
                row = db.session.get(OutboxMessage, outbox_id)
                transport.send(build_email(row, sender), outbox_id)
            except Exception as exc:  # any failure of one message must not stop the run
                error = exc
            db.session.rollback()
            status = outbox.record_outcome(outbox_id, error, now, rng)
            if status == SENT:
                result.sent += 1
            elif status == FAILED:
                result.failed += 1
                log.warning("Outbox message %s failed for good: %s", outbox_id, error)
            else:
                result.retrying += 1
