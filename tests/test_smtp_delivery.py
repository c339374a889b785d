"""Delivery to a real SMTP server (aiosmtpd on 127.0.0.1): arrival, back-off, exactly once.

Also the admin's page of messages that failed for good, its navigation count and its "retry".
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import func, select

from tests.conftest import STAFF_PASSWORD, StaffActions, csrf_token
from tracker.extensions import db
from tracker.infrastructure.smtp import SmtpTransport
from tracker.models import AuditEvent, OutboxMessage
from tracker.services.clinics.clinics import create_user
from tracker.services.messaging.delivery import deliver_due
from tracker.services.messaging.outbox import MAX_ATTEMPTS, enqueue

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 13:00 in London (BST)
SENDER = "Riverside Clinic <care@riverside.test>"
BOUNCES = "nobody@example.com"


@dataclass
class Received:
    """One message as the server took it: the envelope and the parsed message."""

    peer: tuple
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Inbox:
    """An aiosmtpd handler that keeps every message and refuses one address (550)."""

    def __init__(self):
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == BOUNCES:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        with self.lock:
            self.received.append(
                Received(session.peer, envelope.mail_from, list(envelope.rcpt_tos), message)
            )
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [r.message["Message-ID"] for r in self.received]


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that a test can stop and start again on the same port."""

    def __init__(self, **smtp_options):
        self.inbox = Inbox()
        self.smtp_options = smtp_options
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller: Controller | None = None

    def start(self):
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, ready_timeout=5, **self.smtp_options
        )
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def use_server(app, server: SmtpServer, **settings) -> None:
    app.config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=server.port,
        MAIL_DEFAULT_SENDER=SENDER,
        MAIL_TIMEOUT=5,
        **settings,
    )


@pytest.fixture
def smtp(app):
    """A running SMTP server, and the app's MAIL_* settings pointing at it."""
    server = SmtpServer()
    server.start()
    use_server(app, server)
    yield server
    server.stop()


def queue(clinic, n=1, now=NOW, **overrides) -> list[OutboxMessage]:
    rows = [
        enqueue(
            **{
                "clinic_id": clinic.id,
                "kind": "invite",
                "to_address": f"person{i}@example.com",
                "subject": f"Your check-in link {i}",
                "body_text": f"Plain text {i}",
                "body_html": f"<p>HTML {i}</p>",
                "headers": {"X-Aftercare-Kind": "invite"},
                "now": now,
                **overrides,
            }
        )
        for i in range(n)
    ]
    db.session.commit()
    return rows


def row(outbox_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, outbox_id)


def count(*where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(*where))


# --- arrival ------------------------------------------------------------------------------------


def test_messages_arrive_with_recipients_subject_headers_and_both_parts(clinic, smtp):
    rows = queue(clinic, 3)
    result = deliver_due(NOW)
    assert (result.sent, result.retrying, result.failed) == (3, 0, 0)

    assert len(smtp.inbox.received) == 3
    for sent, queued in zip(smtp.inbox.received, rows, strict=True):
        assert sent.mail_from == "care@riverside.test"
        assert sent.rcpt_tos == [queued.to_address]
        message = sent.message
        assert message["From"] == SENDER
        assert message["To"] == queued.to_address
        assert message["Subject"] == queued.subject
        assert message["Message-ID"] == f"<outbox.{queued.id}.20260701120000@riverside.test>"
        assert message["X-Aftercare-Kind"] == "invite"
        assert message.get_content_type() == "multipart/alternative"
        assert message.get_body(("plain",)).get_content().strip() == queued.body_text
        assert message.get_body(("html",)).get_content().strip() == queued.body_html
    assert len({sent.peer for sent in smtp.inbox.received}) == 1, "one connection per run"
    assert count(OutboxMessage.status == "sent") == 3


def test_a_refused_recipient_backs_off_alone_and_the_others_still_go(clinic, smtp):
    first, bounced, last = queue(clinic, 3)
    db.session.get(OutboxMessage, bounced.id).to_address = BOUNCES
    db.session.commit()
    result = deliver_due(NOW)
    assert (result.sent, result.retrying) == (2, 1)
    assert [r.rcpt_tos for r in smtp.inbox.received] == [[first.to_address], [last.to_address]]
    assert len({r.peer for r in smtp.inbox.received}) == 1, "a refusal keeps the connection"
    refused = row(bounced.id)
    assert (refused.status, refused.attempts) == ("pending", 1)
    assert "SMTPRecipientsRefused" in refused.last_error and "550" in refused.last_error


def test_tracker_deliver_sends_through_the_configured_server(app, clinic, smtp):
    queue(clinic, 2)
    result = app.test_cli_runner().invoke(args=["tracker", "deliver"])
    assert result.exit_code == 0, result.output
    assert "Sent 2 messages; 0 will be retried, 0 failed for good." in result.output
    assert len(smtp.inbox.received) == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_with_mail_username_and_password(app, clinic):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        logins.append(bytes(auth_data.login))
        return AuthResult(success=auth_data.password == b"s3cret-pass", handled=False)

    server = SmtpServer(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    server.start()
    try:
        use_server(app, server, MAIL_USERNAME="mailer", MAIL_PASSWORD="wrong")
        (refused,) = queue(clinic)
        assert deliver_due(NOW).retrying == 1
        assert "SMTPAuthenticationError" in row(refused.id).last_error

        app.config["MAIL_PASSWORD"] = "s3cret-pass"
        assert deliver_due(NOW + timedelta(minutes=5)).sent == 1
        assert set(logins) == {b"mailer"}
        assert len(server.inbox.received) == 1
    finally:
        server.stop()


# --- the server down, then up --------------------------------------------------------------------


def test_server_down_nothing_is_lost_rows_back_off_then_each_arrives_once(app, clinic):
    server = SmtpServer()  # not started: connections are refused
    use_server(app, server)
    rows = queue(clinic, 4)

    result = deliver_due(NOW)
    assert (result.sent, result.retrying, result.failed) == (0, 4, 0)
    for queued in rows:
        waiting = row(queued.id)
        assert (waiting.status, waiting.attempts) == ("pending", 1)
        assert waiting.next_attempt_at > NOW + timedelta(seconds=50)
    assert "ConnectionRefusedError" in row(rows[0].id).last_error
    assert "unreachable" in row(rows[1].id).last_error  # not tried again in the same run

    server.start()
    try:
        assert deliver_due(NOW + timedelta(seconds=30)).sent == 0  # not due yet
        assert deliver_due(NOW + timedelta(minutes=5)).sent == 4
        assert deliver_due(NOW + timedelta(hours=1)).sent == 0
        expected = sorted(f"<outbox.{r.id}.20260701120000@riverside.test>" for r in rows)
        assert sorted(server.inbox.message_ids()) == expected
        assert count(OutboxMessage.status == "sent") == 4
    finally:
        server.stop()


def test_a_dropped_connection_is_reopened_for_the_next_message(clinic, smtp, monkeypatch):
    """A server that closes the connection between messages (idle or per-connection limit)."""
    rows = queue(clinic, 2)
    transport = SmtpTransport("127.0.0.1", smtp.port, timeout=5)
    original_send = SmtpTransport._send

    def send_then_hang_up(self, message):
        original_send(self, message)
        self._connection.sock.close()  # the server hung up after this message

    monkeypatch.setattr(SmtpTransport, "_send", send_then_hang_up)
    assert deliver_due(NOW, transport).sent == 2
    assert sorted(smtp.inbox.message_ids()) == sorted(
        f"<outbox.{r.id}.20260701120000@riverside.test>" for r in rows
    )


# --- two delivery runs at once ------------------------------------------------------------------


def test_two_runs_at_once_send_each_message_once(app, clinic, smtp):
    """Two threads, each with its own app context, session and connection to one database
    (a SQLite file in WAL mode, or PostgreSQL when the suite runs on it)."""
    if db.engine.dialect.name == "sqlite":
        assert db.session.execute(db.text("PRAGMA journal_mode")).scalar() == "wal"
        assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    expected = sorted(f"<outbox.{r.id}.20260701120000@riverside.test>" for r in queue(clinic, 40))
    db.session.remove()  # the test's own session holds nothing open while the runs work
    start = threading.Barrier(2, timeout=10)
    errors, results = [], []

    def run():
        try:
            with app.app_context():
                start.wait()
                results.append(deliver_due(NOW))
                db.session.remove()
        except Exception as error:  # surfaced below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a delivery run did not finish"
    assert errors == []
    assert sum(r.sent for r in results) == 40
    ids = smtp.inbox.message_ids()
    assert len(ids) == 40 and len(set(ids)) == 40
    assert sorted(ids) == expected
    assert count(OutboxMessage.status == "sent") == 40


# --- failed for good: the admin's page ----------------------------------------------------------


@pytest.fixture
def failed(app, clinic):
    """A message that failed 8 times (mail server down throughout), and the server to fix it."""
    server = SmtpServer()
    use_server(app, server)
    (message,) = queue(clinic, to_address="riley@example.com", subject="Time to check in")
    when = NOW
    for _ in range(MAX_ATTEMPTS):
        result = deliver_due(when)
        when = row(message.id).next_attempt_at
    assert result.failed == 1
    yield row(message.id)
    server.stop()


def test_after_eight_failures_the_row_is_failed_and_never_tried_again(failed):
    assert (failed.status, failed.attempts) == ("failed", MAX_ATTEMPTS)
    assert "ConnectionRefusedError" in failed.last_error
    assert deliver_due(NOW + timedelta(days=30)).sent == 0
    assert row(failed.id).attempts == MAX_ATTEMPTS


def test_the_admin_sees_it_listed_and_counted(client, admin, failed):
    staff = StaffActions(client)
    assert staff.sign_in("admin@riverside.test").status_code == 302
    nav = client.get("/clinic/patients").text
    assert 'aria-label="1 undelivered"' in nav

    page = client.get("/clinic/messages")
    assert page.status_code == 200
    for shown in ("riley@example.com", "Time to check in", "invite", "ConnectionRefusedError"):
        assert shown in page.text
    assert f"<td>{MAX_ATTEMPTS}</td>" in page.text
    assert "01 Jul 2026, 13:00" in page.text  # queued at 12:00 UTC, shown in London time
    assert "Europe/London" in page.text
    listed = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "messages.failed.list")
    ).all()
    assert [(e.actor_id, e.clinic_id) for e in listed] == [(admin.id, admin.clinic_id)]


def test_retry_puts_it_back_in_the_queue_audited_and_it_is_sent_once(app, client, admin, failed):
    staff = StaffActions(client)
    staff.sign_in("admin@riverside.test")
    response = staff.post(f"/clinic/messages/{failed.id}/retry", form_page="/clinic/messages")
    assert response.status_code == 302 and response.headers["Location"] == "/clinic/messages"

    retried = row(failed.id)
    assert (retried.status, retried.attempts, retried.claimed_at) == ("pending", 0, None)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "message.retry"))
    assert (event.actor_id, event.target) == (admin.id, f"outbox:{failed.id}")
    page = client.get("/clinic/messages").text
    assert "back in the queue" in page and "undelivered</span>" not in page
    assert "riley@example.com</td>" not in page

    again = staff.post(f"/clinic/messages/{failed.id}/retry", form_page="/clinic/messages")
    assert again.status_code == 302
    assert "nothing to retry" in client.get("/clinic/messages").text

    server = SmtpServer()
    server.start()
    try:
        use_server(app, server)
        assert deliver_due(retried.next_attempt_at + timedelta(seconds=1)).sent == 1
        assert deliver_due(NOW + timedelta(days=2)).sent == 0
        assert [r.rcpt_tos for r in server.inbox.received] == [["riley@example.com"]]
    finally:
        server.stop()


def test_a_clinician_can_neither_see_nor_retry_it(client, clinic, failed):
    staff = StaffActions(client)
    assert staff.sign_in().status_code == 302  # the clinic's nurse
    assert "/clinic/messages" not in client.get("/clinic/patients").text
    assert client.get("/clinic/messages").status_code == 403
    assert staff.post(f"/clinic/messages/{failed.id}/retry").status_code == 403
    assert row(failed.id).status == "failed"


def test_another_clinics_admin_can_neither_see_nor_retry_it(app, client, failed, other_clinic):
    create_user(other_clinic, "boss@hillside.test", STAFF_PASSWORD, "admin")
    db.session.commit()
    staff = StaffActions(client)
    assert staff.sign_in("boss@hillside.test").status_code == 302
    assert "undelivered" not in client.get("/clinic/patients").text
    page = client.get("/clinic/messages").text
    assert "riley@example.com" not in page and "Nothing undelivered" in page
    assert staff.post(f"/clinic/messages/{failed.id}/retry").status_code == 404
    assert row(failed.id).status == "failed"


def test_signed_out_visitors_are_sent_to_sign_in(client, failed):
    assert client.get("/clinic/messages").headers["Location"].startswith("/signin")
    token = csrf_token(client.get("/signin").text)
    response = client.post(f"/clinic/messages/{failed.id}/retry", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
    assert row(failed.id).status == "failed"
