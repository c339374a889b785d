"""Check-in reminders and the review reminder, by the patient's own clock.

Time travel by passing `now`: each test runs the job as the scheduler would (every 15 minutes,
or at chosen moments) and reads what landed in the outbox.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.parser import BytesParser
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, insert, select, update

from tests import builders
from tracker.catalogue import DEFAULT_SCHEDULE
from tracker.extensions import db
from tracker.models import CheckIn, OutboxMessage, Patient, PatientLink
from tracker.services.messaging import reminders
from tracker.services.messaging.delivery import build_email
from tracker.services.messaging.reminders import REMINDER, REVIEW, send_due_reminders
from tracker.services.patients.links import LinkState, check_link
from tracker.timeutil import from_local

LONDON = "Europe/London"
SYDNEY = "Australia/Sydney"
NINE = time(9, 0)
QUARTER = timedelta(minutes=15)


def at(day: date, clock: time, tz: str = LONDON) -> datetime:
    """The UTC instant of a wall-clock time on a local date."""
    return from_local(day, clock, tz)


def treated_days_before(day: date, days: int, tz: str = LONDON) -> datetime:
    """A treatment at 10:00 local, `days` local days before `day` (so `day` is day `days`)."""
    return at(day - timedelta(days=days), time(10, 0), tz)


def remind(now: datetime):
    """One run of the job, committed as the scheduler and the CLI do."""
    result = send_due_reminders(now)
    db.session.commit()
    return result


def messages(*where) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(*where).order_by(OutboxMessage.id)))


def link_count() -> int:
    return db.session.scalar(select(func.count(PatientLink.id)))


def run_every_quarter_hour(start: datetime, end: datetime) -> list[datetime]:
    """Run the job every 15 minutes from `start` until before `end`; the runs that queued any."""
    fired = []
    now = start
    while now < end:
        first, again = remind(now), remind(now)
        assert again.reminders + again.reviews == 0  # a second run at once adds nothing
        if first.reminders + first.reviews:
            fired.append(now)
        now += QUARTER
    return fired


# --- the patient's time of day ----------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 3, 29),  # the clocks go forward at 01:00 GMT: a 23-hour day
        date(2026, 10, 25),  # the clocks go back at 02:00 BST: a 25-hour day
        date(2026, 5, 12),  # an ordinary day
    ],
)
def test_a_0900_london_reminder_fires_once_at_0900_local_on_clock_change_days(make_patient, day):
    patient, treatment = make_patient(treated_at=treated_days_before(day, 5))
    start, end = at(day, time(0, 0)), at(day + timedelta(days=1), time(0, 0))

    fired = run_every_quarter_hour(start, end)

    assert fired == [at(day, NINE)]
    assert fired[0].astimezone(ZoneInfo(LONDON)).time() == NINE
    [message] = messages()
    assert message.kind == REMINDER
    assert message.dedupe_key == f"reminder:{treatment.id}:{day.isoformat()}"
    assert message.to_address == patient.email


def test_a_patient_in_sydney_is_reminded_at_their_0900(make_patient):
    day = date(2026, 6, 4)  # 09:00 in Sydney (AEST, UTC+10) is 23:00 UTC the day before
    _, treatment = make_patient(timezone=SYDNEY, treated_at=treated_days_before(day, 3, SYDNEY))
    nine_in_sydney = datetime(2026, 6, 3, 23, 0, tzinfo=UTC)
    assert nine_in_sydney == at(day, NINE, SYDNEY)

    assert remind(nine_in_sydney - timedelta(minutes=1)).reminders == 0
    assert remind(nine_in_sydney).reminders == 1

    [message] = messages()
    assert message.dedupe_key == f"reminder:{treatment.id}:2026-06-04"  # Sydney's date
    assert "day 3" in message.subject


def test_a_job_that_runs_late_still_sends_that_days_reminder(make_patient):
    day = date(2026, 5, 12)
    make_patient(treated_at=treated_days_before(day, 2))
    assert remind(at(day, time(22, 50))).reminders == 1


def test_no_reminder_before_the_patients_chosen_time(make_patient):
    day = date(2026, 5, 12)
    patient, _ = make_patient(treated_at=treated_days_before(day, 2))
    patient.reminder_time = time(18, 30)
    db.session.commit()

    assert remind(at(day, time(18, 29))).reminders == 0
    assert remind(at(day, time(18, 30))).reminders == 1


# --- the follow-up schedule -------------------------------------------------------------------

SCHEDULE = [(0, None), (1, REMINDER), (2, REMINDER), (7, REMINDER), (13, REMINDER)]
SCHEDULE += [(14, REVIEW)] + [(n, None) for n in range(15, 21)]
SCHEDULE += [(21, REMINDER), (22, None), (27, None), (28, REMINDER), (29, None), (35, None)]


@pytest.mark.parametrize(("day_number", "kind"), SCHEDULE)
def test_reminders_follow_the_schedule(make_patient, day_number, kind):
    day = date(2026, 5, 12)
    make_patient(treated_at=treated_days_before(day, day_number))

    remind(at(day, time(12, 0)))

    assert [m.kind for m in messages()] == ([kind] if kind else [])


def test_the_schedule_comes_from_the_catalogue():
    assert DEFAULT_SCHEDULE.reminder_days == tuple(range(1, 15)) + (21, 28)
    assert DEFAULT_SCHEDULE.review_day == 14


def test_a_treatment_that_has_not_happened_yet_gets_no_reminder(make_patient):
    day = date(2026, 5, 12)
    make_patient(treated_at=at(day + timedelta(days=2), time(10, 0)))
    assert remind(at(day, time(12, 0))).considered == 0
    assert messages() == []


# --- once, and only when needed ---------------------------------------------------------------


def test_running_twice_queues_one_reminder_and_issues_one_link(make_patient):
    day = date(2026, 5, 12)
    make_patient(treated_at=treated_days_before(day, 4))

    assert remind(at(day, time(9, 5))).reminders == 1
    links = link_count()
    assert remind(at(day, time(9, 5))).reminders == 0
    assert remind(at(day, time(17, 0))).reminders == 0

    assert len(messages()) == 1
    assert link_count() == links  # no personal link made for a reminder that was not sent


def test_each_reminder_day_gets_its_own_reminder(make_patient):
    day = date(2026, 5, 12)
    make_patient(treated_at=treated_days_before(day, 4))
    remind(at(day, time(9, 5)))
    remind(at(day + timedelta(days=1), time(9, 5)))
    assert [m.dedupe_key.rsplit(":", 1)[1] for m in messages()] == ["2026-05-12", "2026-05-13"]


@pytest.mark.parametrize("symptoms", [{}, {"bruising": 1}])
def test_no_reminder_on_a_day_already_checked_in(make_patient, symptoms):
    day = date(2026, 5, 12)
    _, treatment = make_patient(treated_at=treated_days_before(day, 3))
    morning = at(day, time(7, 30))
    builders.checkin(treatment, morning, symptoms)  # {} = no symptoms
    db.session.commit()

    assert remind(at(day, time(9, 0))).reminders == 0
    assert remind(at(day + timedelta(days=1), time(9, 0))).reminders == 1  # the next day: yes


def test_a_check_in_late_yesterday_does_not_count_for_today(make_patient):
    day = date(2026, 6, 4)
    _, treatment = make_patient(timezone=SYDNEY, treated_at=treated_days_before(day, 3, SYDNEY))
    late_yesterday = at(day - timedelta(days=1), time(23, 50), SYDNEY)
    builders.checkin(treatment, late_yesterday)
    db.session.commit()

    assert remind(at(day, NINE, SYDNEY)).reminders == 1


def test_reminders_off_means_no_reminder_and_no_link(make_patient):
    day = date(2026, 5, 12)
    patient, _ = make_patient(treated_at=treated_days_before(day, 3))
    patient.reminders_enabled = False
    db.session.commit()
    links = link_count()

    result = remind(at(day, time(12, 0)))

    assert (result.considered, result.reminders) == (0, 0)
    assert messages() == [] and link_count() == links


def test_only_the_latest_treatment_is_reminded_of(make_patient):
    day = date(2026, 5, 12)
    patient, first = make_patient(treated_at=treated_days_before(day, 10))
    second = builders.treatment(
        patient, treated_days_before(day, 2), batch="C9999ZZ9", units={"forehead": 4}
    )
    db.session.commit()

    remind(at(day, time(12, 0)))

    [message] = messages()
    assert message.dedupe_key == f"reminder:{second.id}:2026-05-12"


# --- the review reminder ----------------------------------------------------------------------


def test_the_review_reminder_goes_once_on_day_14_instead_of_that_days_reminder(make_patient):
    day = date(2026, 5, 12)
    _, treatment = make_patient(treated_at=treated_days_before(day, 14))

    fired = run_every_quarter_hour(at(day, time(0, 0)), at(day + timedelta(days=1), time(0, 0)))

    assert fired == [at(day, NINE)]
    [message] = messages()
    assert (message.kind, message.dedupe_key) == (REVIEW, f"review:{treatment.id}")
    assert "review appointment" in message.subject
    assert "review appointment" in message.body_text
    remind(at(day + timedelta(days=1), time(12, 0)))  # day 15: nothing more
    assert len(messages()) == 1


def test_the_review_reminder_goes_even_after_a_check_in_that_day(make_patient):
    day = date(2026, 5, 12)
    _, treatment = make_patient(treated_at=treated_days_before(day, 14))
    morning = at(day, time(7, 0))
    builders.checkin(treatment, morning)
    db.session.commit()

    assert remind(at(day, time(9, 0))).reviews == 1


# --- the email --------------------------------------------------------------------------------


def test_the_reminder_email_has_a_working_link_a_stop_link_and_local_times(app, make_patient):
    day = date(2026, 6, 4)
    patient, _ = make_patient(timezone=SYDNEY, treated_at=treated_days_before(day, 3, SYDNEY))
    now = at(day, NINE, SYDNEY)
    remind(now)

    [row] = messages()
    email = BytesParser(policy=policy.default).parsebytes(
        bytes(build_email(row, "clinic@example.com"))
    )
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert email["To"] == patient.email
    assert "Riverside Clinic" in email["Subject"]
    token = text.split("http://aftercare.test/p/", 1)[1].split()[0]
    assert check_link(token, now).state is LinkState.VALID
    assert f"/p/{token}" in html
    assert "We remind you at 09:00, Sydney time," in text
    assert "Sydney time." in text.split("works until", 1)[1]  # the expiry, where the patient is
    stop_link = email["List-Unsubscribe"].strip()  # folded: a long header goes on two lines
    assert stop_link.startswith("<http://aftercare.test/stop/") and stop_link.endswith(">")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    stop_link = stop_link.strip("<>")
    assert stop_link in text and stop_link in html


def test_the_cli_runs_the_job_as_of_the_given_time(runner, make_patient):
    day = date(2026, 5, 12)
    make_patient(treated_at=treated_days_before(day, 2))
    result = runner.invoke(args=["tracker", "remind", "--now", "2026-05-12T09:00+01:00"])
    assert result.exit_code == 0, result.output
    assert "1 check-in reminders" in result.output
    assert len(messages()) == 1


# --- set-based --------------------------------------------------------------------------------


def count_statements(run) -> int:
    """How many SQL statements `run()` sends to the database."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def add_patients(make_patient, first: int, last: int, treated_at: datetime) -> None:
    for n in range(first, last):
        make_patient(f"Patient{n} Example", treated_at=treated_at)


def test_the_job_runs_as_many_statements_for_50_patients_as_for_5(make_patient):
    day = date(2026, 5, 12)
    add_patients(make_patient, 0, 5, treated_days_before(day, 3))
    db.session.expire_all()
    for_5 = count_statements(lambda: remind(at(day, time(9, 0))))
    assert len(messages()) == 5

    next_day = day + timedelta(days=1)
    add_patients(make_patient, 5, 50, treated_days_before(next_day, 3))
    db.session.expire_all()
    for_50 = count_statements(lambda: remind(at(next_day, time(9, 0))))

    assert len(messages()) == 5 + 50
    assert for_50 == for_5
    # the batch's ids, its candidates, queued keys, today's check-ins; then BEGIN, today's
    # check-ins again, outbox, links, COMMIT: a handful, not one per patient
    assert for_5 <= 9


# --- committed batch by batch, rendered outside the write lock ----------------------------------


def outbox_count_elsewhere() -> int:
    """How many outbox rows another connection sees: only what has been committed."""
    with db.engine.connect() as other:
        return other.scalar(select(func.count(OutboxMessage.id)))


def spy_on_rendering(monkeypatch, on_render) -> None:
    """Call `on_render()` each time the job renders an email, then render it as usual."""
    real = reminders.render_email

    def render(*args, **kwargs):
        on_render()
        return real(*args, **kwargs)

    monkeypatch.setattr(reminders, "render_email", render)


def test_each_batch_is_committed_before_the_next_is_read(make_patient, monkeypatch):
    day = date(2026, 5, 12)
    add_patients(make_patient, 0, 5, treated_days_before(day, 3))
    monkeypatch.setattr(reminders, "BATCH_SIZE", 2)
    seen = []
    spy_on_rendering(monkeypatch, lambda: seen.append(outbox_count_elsewhere()))

    result = remind(at(day, time(9, 0)))

    assert (result.reminders, result.batches) == (5, 3)
    assert seen == [0, 0, 2, 2, 4]  # each batch's reminders were visible to others at once


def test_a_crash_in_batch_two_keeps_batch_one_and_a_rerun_sends_the_rest_once(
    make_patient, monkeypatch
):
    day = date(2026, 5, 12)
    add_patients(make_patient, 0, 5, treated_days_before(day, 3))
    monkeypatch.setattr(reminders, "BATCH_SIZE", 2)
    renders = []

    def crash_on_the_third():
        renders.append(1)
        if len(renders) == 3:
            raise RuntimeError("the job died in batch 2")

    spy_on_rendering(monkeypatch, crash_on_the_third)
    with pytest.raises(RuntimeError):
        send_due_reminders(at(day, time(9, 0)))
    db.session.rollback()  # as the scheduler does after a failed run
    assert len(messages()) == 2 and link_count() == 2

    monkeypatch.undo()
    assert remind(at(day, time(9, 15))).reminders == 3
    assert remind(at(day, time(9, 30))).reminders == 0
    keys = [m.dedupe_key for m in messages()]
    assert len(keys) == len(set(keys)) == 5
    assert link_count() == 5  # one link per reminder sent, none for what was not


@pytest.mark.sqlite_only("SQLite's database-wide write lock")
def test_no_write_lock_is_held_while_rendering(make_patient, monkeypatch):
    day = date(2026, 5, 12)
    add_patients(make_patient, 0, 3, treated_days_before(day, 3))
    monkeypatch.setattr(reminders, "BATCH_SIZE", 2)
    path = db.engine.url.database
    took_the_lock = []

    def another_writer_gets_in():
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if the job held the write lock
            other.execute("ROLLBACK")
            took_the_lock.append(True)
        finally:
            other.close()

    spy_on_rendering(monkeypatch, another_writer_gets_in)

    assert remind(at(day, time(9, 0))).reminders == 3
    assert took_the_lock == [True, True, True]


def test_reminders_turned_off_while_the_batch_renders_are_not_sent(make_patient, monkeypatch):
    day = date(2026, 5, 12)
    patient, _ = make_patient(treated_at=treated_days_before(day, 3))

    def patient_turns_them_off():
        with db.engine.begin() as other:
            other.execute(
                update(Patient).where(Patient.id == patient.id).values(reminders_enabled=False)
            )

    spy_on_rendering(monkeypatch, patient_turns_them_off)

    assert remind(at(day, time(9, 0))).reminders == 0
    assert messages() == []


def test_a_check_in_while_the_batch_renders_cancels_that_reminder(make_patient, monkeypatch):
    day = date(2026, 5, 12)
    _, treatment = make_patient(treated_at=treated_days_before(day, 3))
    now = at(day, time(9, 0))

    def patient_checks_in():
        with db.engine.begin() as other:
            other.execute(
                insert(CheckIn).values(
                    treatment_id=treatment.id, reported_at=now, source="patient", created_at=now
                )
            )

    spy_on_rendering(monkeypatch, patient_checks_in)

    assert remind(now).reminders == 0
    assert messages() == []
