"""The follow-up state (`Treatment.followup_due_at`): when the sweep must next judge a treatment.

The sweep judges only the treatments that are due; the check-ins, resolutions and catalogue
edits keep the state current. On random histories (hypothesis) the due-driven sweep must open
exactly the flags that judging every treatment at every run (the sweep as it was) opens, and
`tracker rebuild-state` must find the state the services kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from tests import builders
from tests.conftest import ON_POSTGRESQL, TREATED_AT
from tracker import rules
from tracker.catalogue import DEFAULT_POLICY, DEFAULT_SCHEDULE
from tracker.extensions import db
from tracker.models import Flag, Treatment, User
from tracker.services.clinics.catalogue_admin import SymptomEdit, update_symptom
from tracker.services.flags import flag_actions
from tracker.services.flags.flagging import rebuild_followup_state, sweep

SYMPTOMS = ("bruising", "headache", "eyelid_drooping", "difficulty_swallowing")
"""Two expected symptoms (overdue after 72 h and 48 h), a review one and an urgent one."""


def at(hours: float) -> datetime:
    return TREATED_AT + timedelta(hours=hours)


@dataclass(frozen=True)
class CheckInStep:
    late_by: float  # hours: a phone call recorded this long after the time it is about
    symptoms: dict[str, int]


@dataclass(frozen=True)
class ResolveStep:
    which: int  # the n-th active flag, in the order they opened


@dataclass(frozen=True)
class SweepStep:
    pass


STEP = st.one_of(
    st.builds(
        CheckInStep,
        late_by=st.one_of(st.just(0.0), st.floats(0, 60)),
        symptoms=st.dictionaries(st.sampled_from(SYMPTOMS), st.integers(0, 4), max_size=3),
    ),
    st.builds(ResolveStep, which=st.integers(0, 5)),
    st.just(SweepStep()),
)
TIMELINE = st.lists(st.tuples(st.floats(0, 30), STEP), min_size=1, max_size=14)
"""Steps, each some hours after the one before (the clock never goes back)."""


HISTORIES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""A few dozen random histories a test: each is a dozen steps through the real services."""


def flags_of(treatment: Treatment) -> list[tuple]:
    rows = db.session.scalars(
        select(Flag).where(Flag.treatment_id == treatment.id).order_by(Flag.id)
    )
    return [
        (
            f.reason,
            f.symptom.code if f.symptom else None,
            f.status,
            f.episode_started_at,
            f.observed_at,
        )
        for f in rows
    ]


def active_flags(treatment: Treatment) -> list[Flag]:
    return list(
        db.session.scalars(
            select(Flag)
            .where(Flag.treatment_id == treatment.id, Flag.status != rules.RESOLVED)
            .order_by(Flag.id)
        )
    )


def play(timeline, kept: Treatment, judged_in_full: Treatment, nurse: User) -> datetime:
    """Play the timeline on both treatments: `kept` relies on its follow-up state, while
    `judged_in_full` is made due before every sweep (judged at every run, as the sweep did
    before the state existed). Commits after each step; returns the time of the last."""
    clock = 0.0
    for gap, step in timeline:
        clock += gap
        now = at(clock)
        if isinstance(step, CheckInStep):
            reported = at(max(0.0, clock - step.late_by))
            for treatment in (kept, judged_in_full):
                builders.checkin(treatment, reported, step.symptoms, now=now)
        elif isinstance(step, ResolveStep):
            pairs = list(zip(active_flags(kept), active_flags(judged_in_full), strict=False))
            if pairs:
                for flag in pairs[step.which % len(pairs)]:
                    flag_actions.resolve(flag, nurse, "reassured", now=now)
        else:
            judged_in_full.followup_due_at = now
            db.session.flush()
            sweep(now)
        db.session.commit()
    return at(clock)


@HISTORIES
@given(timeline=TIMELINE)
def test_the_due_driven_sweep_opens_what_judging_everything_opens(make_patient, nurse, timeline):
    _, kept = make_patient("Kept State")
    _, judged_in_full = make_patient("Judged In Full")

    last = play(timeline, kept, judged_in_full, nurse)
    for later in (last, last + timedelta(hours=30), last + timedelta(days=3)):
        judged_in_full.followup_due_at = later
        sweep(later)  # time passing alone: overdue, severe for long, no response
        db.session.commit()
        assert flags_of(kept) == flags_of(judged_in_full)


@HISTORIES
@given(timeline=TIMELINE)
def test_rebuilding_the_state_finds_what_the_services_kept(make_patient, nurse, timeline):
    _, kept = make_patient("Kept State")
    _, other = make_patient("Other")

    last = play(timeline, kept, other, nurse)
    sweep(last)  # judges the treatments due by now, as the scheduler would: a due time that
    db.session.commit()  # has passed may find nothing new (the sweep then moves it on)
    kept_due = seen_at(last, db.session.get(Treatment, kept.id).followup_due_at)
    rebuild_followup_state(last)
    db.session.expire_all()
    assert seen_at(last, db.session.get(Treatment, kept.id).followup_due_at) == kept_due


def seen_at(now: datetime, due_at: datetime | None) -> datetime | None:
    """What a sweep at `now` makes of a due time: due at once (`now`) if it has come, else it."""
    return now if due_at is not None and due_at <= now else due_at


@pytest.fixture
def nurse(clinic):
    return db.session.scalar(select(User).where(User.clinic_id == clinic.id))


def test_a_new_treatment_is_due_when_its_silence_would_be_too_long(make_patient):
    _, treatment = make_patient()
    silence_too_long = at(DEFAULT_POLICY.no_response_hours)
    assert treatment.followup_due_at == silence_too_long
    assert sweep(silence_too_long - timedelta(minutes=1)).treatments == 0  # nothing read
    result = sweep(silence_too_long)
    assert (result.treatments, result.flags_opened) == (1, 1)


def test_a_check_in_stores_when_its_symptoms_can_next_be_flagged(make_patient):
    _, treatment = make_patient()
    silence = timedelta(hours=DEFAULT_POLICY.no_response_hours)
    builders.checkin(treatment, at(10), {"bruising": 2})  # expected for 72 hours
    db.session.commit()
    assert treatment.followup_due_at == at(10) + silence  # silence first, at 58 hours
    builders.checkin(treatment, at(50), {"bruising": 2})
    db.session.commit()
    assert treatment.followup_due_at == at(10 + 72) + rules.INSTANT  # overdue from then
    builders.checkin(treatment, at(60), {"bruising": 0})  # gone: only silence can fall due
    db.session.commit()
    assert treatment.followup_due_at == at(60) + silence


def test_the_next_run_judges_nothing_and_each_run_commits_its_batches(make_patient):
    treatments = [make_patient(f"Patient {n}")[1] for n in range(5)]
    for treatment in treatments:
        builders.checkin(treatment, at(5), {"headache": 1})
    db.session.commit()
    first = sweep(at(60), batch_size=2)  # each headache overdue, each patient silent too long
    assert (first.treatments, first.flags_opened, first.batches) == (5, 10, 3)
    assert sweep(at(60) + timedelta(minutes=15)).treatments == 0
    assert not db.session().in_transaction()  # committed: no write lock left held


def test_a_treatment_past_its_window_is_never_read_again(make_patient):
    _, treatment = make_patient()
    treatment.followup_due_at = at(0)
    db.session.commit()
    after_window = at(24 * DEFAULT_SCHEDULE.window_days + 1)
    assert sweep(after_window).treatments == 0
    db.session.refresh(treatment)
    assert treatment.followup_due_at is None


def test_resolving_a_flag_makes_what_it_held_back_due(make_patient, nurse):
    _, treatment = make_patient()
    for hours, severity in ((5, 1), (54, 1), (60, 0), (61, 1), (100, 1)):
        builders.checkin(treatment, at(hours), {"headache": severity})
        db.session.commit()
        if hours == 54:
            assert sweep(at(54)).flags_opened == 1  # the first headache: overdue
    assert sweep(at(110)).flags_opened == 0  # the second is overdue too, held back meanwhile
    (flag,) = active_flags(treatment)
    flag_actions.resolve(flag, nurse, "reassured", now=at(111))
    db.session.commit()
    assert treatment.followup_due_at == TREATED_AT  # due at once
    assert sweep(at(112)).flags_opened == 1


def test_a_catalogue_edit_makes_the_clinics_treatments_due(make_patient, clinic, nurse):
    _, treatment = make_patient()
    builders.checkin(treatment, at(5), {"bruising": 1})
    db.session.commit()
    bruising = builders.symptom(clinic.id, "bruising")
    shorter = replace(SymptomEdit.of(bruising), expected_hours=24)
    update_symptom(bruising, shorter, actor=nurse, now=at(40))
    db.session.commit()
    db.session.refresh(treatment)
    assert treatment.followup_due_at == TREATED_AT  # due by any sweep from now on
    assert sweep(at(41)).flags_opened == 1  # lasting 36 hours: overdue under the new rule


@pytest.mark.skipif(ON_POSTGRESQL, reason="reads SQLite's EXPLAIN QUERY PLAN")
def test_the_sweep_reads_what_is_due_through_the_due_index_in_its_order(make_patient):
    for n in range(3):
        make_patient(f"Silent {n}")  # silent since treated: due once 48 hours have passed
    db.session.commit()
    reads = []

    def record(_conn, _cursor, statement, parameters, *_):
        if statement.lstrip().startswith("SELECT") and "followup_due_at <=" in statement:
            reads.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = sweep(at(100), batch_size=2)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    assert result.treatments == 3 and len(reads) == 2  # the second batch starts after the first
    driver = db.session.connection().connection.dbapi_connection
    for statement, parameters in reads:
        plan = [row[-1] for row in driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
        assert any("USING INDEX ix_treatments_followup_due" in step for step in plan), plan
        by_id = re.compile(r"(SCAN|SEARCH) treatments (USING INTEGER PRIMARY KEY|$)|TEMP B-TREE")
        assert not any(by_id.search(step) for step in plan), plan
