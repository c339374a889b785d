"""The cases API: GET /api/v1/cases in the queue's order and filters, assign and resolve a
case with their 409 refusals; /api/v1/flags is unchanged beside it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.api_helpers import Api, assert_error, mint_token
from tests.conftest import STAFF_PASSWORD, TREATED_AT
from tracker.extensions import db
from tracker.models import AuditEvent, Flag, Treatment, User
from tracker.services.clinics.clinics import create_user

NOW = TREATED_AT + timedelta(days=5)


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def api(app, clinic) -> Api:
    return Api(app.test_client(), mint_token())


@pytest.fixture
def nurse_id(clinic) -> int:
    return db.session.scalar(select(User.id).where(User.email == "nurse@riverside.test"))


def add_flag(treatment, reason, code=None, *, hours, status="open") -> Flag:
    flag = builders.flag(
        treatment, reason, code, opened_at=NOW - timedelta(hours=hours), status=status
    )
    db.session.commit()
    return flag


@pytest.fixture
def two_cases(make_patient):
    _, older = make_patient("Ann Older")
    _, urgent = make_patient("Bob Urgent")
    overdue = add_flag(older, "overdue", "bruising", hours=50)
    no_response = add_flag(older, "no_response", hours=60, status="acknowledged")
    worse = add_flag(urgent, "worsening", "pain", hours=2)
    sos = add_flag(urgent, "urgent", "difficulty_breathing", hours=1)
    return {"older": older, "urgent": urgent, "flags": [overdue, no_response, worse, sos]}


def test_cases_come_in_queue_order_with_their_reasons_and_flags(api, two_cases):
    body = api.get("/api/v1/cases").get_json()

    first, second = body["cases"]
    assert body["next_cursor"] is None
    urgent, older = two_cases["urgent"], two_cases["older"]
    overdue, no_response, worse, sos = two_cases["flags"]
    assert first == {
        "treatment_id": urgent.id,
        "patient_id": urgent.patient_id,
        "reasons": ["urgent", "worsening"],
        "flags": first["flags"],
        "assigned_to": None,
        "opened_at": (NOW - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
        if first["opened_at"].endswith("Z")
        else (NOW - timedelta(hours=2)).isoformat(),
    }
    assert [f["id"] for f in first["flags"]] == [sos.id, worse.id]
    assert second["treatment_id"] == older.id
    assert second["reasons"] == ["overdue", "no_response"]
    assert [f["id"] for f in second["flags"]] == [overdue.id, no_response.id]
    (row,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cases.list"))
    assert row.target.startswith("reason=any;status=active")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("reason=overdue", ["older"]),
        ("status=open", ["urgent", "older"]),
        ("status=acknowledged", []),
        ("assigned=me", ["older"]),
    ],
)
def test_cases_take_the_queues_filters(api, two_cases, nurse_id, query, expected):
    two_cases["older"].assigned_to_id = nurse_id
    db.session.commit()
    body = api.get(f"/api/v1/cases?{query}").get_json()
    assert [c["treatment_id"] for c in body["cases"]] == [two_cases[n].id for n in expected]


def test_cases_are_paged_with_a_cursor(api, make_patient):
    ids = []
    for n in range(5):
        _, treatment = make_patient(f"Pat {n}")
        add_flag(treatment, "overdue", "bruising", hours=50 - n)
        ids.append(treatment.id)
    seen, cursor = [], None
    while True:
        body = api.get("/api/v1/cases?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [c["treatment_id"] for c in body["cases"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert_error(api.get("/api/v1/cases?cursor=bogus"), 422)


def test_assign_and_unassign_a_case(api, two_cases, nurse_id):
    url = f"/api/v1/cases/{two_cases['older'].id}/assign"
    response = api.post(url, json={"assignee_id": nurse_id})
    assert response.status_code == 200
    assert response.get_json()["assigned_to"] == {"id": nurse_id, "name": "nurse"}
    assert api.post(url, json={"assignee_id": None}).get_json()["assigned_to"] is None
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("case.%")))
    assert list(actions) == ["case.assign", "case.unassign"]


def test_assigning_to_another_clinics_or_a_deactivated_user_is_409(
    api, clinic, two_cases, other_clinic
):
    stranger = db.session.scalar(select(User.id).where(User.email == "nurse@hillside.test"))
    gone = create_user(clinic, "gone@riverside.test", STAFF_PASSWORD, name="Gus Gone")
    gone.is_active = False
    db.session.commit()
    url = f"/api/v1/cases/{two_cases['older'].id}/assign"
    for assignee in (stranger, gone.id, 999999):
        assert_error(api.post(url, json={"assignee_id": assignee}), 409)
    assert db.session.get(Treatment, two_cases["older"].id).assigned_to_id is None


def test_resolve_a_case_with_the_flags_shown(api, two_cases, nurse_id):
    older = two_cases["older"]
    api.post(f"/api/v1/cases/{older.id}/assign", json={"assignee_id": nurse_id})
    shown = [
        f["id"] for f in api.get("/api/v1/cases?reason=overdue").get_json()["cases"][0]["flags"]
    ]

    response = api.post(
        f"/api/v1/cases/{older.id}/resolve", json={"outcome": "self_care", "flag_ids": shown}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert sorted(f["id"] for f in body["flags"]) == sorted(shown)
    assert {(f["status"], f["outcome"]) for f in body["flags"]} == {("resolved", "self_care")}
    db.session.expire_all()
    assert db.session.get(Treatment, older.id).assigned_to_id is None
    assert [c["treatment_id"] for c in api.get("/api/v1/cases").get_json()["cases"]] == [
        two_cases["urgent"].id
    ]


@pytest.mark.parametrize("change", ["missing", "extra", "resolved"])
def test_resolving_a_case_that_changed_is_409_and_changes_nothing(api, two_cases, change):
    overdue, no_response, worse, _ = two_cases["flags"]
    shown = {"missing": [overdue.id], "extra": [overdue.id, no_response.id, worse.id]}.get(
        change, [overdue.id, no_response.id]
    )
    if change == "resolved":
        api.post(f"/api/v1/flags/{overdue.id}/resolve", json={"outcome": "reassured"})
    url = f"/api/v1/cases/{two_cases['older'].id}/resolve"

    response = api.post(url, json={"outcome": "referred", "flag_ids": shown})

    assert_error(response, 409)
    assert "changed while you were looking" in response.get_json()["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Flag, no_response.id).status == "acknowledged"
    assert db.session.get(Flag, overdue.id).outcome in (None, "reassured")


def test_system_outcomes_are_refused_and_another_clinics_case_is_404(api, two_cases, other_clinic):
    url = f"/api/v1/cases/{two_cases['older'].id}/resolve"
    assert_error(api.post(url, json={"outcome": "patient_checked_in", "flag_ids": [1]}), 422)
    outsider = Api(api.client, mint_token("nurse@hillside.test"))
    assert_error(outsider.post(url, json={"outcome": "reassured", "flag_ids": [1]}), 404)
    assert outsider.get("/api/v1/cases").get_json()["cases"] == []


def test_the_flags_list_is_unchanged_beside_the_cases(api, two_cases):
    body = api.get("/api/v1/flags").get_json()
    assert [f["id"] for f in body["flags"]] == sorted(
        (f.id for f in two_cases["flags"]), key=lambda i: db.session.get(Flag, i).opened_at
    )
