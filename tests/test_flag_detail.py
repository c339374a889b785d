"""A flag's page (the case page of its treatment, at that flag) and what a clinician does with
the flag, through the browser with CSRF on.

Time is frozen with `time_machine` before signing in (staff sessions time out); the flags come
from the real check-in service, as a patient's check-in would raise them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.conftest import STAFF_PASSWORD, TREATED_AT, PatientActions, StaffActions, csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent, CheckIn, Flag, FlagNote, User
from tracker.services.clinics.clinics import create_user

NOW = TREATED_AT + timedelta(days=2)
"""Wednesday 4 March 2026, 10:00 UTC (10:00 in London, 05:00 in New York)."""


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def case(app, clinic):
    """Rosa, treated by Dr Quinn, reported drooping eyelid (a review flag) and a very severe
    headache (a severe flag) yesterday."""
    doctor = create_user(
        clinic, "dr@riverside.test", STAFF_PASSWORD, name="Dr Quinn", registration_number="GMC 7654"
    )
    patient = builders.patient(clinic, "Rosa Lind", phone="+44 7700 900123")
    units = {"forehead": 10, "frown lines": 20}
    treatment = builders.treatment(patient, units=units, practitioner=doctor)
    builders.checkin(
        treatment,
        TREATED_AT + timedelta(days=1),
        {"eyelid_drooping": 1, "headache": 4},
        note="Left eyelid feels heavy",
        now=NOW,
    )
    db.session.commit()
    review = db.session.scalars(select(Flag).where(Flag.reason == "review")).one()
    severe = db.session.scalars(select(Flag).where(Flag.reason == "severe")).one()
    return {"patient": patient, "treatment": treatment, "flag": review, "other": severe}


@pytest.fixture
def nurse(client, clinic, staff_actions):
    """Riverside's clinician, signed in."""
    assert staff_actions.sign_in().status_code == 302
    return db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))


def detail_url(flag: Flag) -> str:
    return f"/clinic/flags/{flag.id}"


def act(client, flag: Flag, action: str, data: dict | None = None):
    """POST one of the flag page's forms, with the CSRF token from the flag page itself."""
    token = csrf_token(client.get(detail_url(flag)).text)
    return client.post(f"{detail_url(flag)}/{action}", data={"csrf_token": token, **(data or {})})


def audit_rows(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def reload(flag: Flag) -> Flag:
    db.session.expire_all()
    return db.session.get(Flag, flag.id)


# --- the page -----------------------------------------------------------------------------------


def test_detail_shows_patient_contact_and_the_treatment(client, case, nurse):
    page = client.get(detail_url(case["flag"]))

    assert page.status_code == 200
    for text in (
        "Rosa Lind",
        "rosa@example.com",
        "+44 7700 900123",
        "Botox",
        "C1234AB5",
        "forehead (10 units), frown lines (20 units)",
        "Cosmetic",
        "Dr Quinn (registration GMC 7654)",
        "Mon 02 Mar 2026, 10:00",
    ):
        assert text in page.text, text
    assert f'href="/clinic/patients/{case["patient"].id}"' in page.text


def test_treatment_time_is_shown_in_the_clinics_timezone(client, clinic, case, nurse):
    clinic.timezone = "America/New_York"
    db.session.commit()
    page = client.get(detail_url(case["flag"]))
    assert "Mon 02 Mar 2026, 05:00" in page.text


def test_detail_shows_each_symptoms_history_and_the_check_in_notes(client, case, nurse):
    page = client.get(detail_url(case["flag"]))

    assert 'id="history-eyelid_drooping"' in page.text
    history = page.text.split('id="history-headache"')[1].split("</div>")[0]
    assert "Expected: up to 2 days" in history
    day_1 = (
        r"<th[^>]*>1</th>\s*<td>Tue <span class=\"date\">03 Mar</span></td>\s*<td>Very severe</td>"
    )
    assert re.search(day_1, history)
    assert "Left eyelid feels heavy" in page.text
    assert "Headache: very severe" in page.text


def test_detail_shows_the_flags_notes_and_the_treatments_other_flags(client, case, nurse):
    db.session.add(
        FlagNote(
            flag_id=case["flag"].id,
            author_id=nurse.id,
            body="Called, no answer <b>yet</b>",
            created_at=NOW - timedelta(hours=1),
        )
    )
    db.session.commit()

    page = client.get(detail_url(case["flag"]))

    assert "Called, no answer &lt;b&gt;yet&lt;/b&gt;" in page.text
    other = page.text.split(f'id="flag-{case["other"].id}"')[1]
    assert "reason-severe" in other.split("</div>")[0]  # the sibling flag, with its own actions


def test_viewing_a_flag_is_audited_with_the_patient(client, clinic, case, nurse):
    client.get(detail_url(case["flag"]))

    (row,) = audit_rows("case.view")
    assert (row.actor_id, row.clinic_id, row.patient_id) == (
        nurse.id,
        clinic.id,
        case["patient"].id,
    )
    assert row.target == f"treatment:{case['treatment'].id}"


# --- acknowledge, note, resolve -------------------------------------------------------------------


def test_acknowledge_records_who_and_when(client, case, nurse):
    response = act(client, case["flag"], "acknowledge")

    assert response.status_code == 302
    flag = reload(case["flag"])
    assert (flag.status, flag.acknowledged_by_id, flag.acknowledged_at) == (
        "acknowledged",
        nurse.id,
        NOW,
    )
    (row,) = audit_rows("flag.acknowledge")
    assert (row.actor_id, row.patient_id) == (nurse.id, case["patient"].id)
    page = client.get(response.headers["Location"])
    assert "Wed 04 Mar 2026, 10:00 by nurse" in page.text


def test_acknowledging_twice_is_refused_and_changes_nothing(client, case, nurse, time_machine):
    act(client, case["flag"], "acknowledge")
    time_machine.move_to(NOW + timedelta(minutes=5), tick=False)

    response = act(client, case["flag"], "acknowledge")

    assert response.status_code == 409
    assert "already acknowledged" in response.text
    assert reload(case["flag"]).acknowledged_at == NOW
    assert len(audit_rows("flag.acknowledge")) == 1


def test_a_note_is_kept_with_its_author_and_time_and_shown_escaped(client, case, nurse):
    response = act(client, case["flag"], "notes", {"body": "  Rang back: <i>better</i>  "})

    assert response.status_code == 302
    note = db.session.scalars(select(FlagNote)).one()
    assert (note.flag_id, note.author_id, note.created_at, note.body) == (
        case["flag"].id,
        nurse.id,
        NOW,
        "Rang back: <i>better</i>",
    )
    page = client.get(detail_url(case["flag"]))
    assert "Rang back: &lt;i&gt;better&lt;/i&gt;" in page.text
    (row,) = audit_rows("flag.note")
    assert (row.patient_id, row.target) == (case["patient"].id, f"note:{note.id}")
    assert reload(case["flag"]).status == "open"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write the note before saving it."),
        ("   ", "Write the note before saving it."),
        ("x" * 2001, "Keep the note to 2,000 characters or fewer."),
    ],
    ids=["empty", "blank", "too-long"],
)
def test_an_empty_or_overlong_note_is_refused(client, case, nurse, body, message):
    response = act(client, case["flag"], "notes", {"body": body})

    assert response.status_code == 422
    assert message in response.text
    assert count(FlagNote) == 0
    assert audit_rows("flag.note") == []


def test_resolve_records_who_when_the_outcome_and_the_note(client, case, nurse):
    response = act(
        client,
        case["flag"],
        "resolve",
        {"outcome": "seen_in_clinic", "resolution_note": "Seen today, apraclonidine drops"},
    )

    assert response.status_code == 302
    flag = reload(case["flag"])
    assert (flag.status, flag.outcome, flag.resolved_by_id, flag.resolved_at) == (
        "resolved",
        "seen_in_clinic",
        nurse.id,
        NOW,
    )
    note = db.session.scalars(select(FlagNote)).one()
    assert (note.body, note.author_id) == ("Seen today, apraclonidine drops", nurse.id)
    (row,) = audit_rows("flag.resolve")
    assert row.patient_id == case["patient"].id
    page = client.get(detail_url(flag))
    assert "Resolved: Seen in clinic" in page.text
    assert f'id="resolve-{flag.id}"' not in page.text


def test_resolving_an_acknowledged_flag_keeps_who_acknowledged_it(client, case, nurse):
    act(client, case["flag"], "acknowledge")
    act(client, case["flag"], "resolve", {"outcome": "reassured"})

    flag = reload(case["flag"])
    assert (flag.status, flag.acknowledged_by_id, flag.resolved_by_id) == (
        "resolved",
        nurse.id,
        nurse.id,
    )
    assert count(FlagNote) == 0


@pytest.mark.parametrize("action", ["resolve", "acknowledge"])
def test_acting_on_a_resolved_flag_is_a_conflict(client, case, nurse, time_machine, action):
    act(client, case["flag"], "resolve", {"outcome": "reassured"})
    time_machine.move_to(NOW + timedelta(minutes=5), tick=False)

    response = act(client, case["flag"], action, {"outcome": "referred"})

    assert response.status_code == 409
    assert "already resolved" in response.text
    flag = reload(case["flag"])
    assert (flag.outcome, flag.resolved_at, flag.acknowledged_at) == ("reassured", NOW, None)


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ("", "Choose an outcome."),
        ("cured", "Not a valid choice"),
        ("Reassured", "Not a valid choice"),
        ("patient_checked_in", "Not a valid choice"),
    ],
)
def test_an_unknown_outcome_is_refused_and_nothing_changes(client, case, nurse, outcome, message):
    response = act(client, case["flag"], "resolve", {"outcome": outcome, "resolution_note": "Done"})

    assert response.status_code == 422
    assert message in response.text
    flag = reload(case["flag"])
    assert (flag.status, flag.outcome, flag.resolved_at) == ("open", None, None)
    assert count(FlagNote) == 0
    assert audit_rows("flag.resolve") == []


# --- phone follow-up ----------------------------------------------------------------------------


def phone_checkin(client, flag: Flag, severities: dict[str, object], **fields):
    data = {f"severity_{code}": value for code, value in severities.items()}
    return act(client, flag, "checkin", {**data, **fields})


def test_phone_form_defaults_to_now_in_the_clinics_timezone(client, clinic, case, nurse):
    clinic.timezone = "America/New_York"
    db.session.commit()
    page = client.get(detail_url(case["flag"]))
    assert re.search(r'name="reported_at"[^>]*value="2026-03-04T05:00"', page.text)


def test_phone_check_in_goes_through_the_check_in_service_and_raises_flags(
    client, clinic, case, nurse
):
    clinic.timezone = "America/New_York"
    db.session.commit()

    response = phone_checkin(
        client,
        case["flag"],
        {"bruising": 4},
        reported_at="2026-03-03T21:30",
        checkin_note="Bruise is very painful",
    )

    assert response.status_code == 302, response.text
    checkin = db.session.scalars(select(CheckIn).where(CheckIn.source == "clinician")).one()
    assert checkin.recorded_by_id == nurse.id
    assert checkin.reported_at == NOW - timedelta(hours=7, minutes=30)  # 02:30 UTC on the 4th
    assert checkin.note == "Bruise is very painful"
    assert [(r.symptom.code, r.severity) for r in checkin.reports] == [("bruising", 4)]
    severe = db.session.scalars(
        select(Flag).where(Flag.reason == "severe", Flag.symptom.has(code="bruising"))
    ).one()
    assert severe.treatment_id == case["treatment"].id
    (row,) = audit_rows("checkin.create")
    assert (row.actor_id, row.patient_id, row.target) == (
        nurse.id,
        case["patient"].id,
        f"checkin:{checkin.id}",
    )


def test_phone_check_in_raises_the_same_flags_as_the_patients_form(
    app, client, clinic, make_patient, nurse
):
    severities = {"bruising": 4, "eyelid_drooping": 1, "headache": 2, "difficulty_swallowing": 1}
    by_phone, phone_treatment = make_patient("Sam Phone")
    by_form, form_treatment = make_patient("Tia Form")
    builders.checkin(phone_treatment, TREATED_AT + timedelta(hours=1), now=NOW)
    builders.checkin(phone_treatment, TREATED_AT + timedelta(hours=2), {"redness": 1}, now=NOW)
    db.session.commit()
    redness = db.session.scalars(select(Flag).where(Flag.treatment_id == phone_treatment.id))
    assert list(redness) == []  # redness is expected: nothing to open the page with yet
    anchor = builders.flag(
        phone_treatment,
        "no_response",
        opened_at=TREATED_AT + timedelta(hours=48),
        episode_started_at=TREATED_AT,
    )
    db.session.commit()

    assert phone_checkin(client, anchor, severities).status_code == 302
    patient = PatientActions(app.test_client())
    assert patient.sign_in(by_form).status_code == 302
    assert patient.submit_checkin(severities).status_code == 302

    def raised(treatment):
        flags = db.session.scalars(
            select(Flag).where(Flag.treatment_id == treatment.id, Flag.reason != "no_response")
        )
        return sorted((f.reason, f.symptom.code) for f in flags)

    assert raised(phone_treatment) == raised(form_treatment)
    assert raised(form_treatment) == [
        ("review", "eyelid_drooping"),
        ("severe", "bruising"),
        ("urgent", "difficulty_swallowing"),
    ]
    sources = db.session.execute(
        select(CheckIn.treatment_id, CheckIn.source, CheckIn.recorded_by_id).where(
            CheckIn.reported_at == NOW
        )
    ).all()
    assert sorted(sources) == [
        (phone_treatment.id, "clinician", nurse.id),
        (form_treatment.id, "patient", None),
    ]


def test_a_blank_time_means_now(client, case, nurse):
    response = phone_checkin(client, case["flag"], {"headache": 1}, reported_at="")
    assert response.status_code == 302
    checkin = db.session.scalars(select(CheckIn).where(CheckIn.source == "clinician")).one()
    assert checkin.reported_at == NOW


@pytest.mark.parametrize(
    ("severities", "fields", "message"),
    [
        ({"bruising": 4}, {"reported_at": "2026-03-04T10:10"}, "cannot be in the future"),
        ({"bruising": 4}, {"reported_at": "2026-03-02T09:59"}, "cannot be before the treatment"),
        ({"bruising": 4}, {"reported_at": "yesterday"}, "Not a valid datetime value"),
        ({"bruising": 7}, {}, "Not a valid choice"),
        ({"bruising": "severe"}, {}, "Invalid Choice"),
        ({"bruising": 4}, {"checkin_note": "x" * 2001}, "2,000 characters or fewer"),
        (
            {"bruising": 4},
            {"reported_at": "2026-03-29T01:30"},
            "01:30 on 29 March 2026 does not exist in UK time: the clocks went forward.",
        ),
        (
            {"bruising": 4},
            {"reported_at": "2026-10-25T01:30"},
            "01:30 on 25 October 2026 happens twice in UK time: the clocks went back",
        ),
    ],
    ids=[
        "future",
        "before-treatment",
        "not-a-time",
        "severity-7",
        "severity-word",
        "long-note",
        "clocks-forward",
        "clocks-back",
    ],
)
def test_a_bad_phone_check_in_stores_nothing(client, case, nurse, severities, fields, message):
    checkins, flags = count(CheckIn), count(Flag)

    response = phone_checkin(client, case["flag"], severities, **fields)

    assert response.status_code == 422
    assert message.lower() in response.text.lower()
    assert (count(CheckIn), count(Flag)) == (checkins, flags)
    assert audit_rows("checkin.create") == []


def test_audit_rows_never_hold_notes_or_symptom_text(client, case, nurse):
    act(client, case["flag"], "notes", {"body": "Secret note text"})
    phone_checkin(client, case["flag"], {"bruising": 2}, checkin_note="Secret call text")
    act(client, case["flag"], "resolve", {"outcome": "self_care", "resolution_note": "Secret end"})

    rows = db.session.scalars(select(AuditEvent)).all()
    actions = {r.action for r in rows}
    assert {"flag.note", "checkin.create", "flag.resolve", "case.view"} <= actions
    for row in rows:
        for value in (row.action, row.target or ""):
            assert "Secret" not in value and "bruis" not in value.lower(), value


# --- who may see and act --------------------------------------------------------------------------


ACTIONS = [
    ("acknowledge", {}),
    ("notes", {"body": "Not yours"}),
    ("resolve", {"outcome": "reassured"}),
    ("checkin", {"severity_bruising": "4"}),
]


def test_another_clinics_clinician_gets_404_and_changes_nothing(client, case, other_clinic):
    assert StaffActions(client).sign_in("nurse@hillside.test").status_code == 302
    token = csrf_token(client.get("/clinic/flags").text)
    flag = case["flag"]
    checkins = count(CheckIn)

    page = client.get(detail_url(flag))
    assert page.status_code == 404
    assert "Rosa" not in page.text
    for action, data in ACTIONS:
        response = client.post(f"{detail_url(flag)}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 404, action
        assert "Rosa" not in response.text

    flag = reload(flag)
    assert (flag.status, flag.acknowledged_at, flag.outcome) == ("open", None, None)
    assert (count(FlagNote), count(CheckIn)) == (0, checkins)
    assert (
        db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("flag.%"))).all() == []
    )


def test_an_unknown_flag_is_404(client, case, nurse):
    assert client.get("/clinic/flags/999999").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, case):
    token = csrf_token(client.get("/signin").text)
    assert client.get(detail_url(case["flag"])).headers["Location"].startswith("/signin")
    for action, data in ACTIONS:
        response = client.post(
            f"{detail_url(case['flag'])}/{action}", data={"csrf_token": token, **data}
        )
        assert response.status_code == 302, action
        assert response.headers["Location"].startswith("/signin")
    assert reload(case["flag"]).status == "open"
    assert count(FlagNote) == 0


def test_an_action_without_a_csrf_token_is_refused(client, case, nurse):
    response = client.post(f"{detail_url(case['flag'])}/resolve", data={"outcome": "reassured"})
    assert response.status_code == 400
    assert reload(case["flag"]).status == "open"
