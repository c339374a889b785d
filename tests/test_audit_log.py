"""The audit log, as a clinic admin reads it: newest first, paged, filtered, and itself audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.conftest import STAFF_PASSWORD, StaffActions, csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent, Clinic, Patient, User
from tracker.services.clinics.clinics import create_user
from tracker.services.governance import audit
from tracker.timeutil import utcnow

ROW_RE = re.compile(r"<td><code>([^<]+)</code></td>\s*<td>([^<]*)</td>")
"""An audit row's action and target, in the order shown."""


def shown(html: str) -> list[tuple[str, str]]:
    """The (action, target) of each row on the page, top to bottom."""
    return ROW_RE.findall(html)


def seed(
    clinic: Clinic,
    action: str,
    target: str,
    *,
    minutes_ago: float,
    actor_type: str = "user",
    actor_id: int | None = None,
    patient_id: int | None = None,
    ip_address: str | None = "10.1.2.3",
) -> None:
    audit.record(
        action,
        actor_type=actor_type,
        actor_id=actor_id,
        clinic_id=clinic.id,
        patient_id=patient_id,
        target=target,
        ip_address=ip_address,
        now=utcnow() - timedelta(minutes=minutes_ago),
    )


def views() -> list[AuditEvent]:
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "audit.view").order_by(AuditEvent.id)
    ).all()


@pytest.fixture
def nurse(clinic) -> User:
    user = db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))
    user.name = "Nia Nurse"
    db.session.commit()
    return user


@pytest.fixture
def admin_client(client, admin):
    db.session.get(User, admin.id).name = "Alex Admin"
    db.session.commit()
    assert StaffActions(client).sign_in("admin@riverside.test").status_code == 302
    return client


@pytest.fixture
def history(clinic, nurse, make_patient):
    """Two patients and a small history: the nurse, a patient and the system at work."""
    pat, _ = make_patient("Pat Example")
    robin, _ = make_patient("Robin Other")
    seed(
        clinic, "patient.view", "patient:pat", minutes_ago=50, actor_id=nurse.id, patient_id=pat.id
    )
    seed(clinic, "patient.view", "patient:robin", minutes_ago=40, actor_id=nurse.id,
         patient_id=robin.id)  # fmt: skip
    # A patient whose id equals the nurse's user id: never mistaken for the nurse.
    seed(clinic, "patient.checkin.create", "checkin:1", minutes_ago=30, actor_type="patient",
         actor_id=nurse.id, patient_id=pat.id)  # fmt: skip
    seed(clinic, "flag.open", "flag:1", minutes_ago=20, actor_type="system", patient_id=pat.id,
         ip_address=None)  # fmt: skip
    db.session.commit()
    return pat, robin


# --- what the log shows ------------------------------------------------------------------------


def test_admin_sees_the_clinics_events_newest_first_with_who_which_patient_and_where(
    admin_client, history
):
    pat, robin = history
    page = admin_client.get("/clinic/audit")
    assert page.status_code == 200
    assert shown(page.text) == [
        ("flag.open", "flag:1"),
        ("patient.checkin.create", "checkin:1"),
        ("patient.view", "patient:robin"),
        ("patient.view", "patient:pat"),
    ]
    rows = page.text.split("<tr>")[2:]
    assert "<td>system</td>" in rows[0]
    assert "<td>patient</td>" in rows[1]
    assert "<td>Nia Nurse</td>" in rows[2] and f"Robin Other #{robin.id}" in rows[2]
    assert f"Pat Example #{pat.id}" in rows[3]
    assert f'href="/clinic/audit?patient={pat.id}"' in rows[3]
    assert "10.1.2.3" in rows[3]


def test_times_are_shown_in_the_clinics_timezone(admin_client, clinic, nurse):
    clinic = db.session.get(Clinic, clinic.id)
    clinic.timezone = "Asia/Tokyo"
    audit.record(
        "patient.view",
        actor_type="user",
        actor_id=nurse.id,
        clinic_id=clinic.id,
        now=datetime(2026, 1, 15, 10, 0, 5, tzinfo=UTC),
    )
    db.session.commit()
    page = admin_client.get("/clinic/audit")
    assert "15 Jan 2026, 19:00:05" in page.text
    assert "Asia/Tokyo" in page.text


def test_another_clinics_events_are_never_shown(admin_client, history, other_clinic):
    seed(other_clinic, "hillside.secret", "patient:hill", minutes_ago=1)
    db.session.commit()
    page = admin_client.get("/clinic/audit")
    assert "hillside.secret" not in page.text
    assert len(shown(page.text)) == 4


def test_viewing_the_log_is_itself_audited(admin_client, admin, history):
    admin_client.get("/clinic/audit")
    [view] = views()
    assert (view.actor_type, view.actor_id, view.patient_id, view.ip_address) == (
        "user",
        admin.id,
        None,
        "127.0.0.1",
    )
    page = admin_client.get("/clinic/audit")
    assert shown(page.text)[0] == ("audit.view", "")
    assert "<td>Alex Admin</td>" in page.text.split("<tr>")[2]
    assert len(views()) == 2


def test_catalogue_and_staff_changes_appear_in_the_log(admin_client, clinic, nurse):
    bruising = builders.symptom(clinic.id, "bruising")
    page = admin_client.get(f"/clinic/catalogue/{bruising.id}")
    admin_client.post(
        f"/clinic/catalogue/{bruising.id}",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Bruising",
            "action": "expected",
            "expected_hours": "96",
            "expected_text": bruising.expected_text,
            "advice": bruising.advice,
        },
    )
    admin_client.post(
        f"/clinic/staff/{nurse.id}/deactivate", data={"csrf_token": csrf_token(page.text)}
    )
    log = shown(admin_client.get("/clinic/audit").text)
    assert log == [
        ("staff.deactivate", f"user:{nurse.id}"),
        ("catalogue.update", f"symptom:{bruising.id}"),
    ]
    changes = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.in_(["staff.deactivate", "catalogue.update"]))
    ).all()
    assert [e.patient_id for e in changes] == [None, None]


# --- filters -----------------------------------------------------------------------------------


def test_filter_by_patient_shows_only_their_events_and_the_view_records_the_patient(
    admin_client, history
):
    pat, _robin = history
    page = admin_client.get(f"/clinic/audit?patient={pat.id}")
    assert page.status_code == 200
    assert shown(page.text) == [
        ("flag.open", "flag:1"),
        ("patient.checkin.create", "checkin:1"),
        ("patient.view", "patient:pat"),
    ]
    [view] = views()
    assert view.patient_id == pat.id


def test_filter_by_staff_member_shows_only_what_they_did(admin_client, nurse, history):
    page = admin_client.get(f"/clinic/audit?user={nurse.id}")
    assert page.status_code == 200
    assert shown(page.text) == [
        ("patient.view", "patient:robin"),
        ("patient.view", "patient:pat"),
    ]
    assert f'<option selected value="{nurse.id}">Nia Nurse</option>' in page.text
    assert views()[0].target == f"user:{nurse.id}"


def test_filters_combine(admin_client, nurse, history):
    pat, _robin = history
    page = admin_client.get(f"/clinic/audit?patient={pat.id}&user={nurse.id}")
    assert shown(page.text) == [("patient.view", "patient:pat")]


def test_empty_filters_show_everything(admin_client, history):
    page = admin_client.get("/clinic/audit?patient=&user=")
    assert page.status_code == 200
    assert len(shown(page.text)) == 4


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("patient=abc", "Not a valid integer value."),
        ("patient=0", "Give a patient ID."),
        ("patient=99999", "No patient of this clinic has that ID."),
        ("patient={other_patient}", "No patient of this clinic has that ID."),
        ("user=abc", "Not a valid choice."),
        ("user={other_user}", "Not a valid choice."),
    ],
    ids=[
        "patient-not-a-number",
        "patient-zero",
        "patient-unknown",
        "patient-of-another-clinic",
        "user-not-a-number",
        "user-of-another-clinic",
    ],
)
def test_bad_filter_is_refused_with_422_showing_nothing(
    admin_client, history, other_clinic, make_patient, query, message
):
    other_patient, _ = make_patient("Hilda Hillside", clinic=other_clinic)
    seed(other_clinic, "hillside.secret", "x", minutes_ago=1, patient_id=other_patient.id)
    other_user = db.session.scalar(select(User).where(User.email == "nurse@hillside.test"))
    db.session.commit()
    url = "/clinic/audit?" + query.format(other_patient=other_patient.id, other_user=other_user.id)
    page = admin_client.get(url)
    assert page.status_code == 422
    assert message in page.text
    assert shown(page.text) == []
    assert "Hilda" not in page.text
    assert views() == []


# --- paging ------------------------------------------------------------------------------------


def test_the_log_is_paged_fifty_to_a_page(admin_client, clinic, nurse):
    for n in range(120):
        seed(clinic, "patient.view", f"n:{n}", minutes_ago=1000 - n, actor_id=nurse.id)
    db.session.commit()

    last = admin_client.get("/clinic/audit?page=3")
    assert [t for _a, t in shown(last.text)] == [f"n:{n}" for n in range(19, -1, -1)]
    assert "Page 3 of 3" in last.text

    first = admin_client.get("/clinic/audit")  # now also shows the view of page 3, on top
    targets = [t for _a, t in shown(first.text)]
    assert len(targets) == 50
    assert targets[:2] == ["", "n:119"] and targets[-1] == "n:71"
    assert 'href="/clinic/audit?page=2"' in first.text

    beyond = admin_client.get("/clinic/audit?page=9")
    assert beyond.status_code == 200
    assert shown(beyond.text) == []


def test_paging_keeps_the_filters(admin_client, clinic, nurse, make_patient):
    pat, _ = make_patient()
    for n in range(60):
        seed(clinic, "patient.view", f"n:{n}", minutes_ago=100 - n, actor_id=nurse.id,
             patient_id=pat.id)  # fmt: skip
    db.session.commit()
    page = admin_client.get(f"/clinic/audit?patient={pat.id}")
    assert f"patient={pat.id}" in page.text[page.text.index('class="pager"') :]


# --- who may -----------------------------------------------------------------------------------


def test_clinician_gets_403_and_nothing_is_recorded(client, history):
    assert StaffActions(client).sign_in("nurse@riverside.test").status_code == 302
    assert client.get("/clinic/audit").status_code == 403
    assert views() == []


def test_admin_of_another_clinic_sees_only_their_own_log(client, history, other_clinic):
    create_user(other_clinic, "admin@hillside.test", STAFF_PASSWORD, "admin")
    db.session.commit()
    assert StaffActions(client).sign_in("admin@hillside.test").status_code == 302
    page = client.get("/clinic/audit")
    assert page.status_code == 200
    assert shown(page.text) == []
    pat, _robin = history
    assert client.get(f"/clinic/audit?patient={pat.id}").status_code == 422
    assert "Pat Example" not in page.text
    assert db.session.get(Patient, pat.id) is not None
