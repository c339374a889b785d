"""Clinic alerts: an urgent flag is emailed at once, other new flags in one digest each morning.

An urgent flag goes to the clinic's alert address and the treating practitioner, or to its
active admins when there is neither; the digest to the alert address, or the admins while it
has none.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.conftest import STAFF_PASSWORD, csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent, Clinic, Flag, OutboxMessage
from tracker.services.clinics.clinics import create_clinic, create_user
from tracker.services.flags.flagging import sweep
from tracker.services.messaging.alerts import URGENT_ALERT, queue_urgent_alerts
from tracker.services.messaging.digest import DIGEST, send_due_digests
from tracker.timeutil import from_local

LONDON = "Europe/London"


def messages(kind: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
    )


def check_in(treatment, when: datetime, symptoms: dict[str, int]):
    result = builders.checkin(treatment, when, symptoms)
    db.session.commit()
    return result


def digest(now: datetime):
    result = send_due_digests(now)
    db.session.commit()
    return result


@pytest.fixture
def admins(app, clinic, admin):
    """Two active admins and one who has left, of `clinic`."""
    second = create_user(clinic, "owner@riverside.test", STAFF_PASSWORD, "admin")
    gone = create_user(clinic, "former@riverside.test", STAFF_PASSWORD, "admin")
    gone.is_active = False
    db.session.commit()
    return [admin, second]


@pytest.fixture
def treatment(make_patient):
    return make_patient(treated_at=datetime(2026, 5, 10, 9, 0, tzinfo=UTC))[1]


# --- urgent flags ------------------------------------------------------------------------------


def test_an_urgent_check_in_alerts_each_active_admin_in_the_same_transaction(admins, treatment):
    when = datetime(2026, 5, 12, 14, 0, tzinfo=UTC)
    result = builders.checkin(treatment, when, {"difficulty_breathing": 2})
    [flag] = result.new_flags
    queued = messages(URGENT_ALERT)  # before the commit: in the check-in's own transaction
    assert sorted(m.to_address for m in queued) == ["admin@riverside.test", "owner@riverside.test"]
    assert {m.dedupe_key for m in queued} == {f"urgent:{flag.id}:admin:{a.id}" for a in admins}

    db.session.rollback()  # the check-in fails to commit: no flag, and no alert either
    assert messages(URGENT_ALERT) == []
    assert db.session.scalars(select(Flag)).all() == []


def test_an_urgent_flag_goes_to_the_clinics_alert_address_when_set(admins, clinic, treatment):
    clinic.alert_email = "alerts@riverside.test"
    db.session.commit()
    when = datetime(2026, 5, 12, 14, 0, tzinfo=UTC)

    [flag] = check_in(treatment, when, {"vision_problems": 3}).new_flags

    [alert] = messages(URGENT_ALERT)
    assert (alert.to_address, alert.dedupe_key) == ("alerts@riverside.test", f"urgent:{flag.id}")
    assert alert.status == "pending" and alert.clinic_id == clinic.id


def test_the_urgent_alert_links_to_the_flag_in_clinic_time_and_names_no_patient(admins, treatment):
    when = datetime(2026, 5, 12, 14, 0, tzinfo=UTC)  # 15:00 in London (BST)
    [flag] = check_in(treatment, when, {"difficulty_swallowing": 2}).new_flags

    alert = messages(URGENT_ALERT)[0]
    assert "URGENT" in alert.subject and "Difficulty swallowing" in alert.subject
    for body in (alert.body_text, alert.body_html):
        assert f"http://aftercare.test/clinic/flags/{flag.id}" in body
        assert "15:00" in body and "UK time" in body
        assert treatment.patient.name not in body and treatment.patient.email not in body


def test_an_urgent_alert_is_sent_once_however_often_things_run(admins, treatment):
    first = datetime(2026, 5, 12, 14, 0, tzinfo=UTC)
    check_in(treatment, first, {"difficulty_breathing": 2})
    check_in(treatment, first + timedelta(hours=2), {"difficulty_breathing": 2})  # same episode
    sweep(first + timedelta(hours=3))
    sweep(first + timedelta(hours=3))
    db.session.commit()

    assert len(messages(URGENT_ALERT)) == len(admins)


@pytest.fixture
def practitioner(clinic, treatment):
    """Dr Quinn, the clinician who gave `treatment`."""
    doctor = create_user(clinic, "dr.quinn@riverside.test", STAFF_PASSWORD, name="Dr Quinn")
    treatment.practitioner_id = doctor.id
    db.session.commit()
    return doctor


def urgent_check_in(treatment) -> list[Flag]:
    """Double vision reported two days after the treatment: one urgent flag, committed."""
    return check_in(
        treatment, datetime(2026, 5, 12, 14, 0, tzinfo=UTC), {"vision_problems": 2}
    ).new_flags


def alerts_by_address() -> dict[str, str]:
    return {m.to_address: m.dedupe_key for m in messages(URGENT_ALERT)}


@pytest.mark.parametrize(
    ("alert_address", "practitioner_active", "alerted"),
    [
        ("alerts@riverside.test", True, ["alert address", "practitioner"]),
        (None, True, ["practitioner"]),  # the admins are not needed
        ("alerts@riverside.test", False, ["alert address"]),
        (None, False, ["admin", "owner"]),  # nobody else: the active admins
    ],
    ids=[
        "alert-address-and-practitioner",
        "practitioner-alone-without-the-admins",
        "practitioner-who-left-is-not-alerted",
        "practitioner-who-left-and-no-alert-address-so-the-admins",
    ],
)
def test_who_gets_an_urgent_alert(
    admins, clinic, treatment, practitioner, alert_address, practitioner_active, alerted
):
    clinic.alert_email = alert_address
    practitioner.is_active = practitioner_active
    db.session.commit()

    [flag] = urgent_check_in(treatment)

    key = f"urgent:{flag.id}"
    copies = {
        "alert address": ("alerts@riverside.test", key),
        "practitioner": (practitioner.email, f"{key}:user:{practitioner.id}"),
        "admin": (admins[0].email, f"{key}:admin:{admins[0].id}"),
        "owner": (admins[1].email, f"{key}:admin:{admins[1].id}"),
    }
    assert alerts_by_address() == dict(copies[who] for who in alerted)


def test_a_practitioner_whose_address_is_the_alert_address_gets_one_copy(
    admins, clinic, treatment, practitioner
):
    clinic.alert_email = "Dr.Quinn@riverside.test"
    db.session.commit()

    [flag] = urgent_check_in(treatment)

    assert alerts_by_address() == {"Dr.Quinn@riverside.test": f"urgent:{flag.id}"}


def test_each_recipient_is_alerted_once_however_often_things_run(
    admins, clinic, treatment, practitioner
):
    clinic.alert_email = "alerts@riverside.test"
    db.session.commit()
    first = datetime(2026, 5, 12, 14, 0, tzinfo=UTC)
    [flag] = check_in(treatment, first, {"difficulty_breathing": 2}).new_flags
    check_in(treatment, first + timedelta(hours=2), {"difficulty_breathing": 2})  # same episode
    sweep(first + timedelta(hours=3))
    sweep(first + timedelta(hours=3))
    assert queue_urgent_alerts([flag]) == 0  # queued again by hand: every key exists already
    db.session.commit()

    assert sorted(m.to_address for m in messages(URGENT_ALERT)) == [
        "alerts@riverside.test",
        "dr.quinn@riverside.test",
    ]


def test_other_flags_are_not_alerted_at_once(admins, treatment):
    check_in(treatment, datetime(2026, 5, 12, 14, 0, tzinfo=UTC), {"eyelid_drooping": 2})
    assert db.session.scalars(select(Flag.reason)).all() == ["review"]
    assert messages(URGENT_ALERT) == []


# --- the morning digest ------------------------------------------------------------------------


def morning(day: date, clock: time, tz: str = LONDON) -> datetime:
    return from_local(day, clock, tz)


def test_the_digest_goes_once_a_morning_from_0700_clinic_time(admins, treatment):
    check_in(treatment, datetime(2026, 5, 11, 15, 0, tzinfo=UTC), {"eyelid_drooping": 2})
    day = date(2026, 5, 12)

    assert digest(morning(day, time(6, 59))).digests == 0
    assert digest(morning(day, time(7, 0))).digests == 1
    assert digest(morning(day, time(7, 15))).digests == 0
    assert digest(morning(day, time(18, 0))).digests == 0

    queued = messages(DIGEST)
    assert sorted(m.to_address for m in queued) == ["admin@riverside.test", "owner@riverside.test"]
    assert {m.dedupe_key.rsplit(":admin:", 1)[0] for m in queued} == {
        f"digest:{treatment.clinic_id}:2026-05-12"
    }
    assert all(m.created_at == morning(day, time(7, 0)) for m in queued)


def test_no_digest_when_nothing_is_new(admins, treatment):
    check_in(treatment, datetime(2026, 5, 11, 15, 0, tzinfo=UTC), {"eyelid_drooping": 2})
    digest(morning(date(2026, 5, 12), time(7, 0)))

    result = digest(morning(date(2026, 5, 13), time(7, 0)))

    assert (result.clinics_due, result.digests) == (1, 0)
    assert len(messages(DIGEST)) == len(admins)  # only yesterday's


def test_a_digest_lists_only_non_urgent_unresolved_flags_new_since_the_last(
    admins, clinic, treatment, make_patient
):
    clinic.alert_email = "alerts@riverside.test"
    db.session.commit()
    check_in(treatment, datetime(2026, 5, 11, 15, 0, tzinfo=UTC), {"eyelid_drooping": 2})
    digest(morning(date(2026, 5, 12), time(7, 0)))
    _, other = make_patient("Sam Other", treated_at=datetime(2026, 5, 10, 9, 0, tzinfo=UTC))
    evening = datetime(2026, 5, 12, 19, 0, tzinfo=UTC)
    check_in(other, evening, {"headache": 4, "difficulty_breathing": 2})  # severe, and urgent
    check_in(treatment, evening, {"brow_drooping": 1})
    resolved = db.session.scalar(
        select(Flag)
        .where(Flag.treatment_id == treatment.id, Flag.reason == "review")
        .order_by(Flag.id.desc())
    )
    resolved.status = "resolved"
    db.session.commit()

    digest(morning(date(2026, 5, 13), time(7, 0)))

    today = messages(DIGEST)[-1]
    assert today.dedupe_key == f"digest:{clinic.id}:2026-05-13"
    assert today.to_address == "alerts@riverside.test"
    assert today.subject.startswith("1 case with new flags ")
    assert "Severe: Headache" in today.body_text
    assert "Eyelid" not in today.body_text  # yesterday's digest had it
    assert "Brow" not in today.body_text  # resolved already
    assert "Difficulty breathing" not in today.body_text  # had its own alert at once
    severe = db.session.scalar(select(Flag).where(Flag.reason == "severe"))
    assert f"http://aftercare.test/clinic/cases/{severe.treatment_id}" in today.body_html
    assert "20:00" in today.body_text  # opened at 19:00 UTC: 20:00 in London


def test_the_digest_lists_cases_each_once_with_its_new_reasons_most_urgent_first(
    admins, treatment, make_patient
):
    _, other = make_patient("Sam Other", treated_at=datetime(2026, 5, 10, 9, 0, tzinfo=UTC))
    check_in(other, datetime(2026, 5, 11, 10, 0, tzinfo=UTC), {"brow_drooping": 1})
    check_in(
        treatment, datetime(2026, 5, 11, 15, 0, tzinfo=UTC), {"headache": 4, "eyelid_drooping": 2}
    )
    result = digest(morning(date(2026, 5, 12), time(7, 0)))

    assert (result.digests, result.cases, result.flags) == (1, 2, 3)
    message = messages(DIGEST)[0]
    assert message.subject == "2 cases with new flags at Riverside Clinic"
    cases = [line for line in message.body_text.splitlines() if line.startswith("- ")]
    assert cases == [  # both cases' most urgent reason is review: the older case first
        "- Review: Brow drooping (since Mon 11 May, 11:00)",
        "- Review: Eyelid drooping; Severe: Headache (since Mon 11 May, 16:00)",
    ]
    assert f"http://aftercare.test/clinic/cases/{treatment.id}" in message.body_html  # the case
    assert f"http://aftercare.test/clinic/cases/{other.id}" in message.body_html
    assert "/clinic/flags/" not in message.body_html  # cases, not flags


def test_the_first_digest_looks_back_24_hours(admins, treatment):
    check_in(treatment, datetime(2026, 5, 10, 12, 0, tzinfo=UTC), {"eyelid_drooping": 2})
    assert digest(morning(date(2026, 5, 12), time(7, 0))).digests == 0  # 2 days old


def test_each_clinic_gets_its_digest_at_0700_in_its_own_timezone(app, make_patient):
    sydney = create_clinic("Harbour Clinic", "Australia/Sydney")
    sydney.alert_email = "alerts@harbour.test"
    db.session.commit()
    _, treatment = make_patient(
        clinic=sydney,
        timezone="Australia/Sydney",
        treated_at=datetime(2026, 5, 10, 0, 0, tzinfo=UTC),
    )
    check_in(treatment, datetime(2026, 5, 11, 2, 0, tzinfo=UTC), {"eyelid_drooping": 2})
    seven_in_sydney = datetime(2026, 5, 11, 21, 0, tzinfo=UTC)  # AEST, UTC+10

    assert digest(seven_in_sydney - timedelta(minutes=1)).digests == 0
    assert digest(seven_in_sydney).digests == 1
    [message] = messages(DIGEST)
    assert message.dedupe_key == f"digest:{sydney.id}:2026-05-12"  # Sydney's date
    assert "12:00" in message.body_text  # opened at 02:00 UTC: midday in Sydney


def test_the_cli_queues_the_digest_as_of_the_given_time(runner, admins, treatment):
    check_in(treatment, datetime(2026, 5, 11, 15, 0, tzinfo=UTC), {"eyelid_drooping": 2})
    result = runner.invoke(args=["tracker", "digest", "--now", "2026-05-12T07:00+01:00"])
    assert result.exit_code == 0, result.output
    assert "1 had new flags" in result.output
    assert len(messages(DIGEST)) == 2


# --- the setting -------------------------------------------------------------------------------


@pytest.fixture
def signed_in_admin(client, admin, staff_actions):
    assert staff_actions.sign_in("admin@riverside.test").status_code == 302
    return staff_actions


def test_an_admin_sets_the_alert_address_on_the_staff_page(signed_in_admin, client, clinic):
    page = client.get("/clinic/staff")
    assert page.status_code == 200 and "Alert address" in page.text
    response = client.post(
        "/clinic/staff/alerts",
        data={"csrf_token": csrf_token(page.text), "alert_email": "alerts@riverside.test"},
    )
    assert response.status_code == 302
    assert db.session.get(Clinic, clinic.id).alert_email == "alerts@riverside.test"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("clinic.%"))).one()
    assert (event.action, event.actor_type) == ("clinic.alert_email.update", "user")

    page = client.get("/clinic/staff")
    client.post(
        "/clinic/staff/alerts", data={"csrf_token": csrf_token(page.text), "alert_email": ""}
    )
    assert db.session.get(Clinic, clinic.id).alert_email is None  # back to the admins


@pytest.mark.parametrize("address", ["not an address", "someone@localhost", "a b@example.com"])
def test_a_bad_alert_address_is_refused(signed_in_admin, client, clinic, address):
    page = client.get("/clinic/staff")
    response = client.post(
        "/clinic/staff/alerts", data={"csrf_token": csrf_token(page.text), "alert_email": address}
    )
    assert response.status_code == 422
    assert db.session.get(Clinic, clinic.id).alert_email is None


def test_a_clinician_cannot_set_the_alert_address(nurse, client, clinic):
    response = nurse.post("/clinic/staff/alerts", {"alert_email": "mine@example.com"})
    assert response.status_code == 403
    assert db.session.get(Clinic, clinic.id).alert_email is None
