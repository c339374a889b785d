"""The case queue's cost: a page (HTML or JSON) reads its rows in one statement and its count in
one more, however many cases it shows, and those statements are served by indexes.

Statements are counted with a `before_cursor_execute` listener around one request. Those that
read the queue's tables are the queue's own; the rest (the staff session, the signed-in user,
the clinic, the filters' staff list, the audit row) are the same few on every page.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests import builders
from tests.api_helpers import NURSE, Api, mint_token
from tests.conftest import ON_POSTGRESQL, STAFF_PASSWORD, TREATED_AT
from tests.sql_helpers import executed_statements
from tracker.extensions import db
from tracker.models import User
from tracker.services.clinics.clinics import create_user
from tracker.services.flags.cases import CaseFilters, cases_query, in_queue_order, rows_query
from tracker.services.flags.queue import _histories, history_column, history_of
from tracker.services.patients.checkins import SymptomEntry, record_checkin

NOW = TREATED_AT + timedelta(days=5)
QUEUE_TABLES = re.compile(r"\b(flags|treatments|patients|checkins|symptom_reports|symptoms)\b")
FEW, MANY = 3, 30  # MANY fills a whole page (25) and more


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def queue_part(seen: list[str]) -> list[str]:
    return [s for s in seen if QUEUE_TABLES.search(s)]


def add_cases(clinic, count: int) -> None:
    """`count` cases, each with a practitioner, half of them assigned to the nurse, a check-in
    and three flags (two active, one resolved): every column of a row has something to load."""
    doctor = create_user(clinic, f"dr{count}@riverside.test", STAFF_PASSWORD, name="Dr Quinn")
    nurse = db.session.scalar(select(User).where(User.email == NURSE))
    for n in range(count):
        patient = builders.patient(clinic, f"Pat {count}-{n:02d}")
        treatment = builders.treatment(patient)
        treatment.practitioner_id = doctor.id
        treatment.assigned_to_id = nurse.id if n % 2 else None
        db.session.flush()
        record_checkin(
            treatment, [SymptomEntry("bruising", 2)], reported_at=TREATED_AT + timedelta(hours=5)
        )
        opened = NOW - timedelta(hours=10 + n)
        builders.flag(treatment, "overdue", "bruising", opened_at=opened)
        builders.flag(treatment, "no_response", opened_at=opened, status="acknowledged")
        builders.flag(treatment, "review", "eyelid_drooping", opened_at=opened, status="resolved")
    db.session.commit()


def html_statements(client, url: str) -> list[str]:
    with executed_statements() as seen:
        response = client.get(url)
    assert response.status_code == 200
    return seen


@pytest.mark.parametrize(
    "url",
    [
        "/clinic/flags",
        "/clinic/flags?reason=overdue",
        "/clinic/flags?status=open",
        "/clinic/flags?assigned=me",
        "/clinic/flags?page=2",
    ],
)
def test_a_queue_page_costs_two_statements_whatever_the_number_of_cases(client, nurse, clinic, url):
    add_cases(clinic, FEW)
    few = html_statements(client, url)
    add_cases(clinic, MANY)
    many = html_statements(client, url)

    assert len(queue_part(many)) == 2, queue_part(many)
    assert len(many) == len(few), (few, many)


def test_the_navigation_count_beside_a_filtered_page_is_read_with_the_pages_count(
    client, nurse, clinic
):
    add_cases(clinic, MANY)
    page = client.get("/clinic/flags?reason=overdue").text

    assert re.search(r'id="nav-cases">Cases <span class="count"[^>]*>30</span>', page)


def test_the_api_case_list_costs_one_statement_whatever_the_number_of_cases(app, clinic):
    api = Api(app.test_client(), mint_token())
    add_cases(clinic, FEW)
    with executed_statements() as few:
        assert len(api.get("/api/v1/cases?limit=25").get_json()["cases"]) == FEW
    add_cases(clinic, MANY)
    with executed_statements() as many:
        assert len(api.get("/api/v1/cases?limit=25").get_json()["cases"]) == 25

    assert len(queue_part(many)) == 1, queue_part(many)
    assert len(many) == len(few), (few, many)


@pytest.mark.skipif(ON_POSTGRESQL, reason="reads SQLite's EXPLAIN QUERY PLAN")
def test_the_queue_reads_active_flags_through_an_index_never_a_table_scan(app, clinic):
    add_cases(clinic, FEW)
    stmt = in_queue_order(cases_query(clinic.id, CaseFilters())).limit(25)
    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    details = [row[-1] for row in plan]

    assert any("USING COVERING INDEX ix_flags_active_cases" in d for d in details), details
    assert not [d for d in details if re.match(r"SCAN (flags|treatments)\b(?!.*INDEX)", d)]


def test_the_history_read_with_a_page_is_the_one_the_case_page_reads(app, make_patient):
    _, treatment = make_patient("Hal History")
    day = timedelta(days=1)
    onset = TREATED_AT + timedelta(hours=3, microseconds=1234)
    for at, entries in [
        (TREATED_AT + day, [SymptomEntry("bruising", 2, onset), SymptomEntry("headache", 1)]),
        (TREATED_AT + 2 * day + timedelta(microseconds=5), []),  # nothing present: ends both
        (TREATED_AT + 3 * day, [SymptomEntry("bruising", 3)]),
        (TREATED_AT + 3 * day, [SymptomEntry("redness", 1)]),  # at the same time, later id
    ]:
        record_checkin(treatment, entries, reported_at=at)
    db.session.commit()

    stored = db.session.scalar(select(history_column(treatment.id)))

    assert history_of(stored) == _histories(treatment.clinic_id, [treatment.id])[treatment.id]
    assert len(history_of(stored)) == 4


def test_a_page_reads_each_cases_history_once_on_its_first_row(app, clinic):
    add_cases(clinic, FEW)  # two active flags each: two rows per case
    cases = in_queue_order(cases_query(clinic.id, CaseFilters())).subquery()
    rows = db.session.execute(rows_query(cases, with_history=True)).all()

    first_rows = {}
    for row in rows:
        first_rows.setdefault(row.Flag.treatment_id, row)
    assert len(rows) == 2 * FEW
    assert all(first_rows[r.Flag.treatment_id] is r or r.history is None for r in rows)
    assert all(history_of(r.history) for r in first_rows.values())  # each has its check-in
