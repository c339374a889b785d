"""Cases: the queue of treatments with open or acknowledged flags, and the case page's actions.

Flags are stored as rows at chosen times (`builders.flag`) where a test needs many reasons; the
clock is frozen before signing in (staff sessions time out).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.conftest import STAFF_PASSWORD, TREATED_AT, StaffActions, csrf_token
from tracker.extensions import db
from tracker.models import SYSTEM_OUTCOMES, AuditEvent, Flag, FlagNote, Treatment, User
from tracker.services.clinics.clinics import create_user
from tracker.services.patients.checkins import SymptomEntry, record_checkin

NOW = TREATED_AT + timedelta(days=5)


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def me(nurse) -> User:
    return db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))


def hours_ago(hours: float):
    return NOW - timedelta(hours=hours)


def add_flag(
    treatment: Treatment, reason: str, code: str | None = None, *, hours: float, status="open"
):
    flag = builders.flag(treatment, reason, code, opened_at=hours_ago(hours), status=status)
    db.session.commit()
    return flag


def case_ids(html: str) -> list[int]:
    """The treatment ids of the queue's rows, in the order shown."""
    return [int(i) for i in re.findall(r'<tr id="case-(\d+)">', html)]


def badges(html: str, treatment_id: int) -> list[str]:
    row = re.search(rf'<tr id="case-{treatment_id}">(.*?)</tr>', html, re.S).group(1)
    cell = row.split('class="badges">')[1].split("</td>")[0]
    return re.findall(r'class="reason reason-(\w+)"', cell)


def nav_count(html: str) -> int:
    match = re.search(r'id="nav-cases">Cases(?: <span class="count"[^>]*>(\d+)</span>)?', html)
    assert match, "no Cases link in the navigation"
    return int(match.group(1) or 0)


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def reload(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def post_on_case(client, treatment: Treatment, action: str, data: dict):
    page = client.get(f"/clinic/cases/{treatment.id}")
    token = csrf_token(page.text)
    return client.post(f"/clinic/cases/{treatment.id}/{action}", data={"csrf_token": token, **data})


def shown_flag_ids(client, treatment: Treatment) -> str:
    page = client.get(f"/clinic/cases/{treatment.id}").text
    return re.search(r'name="flag_ids" type="hidden" value="([^"]*)"', page).group(1)


# --- the queue's order ----------------------------------------------------------------------------

# Each case: (name, [(reason, code, hours ago, status)]); the expected order by name.
ORDER_TABLE = [
    ("Nia Noresponse", [("no_response", None, 90, "open")]),
    ("Oli Overdue", [("overdue", "bruising", 80, "open")]),
    ("Wes Worsening", [("worsening", "headache", 70, "open"), ("overdue", "redness", 95, "open")]),
    ("Sue Severe", [("severe", "pain", 60, "acknowledged")]),
    ("Rae Review", [("review", "eyelid_drooping", 50, "open")]),
    ("Uma Urgent new", [("urgent", "difficulty_breathing", 5, "open")]),
    (
        "Ulf Urgent old",
        [("no_response", None, 99, "open"), ("urgent", "vision_problems", 10, "open")],
    ),
    ("Ron Resolved", [("urgent", "muscle_weakness", 100, "resolved")]),
]
EXPECTED_ORDER = [
    "Ulf Urgent old",  # urgent, and its no-response flag opened first: the oldest case
    "Uma Urgent new",
    "Rae Review",
    "Sue Severe",  # acknowledged cases stay in the queue
    "Wes Worsening",
    "Oli Overdue",
    "Nia Noresponse",
]


def test_cases_are_ordered_by_their_most_urgent_reason_then_the_oldest(client, me, make_patient):
    treatments = {}
    for name, flags in ORDER_TABLE:
        _, treatment = make_patient(name)
        treatments[name] = treatment
        for reason, code, hours, status in flags:
            add_flag(treatment, reason, code, hours=hours, status=status)

    page = client.get("/clinic/flags").text

    assert case_ids(page) == [treatments[name].id for name in EXPECTED_ORDER]
    assert nav_count(page) == len(EXPECTED_ORDER)
    assert f"{len(EXPECTED_ORDER)} cases." in page


def test_a_case_shows_each_of_its_reasons_once_most_urgent_first(client, me, make_patient):
    _, treatment = make_patient("Bea Badges")
    add_flag(treatment, "overdue", "bruising", hours=40)
    add_flag(treatment, "no_response", hours=50)
    add_flag(treatment, "severe", "pain", hours=3)
    add_flag(treatment, "overdue", "redness", hours=30)
    add_flag(treatment, "worsening", "pain", hours=2, status="acknowledged")
    add_flag(treatment, "urgent", "difficulty_swallowing", hours=1)
    add_flag(treatment, "review", "dry_eye", hours=1, status="resolved")

    page = client.get("/clinic/").text

    assert case_ids(page) == [treatment.id]
    assert badges(page, treatment.id) == ["urgent", "severe", "worsening", "overdue", "no_response"]


def test_the_navigation_counts_cases_as_the_queue_shows_them_acknowledged_included(
    client, me, make_patient
):
    _, one = make_patient("Ann One")
    _, two = make_patient("Bob Two")
    _, done = make_patient("Cy Done")
    add_flag(one, "overdue", "bruising", hours=2, status="acknowledged")
    add_flag(one, "overdue", "headache", hours=2, status="acknowledged")
    add_flag(two, "review", "eyelid_drooping", hours=2)
    add_flag(two, "severe", "pain", hours=2)
    add_flag(done, "review", "eyelid_drooping", hours=2, status="resolved")

    page = client.get("/clinic/flags").text

    assert nav_count(page) == len(case_ids(page)) == 2


# --- filters and paging ---------------------------------------------------------------------------


@pytest.fixture
def three_cases(make_patient, clinic):
    """Ann's case: an open overdue flag. Bob's: acknowledged review only. Cy's: severe
    acknowledged and overdue open. Dr Quinn treated Bob."""
    doctor = create_user(clinic, "dr@riverside.test", STAFF_PASSWORD, name="Dr Quinn")
    _, ann = make_patient("Ann One")
    _, bob = make_patient("Bob Two")
    _, cy = make_patient("Cy Three")
    bob.practitioner_id = doctor.id
    db.session.commit()
    add_flag(ann, "overdue", "bruising", hours=10)
    add_flag(bob, "review", "eyelid_drooping", hours=20, status="acknowledged")
    add_flag(cy, "severe", "pain", hours=30, status="acknowledged")
    add_flag(cy, "overdue", "headache", hours=5)
    return {"ann": ann, "bob": bob, "cy": cy, "doctor": doctor}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["bob", "cy", "ann"]),
        ("reason=overdue", ["cy", "ann"]),
        ("reason=review", ["bob"]),
        ("reason=urgent", []),
        ("status=open", ["cy", "ann"]),  # a flag nobody has acknowledged yet
        ("status=acknowledged", ["bob"]),  # every flag acknowledged
        ("practitioner={doctor}", ["bob"]),
        ("reason=overdue&status=open", ["cy", "ann"]),
    ],
)
def test_the_queue_filters_cases(client, me, three_cases, query, expected):
    query = query.format(doctor=three_cases["doctor"].id)
    page = client.get(f"/clinic/flags?{query}")
    assert page.status_code == 200
    assert case_ids(page.text) == [three_cases[name].id for name in expected]


def test_assigned_to_me_lists_only_my_cases(client, me, clinic, three_cases):
    other = create_user(clinic, "other@riverside.test", STAFF_PASSWORD, name="Oz Other")
    three_cases["ann"].assigned_to_id = me.id
    three_cases["cy"].assigned_to_id = other.id
    db.session.commit()

    page = client.get("/clinic/flags?assigned=me").text

    assert case_ids(page) == [three_cases["ann"].id]
    assert nav_count(page) == 3  # the navigation counts the whole queue


def test_the_queue_is_paged_by_25_cases_in_order(client, me, make_patient):
    treatments = []
    for n in range(30):
        _, treatment = make_patient(f"Pat {n:02d}")
        add_flag(treatment, "overdue", "bruising", hours=100 - n)
        add_flag(treatment, "severe", "pain", hours=1)  # two flags each: still one row
        treatments.append(treatment.id)

    first = client.get("/clinic/flags").text
    second = client.get("/clinic/flags?page=2").text

    assert case_ids(first) == treatments[:25]
    assert case_ids(second) == treatments[25:]
    assert "Page 1 of 2" in first and "30 cases." in first
    assert 'href="/clinic/flags?page=2"' in first


def test_paging_keeps_the_filters(client, me, make_patient):
    for n in range(27):
        _, treatment = make_patient(f"Lou {n:02d}")
        add_flag(treatment, "worsening", "headache", hours=50 - n)
    _, other = make_patient("Mo Other")
    add_flag(other, "severe", "pain", hours=1)

    first = client.get("/clinic/flags?reason=worsening").text
    second = client.get("/clinic/flags?reason=worsening&page=2").text

    assert 'href="/clinic/flags?page=2&amp;reason=worsening"' in first
    assert len(case_ids(first)) == 25 and len(case_ids(second)) == 2
    assert other.id not in case_ids(first) + case_ids(second)


# --- the case page --------------------------------------------------------------------------------


@pytest.fixture
def rosa(clinic):
    patient = builders.patient(clinic, "Rosa Lind", phone="+44 7700 900123")
    treatment = builders.treatment(patient)
    db.session.commit()
    review = add_flag(treatment, "review", "eyelid_drooping", hours=20)
    severe = add_flag(treatment, "severe", "headache", hours=10)
    return {"patient": patient, "treatment": treatment, "review": review, "severe": severe}


def test_the_case_page_starts_with_patient_contact_flags_and_actions(client, me, rosa):
    page = client.get(f"/clinic/cases/{rosa['treatment'].id}").text

    top = page.split('id="notes"')[0]
    assert 'href="tel:+447700900123">+44 7700 900123</a>' in top
    assert "Rosa Lind" in top and "Botox" in top and "C1234AB5" in top
    for flag in (rosa["review"], rosa["severe"]):
        assert f'id="flag-{flag.id}"' in top
        assert f'id="acknowledge-{flag.id}"' in top and f'id="resolve-{flag.id}"' in top
    for action in ("assign", "notes", "resolve"):
        assert f'action="/clinic/cases/{rosa["treatment"].id}/{action}"' in top
    assert "Resolve and open next case" in top
    assert page.index('id="case-actions"') < page.index("Symptoms since the treatment")


def test_no_outcome_is_chosen_in_advance_and_system_outcomes_are_never_offered(client, me, rosa):
    page = client.get(f"/clinic/cases/{rosa['treatment'].id}").text

    selects = re.findall(
        r'<select id="(?:case-)?outcome[^"]*" name="outcome" required>(.*?)</select>', page, re.S
    )
    assert len(selects) == 3  # one per flag, one for the case
    for options in selects:
        assert options.strip().startswith('<option value="">Choose an outcome</option>')
        assert "selected" not in options
        for code in SYSTEM_OUTCOMES:
            assert code not in options


def test_the_old_flag_address_shows_the_case_at_that_flag(client, me, rosa):
    page = client.get(f"/clinic/flags/{rosa['severe'].id}")
    assert page.status_code == 200
    assert f'class="flag-card focus" id="flag-{rosa["severe"].id}"' in page.text
    assert f'action="/clinic/cases/{rosa["treatment"].id}/resolve"' in page.text


# --- assignment -----------------------------------------------------------------------------------


def test_assigning_the_case_to_myself_is_audited_and_unassigning_clears_it(client, me, rosa):
    treatment = rosa["treatment"]
    response = post_on_case(client, treatment, "assign", {"assignee": str(me.id)})

    assert response.status_code == 302
    assert reload(Treatment, treatment.id).assigned_to_id == me.id
    (row,) = audit("case.assign")
    assert (row.actor_id, row.patient_id, row.target) == (
        me.id,
        rosa["patient"].id,
        f"treatment:{treatment.id};user:{me.id}",
    )
    assert 'id="assigned-to">nurse</dd>' in client.get(response.headers["Location"]).text

    assert post_on_case(client, treatment, "assign", {"assignee": ""}).status_code == 302
    assert reload(Treatment, treatment.id).assigned_to_id is None
    assert len(audit("case.unassign")) == 1


def test_assigning_to_another_clinics_user_is_refused(client, me, rosa, other_clinic):
    stranger = db.session.scalar(select(User.id).where(User.email == "nurse@hillside.test"))
    response = post_on_case(client, rosa["treatment"], "assign", {"assignee": str(stranger)})

    assert response.status_code == 409
    assert "only be assigned to a member of this clinic" in response.text
    assert "Rosa Lind" in response.text  # the page, shown again
    assert reload(Treatment, rosa["treatment"].id).assigned_to_id is None
    assert audit("case.assign") == []


def test_assigning_to_a_deactivated_user_is_refused(client, me, clinic, rosa):
    gone = create_user(clinic, "gone@riverside.test", STAFF_PASSWORD, name="Gus Gone")
    gone.is_active = False
    db.session.commit()

    response = post_on_case(client, rosa["treatment"], "assign", {"assignee": str(gone.id)})

    assert response.status_code == 409
    assert "Gus Gone&#39;s account is deactivated" in response.text
    assert reload(Treatment, rosa["treatment"].id).assigned_to_id is None


def test_resolving_every_flag_clears_the_assignment(client, me, rosa):
    treatment = rosa["treatment"]
    post_on_case(client, treatment, "assign", {"assignee": str(me.id)})
    for flag in (rosa["review"], rosa["severe"]):
        token = csrf_token(client.get(f"/clinic/flags/{flag.id}").text)
        client.post(
            f"/clinic/flags/{flag.id}/resolve", data={"csrf_token": token, "outcome": "reassured"}
        )
        if flag is rosa["review"]:
            assert reload(Treatment, treatment.id).assigned_to_id == me.id  # one still open
    assert reload(Treatment, treatment.id).assigned_to_id is None


# --- notes and resolving the case -----------------------------------------------------------------


def test_a_case_note_is_kept_on_its_most_urgent_flag(client, me, rosa):
    response = post_on_case(client, rosa["treatment"], "notes", {"body": "Rang, no answer"})
    assert response.status_code == 302
    note = db.session.scalars(select(FlagNote)).one()
    assert (note.flag_id, note.author_id, note.body) == (
        rosa["review"].id,
        me.id,
        "Rang, no answer",
    )
    assert "Rang, no answer" in client.get(f"/clinic/cases/{rosa['treatment'].id}").text


def test_resolving_the_whole_case_closes_every_flag_with_the_outcome(client, me, rosa):
    treatment = rosa["treatment"]
    data = {
        "outcome": "seen_in_clinic",
        "resolution_note": "Seen today",
        "flag_ids": shown_flag_ids(client, treatment),
    }
    response = post_on_case(client, treatment, "resolve", data)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/clinic/cases/{treatment.id}"
    for flag in (rosa["review"], rosa["severe"]):
        flag = reload(Flag, flag.id)
        assert (flag.status, flag.outcome, flag.resolved_by_id, flag.resolved_at) == (
            "resolved",
            "seen_in_clinic",
            me.id,
            NOW,
        )
    assert db.session.scalar(select(func.count(FlagNote.id))) == 1
    assert len(audit("flag.resolve")) == 2
    assert case_ids(client.get("/clinic/flags").text) == []


def test_resolving_a_case_without_an_outcome_is_refused(client, me, rosa):
    data = {"outcome": "", "flag_ids": shown_flag_ids(client, rosa["treatment"])}
    response = post_on_case(client, rosa["treatment"], "resolve", data)
    assert response.status_code == 422
    assert "Choose an outcome." in response.text
    assert reload(Flag, rosa["review"].id).status == "open"


def test_a_case_that_gained_a_flag_meanwhile_is_not_resolved(client, me, rosa):
    treatment = rosa["treatment"]
    shown = shown_flag_ids(client, treatment)
    add_flag(treatment, "urgent", "difficulty_swallowing", hours=0)

    response = post_on_case(
        client, treatment, "resolve", {"outcome": "reassured", "flag_ids": shown}
    )

    assert response.status_code == 409
    assert "This case changed while you were looking: a new Urgent (Difficulty swallowing)" in (
        response.text
    )
    assert 'id="history-' in response.text or "Symptoms since the treatment" in response.text
    statuses = db.session.scalars(select(Flag.status).where(Flag.treatment_id == treatment.id))
    assert set(statuses) == {"open"}
    assert audit("flag.resolve") == []


def test_a_case_whose_flag_was_resolved_meanwhile_is_not_resolved(client, me, rosa):
    treatment = rosa["treatment"]
    shown = shown_flag_ids(client, treatment)
    severe = reload(Flag, rosa["severe"].id)
    severe.status, severe.outcome, severe.resolved_at = "resolved", "referred", NOW
    db.session.commit()

    response = post_on_case(
        client, treatment, "resolve", {"outcome": "reassured", "flag_ids": shown}
    )

    assert response.status_code == 409
    assert "the Severe (Headache) flag was resolved meanwhile" in response.text
    assert reload(Flag, rosa["review"].id).status == "open"
    assert reload(Flag, rosa["severe"].id).outcome == "referred"


def test_resolving_an_already_resolved_flag_is_refused(client, me, rosa, time_machine):
    flag = rosa["review"]
    token = csrf_token(client.get(f"/clinic/flags/{flag.id}").text)
    data = {"csrf_token": token, "outcome": "reassured"}
    assert client.post(f"/clinic/flags/{flag.id}/resolve", data=data).status_code == 302
    time_machine.move_to(NOW + timedelta(minutes=5), tick=False)

    response = client.post(f"/clinic/flags/{flag.id}/resolve", data={**data, "outcome": "referred"})

    assert response.status_code == 409
    assert "This flag is already resolved." in response.text
    assert "Rosa Lind" in response.text
    assert (reload(Flag, flag.id).outcome, reload(Flag, flag.id).resolved_at) == ("reassured", NOW)


def test_resolve_and_open_next_case_goes_on_in_queue_order_then_to_the_empty_queue(
    client, me, make_patient
):
    _, first = make_patient("Ann First")
    _, second = make_patient("Bob Second")
    add_flag(first, "urgent", "difficulty_breathing", hours=2)
    add_flag(second, "overdue", "bruising", hours=30)

    def resolve_and_next(treatment):
        data = {
            "outcome": "reassured",
            "flag_ids": shown_flag_ids(client, treatment),
            "resolve_and_next": "Resolve and open next case",
        }
        return post_on_case(client, treatment, "resolve", data)

    response = resolve_and_next(first)
    assert response.headers["Location"] == f"/clinic/cases/{second.id}"
    page = client.get(response.headers["Location"]).text
    assert "This is the next case." in page and nav_count(page) == 1

    response = resolve_and_next(second)
    assert response.headers["Location"] == "/clinic/flags"
    page = client.get(response.headers["Location"]).text
    assert "No more cases: the queue is empty." in page
    assert nav_count(page) == 0 and 'id="no-cases"' in page


def test_the_next_case_after_one_in_the_middle_is_the_one_after_it(client, me, make_patient):
    _, top = make_patient("Ann Top")
    _, middle = make_patient("Bob Middle")
    _, last = make_patient("Cy Last")
    add_flag(top, "urgent", "difficulty_breathing", hours=2)
    add_flag(middle, "review", "eyelid_drooping", hours=2)
    add_flag(last, "overdue", "bruising", hours=2)
    data = {
        "outcome": "reassured",
        "flag_ids": shown_flag_ids(client, middle),
        "resolve_and_next": "Resolve and open next case",
    }
    response = post_on_case(client, middle, "resolve", data)
    assert response.headers["Location"] == f"/clinic/cases/{last.id}"


# --- who may see and act --------------------------------------------------------------------------


def test_another_clinics_clinician_gets_404_for_the_case_and_its_actions(app, rosa, other_clinic):
    client = app.test_client()
    assert StaffActions(client).sign_in("nurse@hillside.test").status_code == 302
    token = csrf_token(client.get("/clinic/flags").text)
    url = f"/clinic/cases/{rosa['treatment'].id}"

    assert client.get(url).status_code == 404
    for action, data in [
        ("assign", {"assignee": ""}),
        ("notes", {"body": "Not yours"}),
        ("resolve", {"outcome": "reassured", "flag_ids": str(rosa["review"].id)}),
        ("checkin", {"severity_bruising": "4"}),
    ]:
        response = client.post(f"{url}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 404, action
        assert "Rosa" not in response.text
    assert reload(Flag, rosa["review"].id).status == "open"
    assert db.session.scalar(select(func.count(FlagNote.id))) == 0


def test_case_actions_without_a_csrf_token_are_refused(client, me, rosa):
    url = f"/clinic/cases/{rosa['treatment'].id}"
    data = {"outcome": "reassured", "flag_ids": f"{rosa['review'].id},{rosa['severe'].id}"}
    assert client.post(f"{url}/resolve", data=data).status_code == 400
    assert client.post(f"{url}/assign", data={"assignee": str(me.id)}).status_code == 400
    assert reload(Flag, rosa["review"].id).status == "open"
    assert reload(Treatment, rosa["treatment"].id).assigned_to_id is None


def test_the_case_page_draws_the_same_expected_course_chart_as_the_patients_timeline(
    client, me, rosa
):
    treatment = rosa["treatment"]
    for day, severity in ((1, 2), (4, 1)):
        at = TREATED_AT + timedelta(days=day)
        record_checkin(treatment, [SymptomEntry("bruising", severity)], reported_at=at, now=at)
    db.session.commit()
    page = client.get(f"/clinic/cases/{treatment.id}").text

    history = page.split("Symptoms since the treatment")[1].split('id="notes"')[0]
    chart = history.split('id="history-chart-bruising"')[1].split("</figure>")[0]
    assert 'role="img"' in chart and '<rect class="band"' in chart
    assert "Day 0 = treatment day" in chart
    desc = re.search(r'<desc id="history-chart-bruising-desc">(.*?)</desc>', chart, re.S)
    assert " ".join(desc.group(1).split()) == (
        "Usually gone within 3 days (the shaded days). 2 days with a check-in; worst: moderate. "
        "Still there after about 4 days: longer than expected. Today is day 5 of 28."
    )
    table = chart.split("<tbody>")[1]
    assert table.count("<tr") == 6  # days 0 to 5, today; the days to come are only drawn
    assert "<td>Moderate</td>" in table and "<td>Yes</td>" in table
    assert "title=" not in history
