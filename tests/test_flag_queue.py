"""The queue's rows (each flag of a case, with how long it lasted) and the CSV export of flags,
through the browser with CSRF on. The queue's order of cases, filters and paging are in
test_cases.

Time is frozen with `time_machine` (staff sessions time out, so the clock is set before signing
in); flags are either raised by the real check-in service and sweep, or inserted as rows where a
test needs many reasons at chosen times.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.conftest import STAFF_PASSWORD, TREATED_AT, StaffActions
from tracker.extensions import db
from tracker.models import AuditEvent, Flag, Treatment, User
from tracker.services.clinics.clinics import create_user
from tracker.services.flags.export import csv_cell
from tracker.services.flags.flagging import sweep
from tracker.services.flags.queue import duration_words

NOW = TREATED_AT + timedelta(days=5)
"""Five days after the treatment: inside the no-response window, bruising long overdue."""


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def add_flag(
    treatment: Treatment,
    reason: str,
    code: str | None = None,
    *,
    opened_at,
    status: str = "open",
    started_at=None,
) -> Flag:
    """A flag row as the sweep would store it (no_response has no symptom), committed."""
    flag = builders.flag(
        treatment,
        reason,
        code,
        opened_at=opened_at,
        episode_started_at=started_at or opened_at - timedelta(hours=1),
        status=status,
    )
    db.session.commit()
    return flag


def row_ids(html: str) -> list[int]:
    """The flag ids listed in the queue's case rows, in the order shown."""
    return [int(i) for i in re.findall(r'<li id="flag-(\d+)">', html)]


def row_html(html: str, flag_id: int) -> str:
    """The queue row of the case that lists the flag."""
    for row in re.findall(r'<tr id="case-\d+">(.*?)</tr>', html, re.S):
        if f'id="flag-{flag_id}"' in row:
            return row
    raise AssertionError(f"flag {flag_id} not in the page")


def audit_actions(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def hours_ago(hours: float):
    return NOW - timedelta(hours=hours)


# --- order --------------------------------------------------------------------------------------


def test_each_case_lists_its_flags_most_urgent_first_the_most_urgent_case_first(
    client, nurse, make_patient
):
    _, first = make_patient("Ada First")
    _, second = make_patient("Ben Second")
    overdue_new = add_flag(first, "overdue", "bruising", opened_at=hours_ago(1))
    urgent_new = add_flag(first, "urgent", "difficulty_breathing", opened_at=hours_ago(2))
    no_response = add_flag(second, "no_response", opened_at=hours_ago(30))
    review = add_flag(second, "review", "eyelid_drooping", opened_at=hours_ago(3))
    worsening = add_flag(first, "worsening", "headache", opened_at=hours_ago(4))
    severe_old = add_flag(second, "severe", "pain", opened_at=hours_ago(5))
    urgent_old = add_flag(second, "urgent", "vision_problems", opened_at=hours_ago(10))
    overdue_old = add_flag(second, "overdue", "redness", opened_at=hours_ago(20))
    severe_acknowledged = add_flag(
        first, "severe", "swelling", opened_at=hours_ago(1), status="acknowledged"
    )
    add_flag(first, "urgent", "muscle_weakness", opened_at=hours_ago(50), status="resolved")

    page = client.get("/clinic/flags")

    assert page.status_code == 200
    assert row_ids(page.text) == [
        urgent_old.id,  # Ben's case: its urgent flag is older than Ada's
        review.id,
        severe_old.id,
        overdue_old.id,
        no_response.id,
        urgent_new.id,  # Ada's case
        severe_acknowledged.id,
        worsening.id,
        overdue_new.id,
    ]


def test_the_queue_is_also_the_clinic_home_page(client, nurse, make_patient):
    _, treatment = make_patient()
    flag = add_flag(treatment, "review", "eyelid_drooping", opened_at=hours_ago(1))
    assert row_ids(client.get("/clinic/").text) == [flag.id]


# --- what a row shows ---------------------------------------------------------------------------


def test_overdue_row_says_how_long_against_the_expected_duration(
    client, clinic, nurse, make_patient
):
    patient, treatment = make_patient("Cleo Bruise")
    builders.checkin(treatment, TREATED_AT + timedelta(days=1), {"bruising": 2}, now=NOW)
    sweep(now=NOW)
    db.session.commit()
    flag = db.session.scalars(select(Flag).where(Flag.reason == "overdue")).one()

    row = row_html(client.get("/clinic/flags").text, flag.id)

    assert "Bruising for 4 days, expected 3 days" in row
    assert "Cleo Bruise" in row
    assert 'class="reason reason-overdue"' in row
    assert f'href="/clinic/cases/{treatment.id}"' in row


def test_no_response_row_says_no_check_in_and_for_how_long(client, nurse, make_patient):
    _, treatment = make_patient()
    sweep(now=TREATED_AT + timedelta(days=3))
    db.session.commit()
    flag = db.session.scalars(select(Flag)).one()
    assert flag.reason == "no_response"

    row = row_html(client.get("/clinic/flags").text, flag.id)

    assert "No response: No check-in for 5 days" in row


def test_an_episode_that_has_ended_says_how_long_it_lasted(client, nurse, make_patient):
    _, treatment = make_patient()
    day = TREATED_AT + timedelta(days=1)
    builders.checkin(treatment, day, {"bruising": 1}, now=NOW)
    sweep(now=day + timedelta(hours=80))
    builders.checkin(treatment, day + timedelta(hours=90), now=NOW)
    db.session.commit()
    flag = db.session.scalars(select(Flag).where(Flag.reason == "overdue")).one()

    row = row_html(client.get("/clinic/flags").text, flag.id)

    assert "Bruising lasted 3 days 18 hours, expected 3 days" in row


def test_times_are_shown_in_the_clinics_timezone_with_practitioner(
    client, clinic, nurse, make_patient
):
    clinic.timezone = "America/New_York"
    doctor = create_user(clinic, "dr@riverside.test", STAFF_PASSWORD, name="Dr Quinn")
    _, treatment = make_patient(treated_at=TREATED_AT.replace(hour=2))
    treatment.practitioner_id = doctor.id
    db.session.commit()
    flag = add_flag(treatment, "review", "eyelid_drooping", opened_at=NOW.replace(hour=3, minute=5))

    row = row_html(client.get("/clinic/flags").text, flag.id)

    # 03:05 UTC on 7 March is 22:05 the evening before in New York; 02:00 UTC on 2 March is 1 March.
    assert "06 Mar 2026, 22:05" in row
    assert "01 Mar 2026" in row
    assert "Dr Quinn" in row


@pytest.mark.parametrize(
    ("hours", "words"),
    [
        (0.5, "less than an hour"),
        (1, "1 hour"),
        (47.9, "47 hours"),
        (48, "2 days"),
        (73, "3 days 1 hour"),
        (96, "4 days"),
    ],
)
def test_durations_are_said_in_whole_hours_then_days(hours, words):
    assert duration_words(timedelta(hours=hours)) == words


# --- navigation count, filters, paging ------------------------------------------------------------


def test_navigation_counts_one_case_however_many_flags_it_has(client, nurse, make_patient):
    _, treatment = make_patient()
    for code in ("bruising", "headache", "redness"):
        add_flag(treatment, "overdue", code, opened_at=hours_ago(2))
    add_flag(treatment, "overdue", "pain", opened_at=hours_ago(2), status="acknowledged")
    add_flag(treatment, "overdue", "nausea", opened_at=hours_ago(2), status="resolved")

    page = client.get("/clinic/flags")

    assert 'aria-label="1 case">1</span>' in page.text


def test_filters_by_reason(client, nurse, make_patient):
    _, treatment = make_patient()
    overdue = add_flag(treatment, "overdue", "bruising", opened_at=hours_ago(2))
    add_flag(treatment, "urgent", "difficulty_breathing", opened_at=hours_ago(2))

    urgent = db.session.scalar(select(Flag.id).where(Flag.reason == "urgent"))
    # the case has an overdue flag: it is listed, with all its flags
    assert row_ids(client.get("/clinic/flags?reason=overdue").text) == [urgent, overdue.id]
    assert row_ids(client.get("/clinic/flags?reason=review").text) == []


def test_filters_by_practitioner(client, clinic, nurse, make_patient):
    doctor = create_user(clinic, "dr@riverside.test", STAFF_PASSWORD, name="Dr Quinn")
    _, theirs = make_patient("Dee Theirs")
    _, other = make_patient("Eve Other")
    theirs.practitioner_id = doctor.id
    db.session.commit()
    flag = add_flag(theirs, "overdue", "bruising", opened_at=hours_ago(2))
    add_flag(other, "overdue", "bruising", opened_at=hours_ago(2))

    page = client.get(f"/clinic/flags?practitioner={doctor.id}")

    assert row_ids(page.text) == [flag.id]
    assert f'<option selected value="{doctor.id}">Dr Quinn</option>' in page.text


@pytest.mark.parametrize(
    "query",
    [
        "reason=bogus",
        "status=closed",
        "status=resolved",
        "assigned=them",
        "practitioner=abc",
        "practitioner=999",
    ],
)
def test_an_unknown_filter_is_refused_and_shows_no_flags(client, nurse, make_patient, query):
    _, treatment = make_patient("Fay Hidden")
    add_flag(treatment, "overdue", "bruising", opened_at=hours_ago(2))

    page = client.get(f"/clinic/flags?{query}")

    assert page.status_code == 422
    assert "Fay Hidden" not in page.text
    assert "Please check the filters" in page.text


def test_another_clinics_staff_member_is_not_a_practitioner_filter(client, nurse, other_clinic):
    stranger = db.session.scalar(select(User.id).where(User.email == "nurse@hillside.test"))
    assert client.get(f"/clinic/flags?practitioner={stranger}").status_code == 422


# --- scoping, sign-in, audit ----------------------------------------------------------------------


def test_another_clinics_flags_are_not_in_the_queue(client, clinic, other_clinic, make_patient):
    _, ours = make_patient("Gus Ours")
    _, theirs = make_patient("Hal Theirs", clinic=other_clinic)
    add_flag(ours, "overdue", "bruising", opened_at=hours_ago(2))
    add_flag(theirs, "overdue", "bruising", opened_at=hours_ago(2))
    assert StaffActions(client).sign_in("nurse@hillside.test").status_code == 302

    page = client.get("/clinic/flags")

    assert "Hal Theirs" in page.text
    assert "Gus Ours" not in page.text
    assert 'aria-label="1 case"' in page.text


def test_signed_out_visitors_are_sent_to_sign_in(client, clinic):
    for url in ("/clinic/", "/clinic/flags", "/clinic/flags.csv"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/signin"), url


def test_each_view_of_the_queue_writes_one_audit_row(client, clinic, nurse, make_patient):
    _, treatment = make_patient()
    add_flag(treatment, "overdue", "bruising", opened_at=hours_ago(2))

    client.get("/clinic/flags?reason=overdue")
    client.get("/clinic/flags")

    rows = audit_actions("flags.list")
    assert len(rows) == 2
    assert {(r.actor_type, r.actor_id, r.clinic_id) for r in rows} == {("user", 1, clinic.id)}
    assert rows[0].target == "reason=overdue;status=active;practitioner=any;assigned=any"


# --- CSV export ---------------------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


# The columns and their format: tests/test_exports.py.


def test_csv_export_uses_the_queues_filters(client, nurse, make_patient):
    _, treatment = make_patient()
    open_overdue = add_flag(treatment, "overdue", "bruising", opened_at=hours_ago(3))
    add_flag(treatment, "overdue", "headache", opened_at=hours_ago(2), status="resolved")
    no_response = add_flag(treatment, "no_response", opened_at=hours_ago(1))

    default = read_csv(client.get("/clinic/flags.csv"))
    overdue_only = read_csv(client.get("/clinic/flags.csv?reason=overdue"))
    resolved = read_csv(client.get("/clinic/flags.csv?status=resolved"))

    assert [r["flag_id"] for r in default] == [str(open_overdue.id), str(no_response.id)]
    assert [r["flag_id"] for r in overdue_only] == [str(open_overdue.id)]
    assert [r["status"] for r in resolved] == ["resolved"]
    assert default[1]["symptom"] == ""


def test_csv_export_defuses_spreadsheet_formulas(client, nurse, make_patient):
    patient, treatment = make_patient("=HYPERLINK(evil) Smith")
    treatment.product = "+cmd|' /C calc'!A0"
    treatment.batch_number = "@SUM(1+1)"
    patient.name = "=HYPERLINK(evil) Smith"
    db.session.commit()
    add_flag(treatment, "overdue", "bruising", opened_at=hours_ago(2))

    (row,) = read_csv(client.get("/clinic/flags.csv"))

    assert row["patient_name"] == "'=HYPERLINK(evil) Smith"
    assert row["product"] == "'+cmd|' /C calc'!A0"
    assert row["batch_number"] == "'@SUM(1+1)"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-2", "'-2"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("Plain", "Plain"),
        ("a=b", "a=b"),
        (-2, "-2"),
        (None, ""),
    ],
)
def test_csv_cells_starting_like_a_formula_are_prefixed_with_a_quote(value, cell):
    assert csv_cell(value, "Europe/London") == cell


def test_csv_export_is_audited_without_patient_content(client, clinic, nurse, make_patient):
    _, treatment = make_patient()
    add_flag(treatment, "overdue", "bruising", opened_at=hours_ago(2))

    client.get("/clinic/flags.csv?reason=overdue&status=all")

    (row,) = audit_actions("flags.export")
    assert (row.actor_type, row.actor_id, row.clinic_id) == ("user", 1, clinic.id)
    assert row.target == "reason=overdue;status=all;practitioner=any"


def test_another_clinics_clinician_gets_none_of_our_rows_in_the_csv(
    client, clinic, other_clinic, make_patient
):
    _, ours = make_patient("Jo Ours")
    add_flag(ours, "overdue", "bruising", opened_at=hours_ago(2))
    assert StaffActions(client).sign_in("nurse@hillside.test").status_code == 302

    response = client.get("/clinic/flags.csv?status=all")

    assert response.status_code == 200
    assert read_csv(response) == []
    assert "Jo Ours" not in response.text


def test_csv_export_with_an_unknown_filter_is_refused(client, nurse, make_patient):
    _, treatment = make_patient("Kit Hidden")
    add_flag(treatment, "overdue", "bruising", opened_at=hours_ago(2))

    response = client.get("/clinic/flags.csv?status=everything")

    assert response.status_code == 422
    assert "Kit Hidden" not in response.text
    assert audit_actions("flags.export") == []
