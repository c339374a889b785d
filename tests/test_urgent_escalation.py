"""A severe or worsening flag on an urgent symptom is alerted at once too, not in the digest.

One email per flag, as for the urgent flag itself; the digest lists only what was not emailed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.test_alerts import admins, check_in, digest, messages, morning, treatment
from tracker.extensions import db
from tracker.models import Flag
from tracker.services.messaging.alerts import URGENT_ALERT, alerted_at_once
from tracker.services.messaging.digest import DIGEST

__all__ = ["admins", "treatment"]  # fixtures shared with test_alerts

DAY_ONE = datetime(2026, 5, 12, 14, 0, tzinfo=UTC)  # two days after the treatment


@pytest.mark.parametrize(
    ("reason", "action", "at_once"),
    [
        ("urgent", "urgent", True),
        ("severe", "urgent", True),
        ("worsening", "urgent", True),
        ("review", "urgent", False),
        ("overdue", "urgent", False),
        ("urgent", "review", True),  # an urgent flag is alerted whatever the catalogue says now
        ("severe", "review", False),
        ("worsening", "review", False),
        ("severe", "expected", False),
        ("worsening", "expected", False),
        ("overdue", "expected", False),
        ("review", "review", False),
        ("no_response", None, False),
        ("severe", None, False),
    ],
)
def test_which_flags_are_alerted_at_once(reason, action, at_once):
    assert alerted_at_once(reason, action) is at_once


def flag(reason: str) -> Flag:
    return db.session.scalar(select(Flag).where(Flag.reason == reason))


def test_a_worsening_urgent_symptom_a_day_later_is_alerted_at_once(admins, treatment):
    check_in(treatment, DAY_ONE, {"difficulty_swallowing": 1})
    builders.checkin(treatment, DAY_ONE + timedelta(days=1), {"difficulty_swallowing": 3})
    worsening = flag("worsening")

    queued = [
        m for m in messages(URGENT_ALERT) if m.dedupe_key.startswith(f"urgent:{worsening.id}:")
    ]
    assert sorted(m.to_address for m in queued) == ["admin@riverside.test", "owner@riverside.test"]
    assert {m.dedupe_key for m in queued} == {f"urgent:{worsening.id}:admin:{a.id}" for a in admins}
    alert = queued[0]
    assert "Worsening: Difficulty swallowing" in alert.subject
    for body in (alert.body_text, alert.body_html):
        assert "worse" in body and "severity 3" in body.lower()
        assert f"http://aftercare.test/clinic/flags/{worsening.id}" in body


def test_the_patient_hears_the_clinic_was_alerted_of_the_worsening(admins, treatment):
    from tracker.services.patients.history import what_the_clinic_knows

    check_in(treatment, DAY_ONE, {"difficulty_swallowing": 1})
    later = check_in(treatment, DAY_ONE + timedelta(days=1), {"difficulty_swallowing": 3})
    [symptom_id] = {f.symptom_id for f in later.new_flags}

    assert what_the_clinic_knows(later.checkin, [symptom_id])[symptom_id].alerted


def test_a_very_severe_urgent_symptom_has_an_alert_for_each_flag(admins, treatment):
    check_in(treatment, DAY_ONE, {"difficulty_swallowing": 4})

    urgent, severe = flag("urgent"), flag("severe")
    keys = {m.dedupe_key for m in messages(URGENT_ALERT)}
    assert keys == {f"urgent:{f.id}:admin:{a.id}" for f in (urgent, severe) for a in admins}
    [severe_alert, *_] = [
        m for m in messages(URGENT_ALERT) if f"urgent:{severe.id}:" in m.dedupe_key
    ]
    assert "Severe: Difficulty swallowing" in severe_alert.subject
    assert "severity 4" in severe_alert.body_text.lower()


def test_a_worsening_non_urgent_symptom_waits_for_the_digest(admins, treatment):
    check_in(treatment, DAY_ONE, {"headache": 1})
    check_in(treatment, DAY_ONE + timedelta(days=1), {"headache": 3})
    assert flag("worsening") is not None
    assert messages(URGENT_ALERT) == []

    digest(morning(date(2026, 5, 14), time(7, 0)))

    assert "Worsening: Headache" in messages(DIGEST)[0].body_text


def test_the_digest_leaves_out_flags_already_alerted(admins, treatment):
    check_in(treatment, DAY_ONE, {"difficulty_swallowing": 1})
    check_in(
        treatment, DAY_ONE + timedelta(days=1), {"difficulty_swallowing": 4, "eyelid_drooping": 2}
    )
    assert {flag(r) is not None for r in ("urgent", "severe", "worsening", "review")} == {True}

    digest(morning(date(2026, 5, 14), time(7, 0)))

    [body] = {m.body_text for m in messages(DIGEST)}
    assert "Review: Eyelid" in body
    assert "Difficulty swallowing" not in body
    assert messages(DIGEST)[0].subject.startswith("1 case with new flags ")
