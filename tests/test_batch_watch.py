"""The batch watch end to end in-process: check-ins and flags in, signals, alerts, notices and the
digest out, through the sweep job (tracker/services/batches/watch.py, notices.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from tests import builders
from tests.conftest import STAFF_PASSWORD
from tracker import batch_rules, scheduler
from tracker.extensions import db
from tracker.models import EXCESS, NOTICE, SPREAD, BatchSignal, Clinic, OutboxMessage
from tracker.services.batches import findings, notices
from tracker.services.batches.notices import BATCH_SIGNAL
from tracker.services.batches.watch import sweep_and_watch, watch_batches
from tracker.services.clinics.clinics import create_clinic, create_user
from tracker.services.messaging.digest import DIGEST, send_due_digests

DAY0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BATCH = "C 3709 c3"


def signals(kind: str | None = None) -> list[BatchSignal]:
    query = select(BatchSignal).order_by(BatchSignal.id)
    if kind:
        query = query.where(BatchSignal.kind == kind)
    return list(db.session.scalars(query))


def emails(kind: str = BATCH_SIGNAL, clinic: Clinic | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
    if clinic is not None:
        query = query.where(OutboxMessage.clinic_id == clinic.id)
    return list(db.session.scalars(query))


def treated(clinic: Clinic, name: str, day: float, batch: str = BATCH, product: str = "Botox"):
    patient = builders.patient(clinic, name)
    return builders.treatment(patient, DAY0 + timedelta(days=day), product=product, batch=batch)


def spread_checkin(treatment, days_after: float = 2, code: str = "difficulty_swallowing"):
    builders.checkin(treatment, treatment.treated_at + timedelta(days=days_after), {code: 1})
    db.session.commit()


def spread_pair(clinic: Clinic, code: str = "difficulty_swallowing"):
    """Two patients treated from the batch a week apart, each reporting `code` two days on."""
    first, second = treated(clinic, "Ann Able", 0), treated(clinic, "Bea Baker", 7)
    db.session.commit()
    spread_checkin(first, code=code)
    spread_checkin(second, code=code)
    return first, second


@pytest.fixture
def riverside(clinic, admin):
    """The test clinic, with an alert address and an admin."""
    clinic.alert_email = "alerts@riverside.test"
    db.session.commit()
    return clinic


@pytest.fixture
def hillside(app):
    """A second clinic on the installation, with its own alert address."""
    other = create_clinic("Hillside Clinic")
    other.alert_email = "alerts@hillside.test"
    create_user(other, "admin@hillside.test", STAFF_PASSWORD, "admin")
    db.session.commit()
    return other


def sweep(now: datetime):
    run = sweep_and_watch(now)
    db.session.commit()
    return run


# --- spread ---------------------------------------------------------------------------------------


def test_two_patients_a_week_apart_with_a_spread_sign_raise_one_signal_and_one_alert(riverside):
    first = treated(riverside, "Ann Able", 0)
    second = treated(riverside, "Bea Baker", 7, batch="c3709C3")  # the same batch, typed otherwise
    db.session.commit()
    spread_checkin(first)
    spread_checkin(second, code="vision_problems")

    run = sweep(DAY0 + timedelta(days=10))

    [signal] = signals()
    assert signal.kind == SPREAD and signal.closed_at is None
    assert signal.treatment_ids == [first.id, second.id]
    assert (signal.product_key, signal.batch_key) == ("botox", "C3709C3")
    assert signal.figures["patients"] == 2 and signal.figures["treatments"] == 2
    assert signal.figures["symptoms"] == ["Difficulty swallowing", "Double or blurred vision"]
    assert run.watch.opened == [signal.id]
    sent = emails()
    assert {m.to_address for m in sent} == {"alerts@riverside.test", "admin@riverside.test"}
    body = sent[0].body_text
    assert "2 different patients" in body and "Botox batch c3709C3" in body
    for treatment in (first, second):
        assert f"cases/{treatment.id}" in body and f"cases/{treatment.id}" in sent[0].body_html
        for text in (body, sent[0].body_html, sent[0].subject):
            assert treatment.patient.name not in text
    assert "Difficulty swallowing" in body
    batch_page = "/clinic/batches/botox/C3709C3"
    assert batch_page in body and batch_page in sent[0].body_html
    assert "opened 1 batch signals" in run.summary()


def test_a_second_sweep_raises_nothing_new_and_a_closed_signal_stays_closed(riverside):
    first, second = spread_pair(riverside)
    sweep(DAY0 + timedelta(days=10))
    alerts = len(emails())

    again = sweep(DAY0 + timedelta(days=10, hours=1))
    assert len(signals()) == 1 and len(emails()) == alerts
    assert again.watch.opened == [] and again.watch.grown == 0

    [signal] = signals()
    signal.closed_at, signal.outcome = DAY0 + timedelta(days=11), "no_concern"
    db.session.commit()
    sweep(DAY0 + timedelta(days=12))
    assert len(signals()) == 1 and len(emails()) == alerts  # the same cases: not reopened

    third = treated(riverside, "Cal Cole", 14)
    db.session.commit()
    spread_checkin(third, code="muscle_weakness")
    sweep(DAY0 + timedelta(days=17))
    closed, new = signals()
    assert closed.closed_at is not None and new.closed_at is None
    assert new.treatment_ids == [first.id, second.id, third.id]
    assert len(emails()) == 2 * alerts  # a new signal: told again


def test_a_new_patient_joins_the_open_signal_with_a_follow_up_alert_once(riverside, hillside):
    treated(hillside, "Hal Hill", 3)
    first, second = spread_pair(riverside)
    sweep(DAY0 + timedelta(days=10))
    alerts, told = len(emails(clinic=riverside)), len(emails(clinic=hillside))
    third = treated(riverside, "Cal Cole", 14)
    db.session.commit()
    spread_checkin(third)

    run = sweep(DAY0 + timedelta(days=17))

    [signal] = signals(SPREAD)
    assert signal.treatment_ids == [first.id, second.id, third.id]
    assert signal.figures["patients"] == 3 and run.watch.grown == 1
    follow_up = emails(clinic=riverside)[alerts:]
    assert {m.to_address for m in follow_up} == {"alerts@riverside.test", "admin@riverside.test"}
    assert {m.dedupe_key for m in follow_up} >= {f"batch_signal:{signal.id}:patients:3"}
    for message in follow_up:
        assert "now 3 patients" in message.subject
        assert f"cases/{third.id}" in message.body_text
        assert "now counts 3 patients" in message.body_text
    [notice] = signals(NOTICE)  # the other clinic's notice has the new counts, no new email
    assert notice.figures["patients"] == 3 and notice.figures["treatments"] == 3
    assert len(emails(clinic=hillside)) == told

    sweep(DAY0 + timedelta(days=17, hours=1))
    assert len(emails(clinic=riverside)) == alerts + len(follow_up)  # told once


def test_a_new_treatment_of_a_patient_already_in_the_signal_is_no_new_alert(riverside):
    first, second = spread_pair(riverside)
    sweep(DAY0 + timedelta(days=10))
    alerts = len(emails())
    again = builders.treatment(first.patient, DAY0 + timedelta(days=12), batch=BATCH)
    db.session.commit()
    spread_checkin(again)

    run = sweep(DAY0 + timedelta(days=16))

    [signal] = signals()
    assert signal.treatment_ids == [first.id, second.id, again.id]
    assert signal.figures["patients"] == 2 and run.watch.grown == 1
    assert len(emails()) == alerts


def test_the_alert_says_each_case_was_within_28_days_of_another_not_of_each_other(riverside):
    """Days 0, 20 and 45 make one cluster (0-20 and 20-45 overlap), 45 days end to end."""
    cases = [treated(riverside, name, day) for name, day in (("Ann A", 0), ("Bea B", 20))]
    cases.append(treated(riverside, "Cal C", 45))
    db.session.commit()
    for case in cases:
        spread_checkin(case)

    sweep(DAY0 + timedelta(days=48))

    [signal] = signals(SPREAD)
    assert signal.treatment_ids == [c.id for c in cases]
    [alert, _] = emails()
    for body in (alert.body_text, alert.body_html):
        assert "between Mon 02 Mar 2026 and Thu 16 Apr 2026, each within 28 days of another" in body
        assert "of each other" not in body


@pytest.mark.parametrize(
    ("second_day", "second_batch", "report_after_days", "signalled"),
    [
        pytest.param(40, BATCH, 2, False, id="40-days-apart"),
        pytest.param(7, "OTHER1", 2, False, id="another-batch"),
        pytest.param(7, BATCH, 30, False, id="reported-after-the-follow-up"),
    ],
)
def test_what_is_not_a_spread_signal(
    riverside, second_day, second_batch, report_after_days, signalled
):
    first = treated(riverside, "Ann Able", 0)
    second = treated(riverside, "Bea Baker", second_day, batch=second_batch)
    db.session.commit()
    spread_checkin(first)
    spread_checkin(second, days_after=report_after_days)
    sweep(second.treated_at + timedelta(days=report_after_days + 1))
    assert bool(signals()) is signalled and emails() == []


def test_a_symptom_that_is_not_a_spread_sign_counts_for_nothing(riverside):
    spread_pair(riverside, code="allergic_reaction")  # urgent, but not a spread sign
    sweep(DAY0 + timedelta(days=10))
    assert signals() == []


def test_two_sweeps_at_once_raise_one_signal(app, riverside):
    first, second = spread_pair(riverside)
    now = DAY0 + timedelta(days=10)
    start, errors = threading.Barrier(2), []

    def run():
        with app.app_context():
            try:
                start.wait()
                watch_batches(now)
                db.session.commit()
            except Exception as error:  # noqa: BLE001 (reported by the assertion below)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    db.session.expire_all()
    assert len(signals()) == 1
    assert len(emails()) == 2  # the alert address and the admin, once each


def test_the_scheduler_job_runs_the_watch(app, riverside):
    first, second = spread_pair(riverside)
    run = scheduler.run_job(app, "sweep", now=DAY0 + timedelta(days=10))
    assert run.ok and "opened 1 batch signals" in run.summary
    assert len(signals(SPREAD)) == 1


# --- excess -------------------------------------------------------------------------------------


def seed_excess(clinic: Clinic, serious_patients: int = 4, others: int = 40):
    """A batch of 10 treatments, `serious_patients` of them with a severe flag, and `others`
    treatments of the product's other batches without one."""
    bad = []
    for n in range(10):
        treatment = treated(clinic, f"Pat{n} Bad", n, batch="BAD1")
        if n < serious_patients:
            builders.flag(
                treatment, "severe", "headache", opened_at=treatment.treated_at + timedelta(days=1)
            )
            bad.append(treatment)
    for n in range(others):
        treated(clinic, f"Pat{n} Good", n % 30, batch=f"GOOD{n % 3}")
    db.session.commit()
    return bad


def test_a_batch_with_more_serious_cases_than_the_others_raises_an_excess_signal(riverside):
    bad = seed_excess(riverside)

    sweep(DAY0 + timedelta(days=40))

    [signal] = signals()
    assert signal.kind == EXCESS and signal.batch_key == "BAD1"
    assert signal.treatment_ids == [t.id for t in bad]
    figures = signal.figures
    assert (figures["patients"], figures["serious"], figures["treatments"]) == (4, 4, 10)
    assert figures["other_treatments"] == 40 and figures["other_serious"] == 0
    assert figures["p_value"] < 0.01
    assert emails() == []  # an excess waits for the morning digest

    sweep(DAY0 + timedelta(days=40, hours=1))
    assert len(signals()) == 1


def test_too_few_patients_or_no_other_batch_raise_no_excess(riverside):
    seed_excess(riverside, serious_patients=2)
    sweep(DAY0 + timedelta(days=40))
    assert signals() == []


def test_no_other_batch_of_the_product_is_no_test(riverside):
    seed_excess(riverside, others=0)
    sweep(DAY0 + timedelta(days=40))
    assert signals() == []


def test_the_digest_tells_of_an_excess_even_without_new_flags(riverside):
    seed_excess(riverside)
    now = DAY0 + timedelta(days=40)
    sweep(now)
    morning = datetime(2026, 4, 12, 8, 0, tzinfo=UTC)  # 09:00 in London (summer time)
    # yesterday's digest told of the flags: since then only the signal is new
    db.session.add(
        OutboxMessage(
            clinic_id=riverside.id,
            kind=DIGEST,
            to_address="alerts@riverside.test",
            subject="s",
            body_text="t",
            status="sent",
            created_at=now - timedelta(hours=1),
            next_attempt_at=now,
        )
    )
    db.session.commit()

    result = send_due_digests(morning)
    db.session.commit()

    assert result.digests == 1 and result.signals == 1 and result.cases == 0
    [digest] = [m for m in emails(DIGEST) if m.status == "pending"]
    assert digest.subject == "1 batch signal at Riverside Clinic"
    assert "More serious reactions than the product's other batches" in digest.body_text
    assert (
        "BAD1" in digest.body_text and "4 patients with urgent or severe flags" in digest.body_text
    )


# --- cross-clinic notices -------------------------------------------------------------------------


def test_another_clinic_that_used_the_batch_gets_a_notice_with_counts_only(riverside, hillside):
    theirs = treated(hillside, "Hal Hill", 3, batch="c3709c3")
    treated(hillside, "Ike Ives", 3, batch="ELSE1")
    first, second = spread_pair(riverside)

    sweep(DAY0 + timedelta(days=10))

    spread = signals(SPREAD)[0]
    [notice] = signals(NOTICE)
    assert notice.clinic_id == hillside.id and notice.source_id == spread.id
    assert notice.treatment_ids == []
    assert notice.figures == {
        "kind": SPREAD,
        "patients": 2,
        "treatments": 2,
        "sources": [spread.id],
    }
    told = emails(clinic=hillside)
    assert {m.to_address for m in told} == {"alerts@hillside.test", "admin@hillside.test"}
    for message in told:
        for text in (message.subject, message.body_text, message.body_html):
            assert "Riverside" not in text
            assert "another clinic on this system" in text.lower() or text == message.subject
            for treatment in (first, second):
                assert treatment.patient.name not in text
                assert f"cases/{treatment.id}" not in text
    assert "2 patients" in told[0].body_text
    assert theirs.patient.name not in told[0].body_text
    assert "/clinic/batches/botox/C3709C3" in told[0].body_text  # their own page of the batch

    sweep(DAY0 + timedelta(days=10, hours=1))
    assert len(signals(NOTICE)) == 1 and len(emails(clinic=hillside)) == len(told)


def test_a_closed_notice_is_not_reopened_by_the_same_signal(riverside, hillside):
    treated(hillside, "Hal Hill", 3)
    spread_pair(riverside)
    sweep(DAY0 + timedelta(days=10))
    [notice] = signals(NOTICE)
    notice.closed_at, notice.outcome = DAY0 + timedelta(days=11), "no_concern"
    db.session.commit()
    source = db.session.get(BatchSignal, notice.source_id)

    told = notices.notify_other_clinics(source, DAY0 + timedelta(days=12))
    db.session.commit()
    assert told.notices == 0 and len(signals(NOTICE)) == 1

    # a new signal at the first clinic (its first closed, a new patient's case) is a new notice
    source.closed_at, source.outcome = DAY0 + timedelta(days=12), "reported"
    third = treated(riverside, "Cal Cole", 14)
    db.session.commit()
    spread_checkin(third)
    sweep(DAY0 + timedelta(days=17))
    closed, new = signals(NOTICE)
    assert new.closed_at is None and new.source_id != closed.source_id
    assert new.figures == {
        "kind": SPREAD,
        "patients": 3,
        "treatments": 3,
        "sources": [new.source_id],
    }


def test_an_excess_is_told_to_another_clinic_that_used_the_batch(riverside, hillside):
    treated(hillside, "Hal Hill", 3, batch="BAD1")
    seed_excess(riverside)
    sweep(DAY0 + timedelta(days=40))
    [notice] = signals(NOTICE)
    assert notice.figures == {
        "kind": EXCESS,
        "patients": 4,
        "treatments": 4,
        "sources": [notice.source_id],
    }
    [alert, admin] = emails(clinic=hillside)
    assert "more serious reactions than the product's other batches" in alert.body_text
    assert "Pat0" not in alert.body_text and "Riverside" not in alert.body_text


def test_a_clinic_that_did_not_use_the_batch_hears_nothing(riverside, hillside):
    treated(hillside, "Hal Hill", 3, batch="ELSE1")
    treated(hillside, "Ida Iron", -200)  # the same batch, long before the lookback
    spread_pair(riverside)
    sweep(DAY0 + timedelta(days=10))
    assert signals(NOTICE) == [] and emails(clinic=hillside) == []
    assert db.session.scalar(select(func.count(BatchSignal.id))) == 1


def test_batch_figures_is_one_grouped_read_without_a_probe_per_treatment(riverside):
    """Two serious flags on one treatment count once; an erased patient counts for nothing; and
    the read joins the serious treatments once instead of probing flags per treatment."""
    bad = seed_excess(riverside)
    builders.flag(bad[0], "urgent", "headache", opened_at=bad[0].treated_at + timedelta(days=2))
    bad[1].patient.erased_at = DAY0 + timedelta(days=20)
    db.session.commit()
    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731 (the statement text)
    sa_event.listen(db.engine, "before_cursor_execute", listen)
    try:
        figures = findings.batch_figures(riverside.id, "botox", DAY0 - timedelta(days=1))
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", listen)
    assert figures["BAD1"] == batch_rules.BatchFigures(9, 3, 3)
    assert sum(f.treatments for f in figures.values()) == 49
    assert statements and not any("EXISTS" in s.upper() for s in statements)


def test_a_clinic_that_uses_the_batch_after_the_signal_opened_is_told_once(riverside, hillside):
    spread_pair(riverside)
    sweep(DAY0 + timedelta(days=10))
    assert signals(NOTICE) == []
    treated(hillside, "Hal Hill", 11)  # starts using the batch a day after the signal opened
    db.session.commit()

    run = sweep(DAY0 + timedelta(days=11, hours=1))

    [spread] = signals(SPREAD)
    [notice] = signals(NOTICE)
    assert notice.clinic_id == hillside.id and notice.source_id == spread.id
    assert run.watch.notices == 1 and "1 notices" in run.summary()
    told = emails(clinic=hillside)
    assert {m.to_address for m in told} == {"alerts@hillside.test", "admin@hillside.test"}

    sweep(DAY0 + timedelta(days=11, hours=2))
    assert len(signals(NOTICE)) == 1 and len(emails(clinic=hillside)) == len(told)


def test_a_clinic_with_an_open_notice_of_the_batch_hears_of_a_second_source_in_it(
    app, riverside, hillside
):
    """Three clinics used the batch; the first two each raise a signal: the third's one open
    notice takes the newer source, and it is emailed once of each."""
    lakeside = create_clinic("Lakeside Clinic")
    lakeside.alert_email = "alerts@lakeside.test"
    db.session.commit()
    treated(lakeside, "Lou Lake", 3)
    spread_pair(riverside)
    sweep(DAY0 + timedelta(days=10))
    [first_notice] = [n for n in signals(NOTICE) if n.clinic_id == lakeside.id]
    riverside_signal = db.session.get(BatchSignal, first_notice.source_id)
    assert len(emails(clinic=lakeside)) == 1

    h1, h2 = treated(hillside, "Hal Hill", 4), treated(hillside, "Hue Hart", 6)
    db.session.commit()
    spread_checkin(h1)
    spread_checkin(h2)
    sweep(DAY0 + timedelta(days=12))

    hillside_signal = next(s for s in signals(SPREAD) if s.clinic_id == hillside.id)
    [notice] = [n for n in signals(NOTICE) if n.clinic_id == lakeside.id]
    assert notice.id == first_notice.id and notice.closed_at is None
    assert notice.source_id == hillside_signal.id
    assert notice.figures["sources"] == sorted([riverside_signal.id, hillside_signal.id])
    assert len(emails(clinic=lakeside)) == 2  # one email per source signal

    for hours in (1, 2):  # both sources still open: no flip back, no more email
        sweep(DAY0 + timedelta(days=12, hours=hours))
    db.session.expire_all()
    assert db.session.get(BatchSignal, notice.id).source_id == hillside_signal.id
    assert len(emails(clinic=lakeside)) == 2


def test_an_open_signal_no_other_clinic_can_hear_of_takes_no_write_lock(riverside):
    """Every pass looks at every open signal for clinics to tell; with nobody to tell (the
    usual case, for as long as a signal stays open) it only reads."""
    treated(riverside, "Ann Able", 0)
    db.session.add(
        BatchSignal(
            clinic_id=riverside.id,
            kind=SPREAD,
            product_key="botox",
            batch_key="C3709C3",
            product="Botox",
            batch_number=BATCH,
            treatment_ids=[],
            figures={"patients": 2},
            opened_at=DAY0 + timedelta(days=3),
        )
    )
    db.session.commit()

    assert writes_of(lambda: watch_batches(DAY0 + timedelta(days=10))) == []


def test_a_signal_found_again_unchanged_takes_no_write_lock(riverside):
    spread_pair(riverside)
    sweep(DAY0 + timedelta(days=10))
    assert len(signals(SPREAD)) == 1

    assert writes_of(lambda: watch_batches(DAY0 + timedelta(days=10, hours=1))) == []


def writes_of(run) -> list[str]:
    """The statements `run` sent that write or take SQLite's write lock."""
    statements: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", listen)
    try:
        run()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", listen)
    return [s for s in statements if s.startswith(("INSERT", "UPDATE", "BEGIN IMMEDIATE"))]
