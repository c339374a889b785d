"""A ready-made case for the input-hardening tests: a patient with a flag, staff signed in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.api_helpers import Api, mint_token
from tests.conftest import TREATED_AT, StaffActions
from tracker.extensions import db
from tracker.models import Flag, User
from tracker.services.patients.checkins import SymptomEntry, record_checkin

NOW = TREATED_AT + timedelta(days=2)


def flagged_case(app, admin: User, make_patient, time_machine) -> dict:
    """Pat, who reported a drooping eyelid (a review flag) two days after treatment; the clock
    frozen then; an admin signed in (`staff`) and the clinician's API token (`api`)."""
    time_machine.move_to(NOW, tick=False)
    patient, treatment = make_patient()
    record_checkin(treatment, [SymptomEntry("eyelid_drooping", 2)])
    db.session.commit()
    staff = StaffActions(app.test_client())
    assert staff.sign_in(admin.email).status_code == 302
    return {
        "staff": staff.client,
        "api": Api(app.test_client(), mint_token()),
        "admin": admin,
        "patient": patient,
        "treatment": treatment,
        "flag": db.session.scalars(select(Flag)).one(),
    }
