"""The outbox: messages queued with their cause, delivered once, retried with back-off."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import func, select, update

from tracker.extensions import db
from tracker.models import OutboxMessage
from tracker.services.messaging import delivery, outbox
from tracker.services.messaging.delivery import FileTransport, build_email, deliver_due
from tracker.services.messaging.outbox import MAX_ATTEMPTS, claim, enqueue, retry_delay

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Recording:
    """A transport that keeps what it was given (a mail server that always accepts)."""

    def __init__(self):
        self.sent: list[tuple[int, object]] = []
        self.lock = threading.Lock()

    def send(self, message, outbox_id):
        with self.lock:
            self.sent.append((outbox_id, message))

    @property
    def ids(self) -> list[int]:
        return [outbox_id for outbox_id, _ in self.sent]


class MailServer(Recording):
    """A mail server that can be down (refuses everything) or refuse some addresses."""

    def __init__(self, down=False, refuses=()):
        super().__init__()
        self.down = down
        self.refuses = set(refuses)
        self.attempts = 0

    def send(self, message, outbox_id):
        self.attempts += 1
        if self.down:
            raise ConnectionRefusedError("mail server down")
        if message["To"] in self.refuses:
            raise ValueError(f"mailbox unavailable: {message['To']}")
        super().send(message, outbox_id)


class UpperJitter:
    """An rng whose jitter is always the largest allowed, so delays are exact in tests."""

    def uniform(self, low, high):
        return high


def queue(clinic, n=1, now=NOW, **overrides) -> list[OutboxMessage]:
    """Queue `n` messages and commit them."""
    rows = []
    for i in range(n):
        values = {
            "clinic_id": clinic.id,
            "kind": "test",
            "to_address": f"person{i}@example.com",
            "subject": f"Message {i}",
            "body_text": f"Plain text {i}",
            "body_html": f"<p>HTML {i}</p>",
            "now": now,
            **overrides,
        }
        rows.append(enqueue(**values))
    db.session.commit()
    return rows


def row(outbox_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, outbox_id)


def count(*where) -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(*where))


# --- queueing -----------------------------------------------------------------------------------


def test_enqueue_only_adds_to_the_callers_transaction(clinic):
    message = enqueue(
        clinic_id=clinic.id, kind="test", to_address="a@example.com", subject="S", body_text="T"
    )
    assert message.status == "pending" and message.attempts == 0
    db.session.rollback()
    assert count() == 0


def test_a_dedupe_key_makes_a_message_single(clinic):
    first = enqueue(
        clinic_id=clinic.id,
        kind="t",
        to_address="a@x.com",
        subject="S",
        body_text="T",
        dedupe_key="reminder:1:2026-03-02",
    )
    second = enqueue(
        clinic_id=clinic.id,
        kind="t",
        to_address="a@x.com",
        subject="S",
        body_text="T",
        dedupe_key="reminder:1:2026-03-02",
    )
    db.session.commit()
    assert first is not None and second is None
    assert count() == 1


# --- delivery -----------------------------------------------------------------------------------


def test_deliver_writes_each_message_as_an_eml_file_and_marks_it_sent(app, clinic, tmp_path):
    (message,) = queue(clinic, headers={"X-Aftercare-Kind": "test"})
    transport = FileTransport(tmp_path / "mail")  # the folder does not exist yet
    result = deliver_due(NOW, transport)
    assert (result.sent, result.retrying, result.failed) == (1, 0, 0)

    sent = row(message.id)
    assert (sent.status, sent.sent_at, sent.attempts) == ("sent", NOW, 0)
    files = list((tmp_path / "mail").iterdir())
    assert files == [transport.path_for(message.id)]
    parsed = BytesParser(policy=policy.default).parse(files[0].open("rb"))
    assert parsed["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert parsed["To"] == "person0@example.com"
    assert parsed["Subject"] == "Message 0"
    assert parsed["Message-ID"] == f"<outbox.{message.id}.20260302120000@localhost>"
    assert parsed["X-Aftercare-Kind"] == "test"
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content().strip() == "Plain text 0"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>HTML 0</p>"


def test_a_message_without_html_is_plain_text(clinic, tmp_path):
    (message,) = queue(clinic, body_html=None)
    transport = FileTransport(tmp_path / "mail")
    deliver_due(NOW, transport)
    parsed = BytesParser(policy=policy.default).parse(transport.path_for(message.id).open("rb"))
    assert parsed.get_content_type() == "text/plain"


def test_two_runs_in_sequence_never_send_twice(clinic):
    rows = queue(clinic, 3)
    transport = Recording()
    assert deliver_due(NOW, transport).sent == 3
    assert deliver_due(NOW + timedelta(minutes=1), transport).sent == 0
    assert transport.ids == [r.id for r in rows]


def test_each_claim_is_stamped_when_it_is_made_so_a_long_run_keeps_its_rows(clinic, monkeypatch):
    """A run that lasts longer than the sending time-out must not look stuck to another run."""
    queue(clinic, 3)
    ticks = iter(range(0, 100_000, 600))  # each look at the clock: ten minutes later
    monkeypatch.setattr(delivery.time, "monotonic", lambda: next(ticks))
    claimed_at = []

    class Watching(Recording):
        def send(self, message, outbox_id):
            claimed_at.append(db.session.get(OutboxMessage, outbox_id).claimed_at)
            super().send(message, outbox_id)

    assert deliver_due(NOW, Watching()).sent == 3
    assert claimed_at == [NOW + timedelta(minutes=m) for m in (10, 20, 30)]


def test_messages_not_yet_due_wait(clinic):
    (message,) = queue(clinic, now=NOW + timedelta(minutes=5))
    transport = Recording()
    assert deliver_due(NOW, transport).sent == 0
    assert deliver_due(NOW + timedelta(minutes=5), transport).sent == 1


def test_a_row_claimed_by_another_run_is_left_alone(clinic, monkeypatch):
    """Compare-and-set: another run claimed the row between our query and our claim."""
    (message,) = queue(clinic)
    real_claim = outbox.claim

    def rival_claims_first(outbox_id, now, claimed_at=None):
        assert real_claim(outbox_id, now)  # the other run wins the row
        return real_claim(outbox_id, now, claimed_at)

    monkeypatch.setattr(outbox, "claim", rival_claims_first)
    transport = Recording()
    assert deliver_due(NOW, transport).sent == 0
    assert transport.sent == []
    assert row(message.id).status == "sending"


def test_a_row_can_be_claimed_once(clinic):
    (message,) = queue(clinic)
    assert claim(message.id, NOW) is True
    assert claim(message.id, NOW) is False
    assert row(message.id).claimed_at == NOW


def test_two_runs_at_once_send_each_message_once(app, clinic):
    rows = queue(clinic, 30)
    transport = Recording()
    start = threading.Barrier(2)
    errors = []

    def run():
        try:
            with app.app_context():
                start.wait()
                deliver_due(NOW, transport)
                db.session.remove()
        except Exception as error:  # surfaced below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(transport.ids) == [r.id for r in rows]
    assert count(OutboxMessage.status == "sent") == 30


def test_a_row_left_sending_by_a_dead_run_is_sent_after_the_timeout(clinic):
    stuck, recent = queue(clinic, 2)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == stuck.id)
        .values(status="sending", claimed_at=NOW - timedelta(minutes=16))
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == recent.id)
        .values(status="sending", claimed_at=NOW - timedelta(minutes=5))
    )
    db.session.commit()
    transport = Recording()
    result = deliver_due(NOW, transport)
    assert (result.released, result.sent) == (1, 1)
    assert transport.ids == [stuck.id]
    assert row(recent.id).status == "sending"


def test_writing_a_message_again_replaces_its_file(clinic, tmp_path):
    (message,) = queue(clinic)
    transport = FileTransport(tmp_path / "mail")
    email = build_email(message, "aftercare@clinic.test")
    transport.send(email, message.id)
    transport.send(email, message.id)
    assert [p.name for p in (tmp_path / "mail").iterdir()] == [f"outbox-{message.id:08d}.eml"]


def test_message_id_is_the_same_on_every_retry(clinic):
    (message,) = queue(clinic)
    first = build_email(message, "Aftercare <mail@clinic.test>")
    again = build_email(message, "Aftercare <mail@clinic.test>")
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"].endswith("@clinic.test>")


# --- failures and back-off ----------------------------------------------------------------------


def test_a_failure_backs_off_about_a_minute_and_keeps_the_error(clinic):
    (message,) = queue(clinic)
    server = MailServer(down=True)
    result = deliver_due(NOW, server, rng=random.Random(1))
    assert (result.sent, result.retrying, result.failed) == (0, 1, 0)
    failed = row(message.id)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert NOW + timedelta(seconds=54) <= failed.next_attempt_at <= NOW + timedelta(seconds=66)
    assert failed.last_error == "ConnectionRefusedError: mail server down"
    # not retried before it is due
    assert deliver_due(failed.next_attempt_at - timedelta(seconds=1), server).retrying == 0
    assert server.attempts == 1


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 60), (2, 120), (3, 240), (4, 480), (8, 7680), (9, 15360), (10, 21600), (20, 21600)],
)
def test_retry_delay_doubles_from_a_minute_to_six_hours(attempts, seconds):
    assert retry_delay(attempts, UpperJitter()) == timedelta(seconds=seconds) * 1.1
    for seed in range(20):
        delay = retry_delay(attempts, random.Random(seed)).total_seconds()
        assert seconds * 0.9 <= delay <= seconds * 1.1


def test_jitter_spreads_retries_of_messages_that_failed_together(clinic):
    rows = queue(clinic, 5)
    deliver_due(NOW, MailServer(down=True))
    assert len({row(r.id).next_attempt_at for r in rows}) > 1


def test_after_eight_failures_a_message_is_failed_and_left_alone(clinic):
    (message,) = queue(clinic)
    server = MailServer(down=True)
    when, delays = NOW, []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = deliver_due(when, server, rng=UpperJitter())
        current = row(message.id)
        assert current.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert result.retrying == 1 and current.status == "pending"
            delays.append((current.next_attempt_at - when).total_seconds())
            when = current.next_attempt_at
    assert MAX_ATTEMPTS == 8
    assert (result.failed, current.status) == (1, "failed")
    assert delays == [60 * 2**n * 1.1 for n in range(7)]
    server.down = False
    assert deliver_due(when + timedelta(days=1), server).sent == 0
    assert server.attempts == 8


def test_mail_server_down_then_up_every_message_arrives_once(clinic):
    rows = queue(clinic, 4)
    server = MailServer(down=True)
    deliver_due(NOW, server)
    assert count(OutboxMessage.status == "pending", OutboxMessage.attempts == 1) == 4
    server.down = False
    later = NOW + timedelta(minutes=5)
    assert deliver_due(later, server).sent == 4
    assert deliver_due(later + timedelta(hours=1), server).sent == 0
    assert sorted(server.ids) == [r.id for r in rows]
    assert {row(r.id).last_error for r in rows} == {None}


def test_one_bad_message_does_not_hold_up_the_others(clinic):
    rows = queue(clinic, 3)
    server = MailServer(refuses={"person1@example.com"})
    result = deliver_due(NOW, server)
    assert (result.sent, result.retrying) == (2, 1)
    assert server.ids == [rows[0].id, rows[2].id]
    assert "mailbox unavailable" in row(rows[1].id).last_error


# --- the command --------------------------------------------------------------------------------


def test_tracker_deliver_writes_eml_files_under_instance_mail(app, clinic, tmp_path, monkeypatch):
    queue(clinic, 2)
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    result = app.test_cli_runner().invoke(args=["tracker", "deliver"])
    assert result.exit_code == 0, result.output
    assert "Sent 2 messages; 0 will be retried, 0 failed for good." in result.output
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2
    again = app.test_cli_runner().invoke(args=["tracker", "deliver"])
    assert "Sent 0 messages" in again.output
