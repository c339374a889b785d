"""The clinic's symptom catalogue, edited by an admin through the browser (CSRF on).

Every saved change is kept (who, when, old and new values), and the flag rules use the new
values from then on. Clinicians get 403; another clinic's admin gets 404 for our symptoms.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.conftest import STAFF_PASSWORD, TREATED_AT, StaffActions, csrf_token
from tracker.catalogue import TRANSLATED_LANGUAGES
from tracker.extensions import db
from tracker.models import AuditEvent, CatalogueChange, Flag, Symptom, Treatment, User
from tracker.services.clinics import catalogue_admin
from tracker.services.clinics.catalogue_admin import stored_translation, translated_field
from tracker.services.clinics.clinics import create_user
from tracker.services.flags.flagging import sweep

# --- helpers ---------------------------------------------------------------------------------


def current_values(symptom: Symptom) -> dict[str, str]:
    """The entry's values as its form would post them back unchanged."""
    hours = symptom.expected_hours
    return {
        "name": symptom.name,
        "action": symptom.action,
        "area": symptom.area,
        "expected_hours": "" if hours is None else f"{hours:g}",
        "expected_text": symptom.expected_text,
        "advice": symptom.advice,
        **({"spread_sign": "y"} if symptom.spread_sign else {}),  # a checkbox: sent when ticked
        **{
            translated_field(language, field): value
            for language in TRANSLATED_LANGUAGES
            for field, value in asdict(stored_translation(symptom, language)).items()
        },
    }


def edit(client, symptom: Symptom, **changes: str):
    """Open the entry's edit page and post it back with `changes` (and a valid CSRF token)."""
    url = f"/clinic/catalogue/{symptom.id}"
    data = {**current_values(symptom), **changes}
    data = {name: value for name, value in data.items() if value is not None}  # None: unticked
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


def changes_of(symptom: Symptom) -> list[CatalogueChange]:
    return db.session.scalars(
        select(CatalogueChange)
        .where(CatalogueChange.symptom_id == symptom.id)
        .order_by(CatalogueChange.id)
    ).all()


def snapshot(symptom: Symptom) -> tuple:
    db.session.refresh(symptom)
    return (
        symptom.name,
        symptom.action,
        symptom.expected_hours,
        symptom.expected_text,
        symptom.advice,
        symptom.updated_at,
        {
            language: (row.name, row.expected_text, row.advice, row.outdated)
            for language, row in symptom.translations.items()
        },
    )


# --- the list and the edit page ----------------------------------------------------------------


def test_admin_sees_each_symptom_with_its_action_expected_duration_and_advice(admin_client, clinic):
    page = admin_client.get("/clinic/catalogue")
    assert page.status_code == 200
    for code in ("bruising", "headache", "eyelid_drooping", "difficulty_breathing"):
        symptom = builders.symptom(clinic.id, code)
        assert f'href="/clinic/catalogue/{symptom.id}"' in page.text
        assert symptom.name in page.text
    assert "3 days" in page.text  # bruising, 72 h
    assert "A cold compress for 10 minutes" in page.text
    assert ">urgent<" in page.text and ">review<" in page.text


def test_edit_page_shows_the_entry_and_no_history_yet(admin_client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    page = admin_client.get(f"/clinic/catalogue/{bruising.id}")
    assert page.status_code == 200
    assert 'value="Bruising"' in page.text
    assert 'value="72"' in page.text
    assert "No changes since the clinic was set up." in page.text


# --- the spread sign --------------------------------------------------------------------------


def test_the_catalogue_and_the_edit_page_show_which_symptoms_are_spread_signs(admin_client, clinic):
    page = admin_client.get("/clinic/catalogue").text
    assert page.count("spread sign</span>") == 5  # the default catalogue's five
    swallowing = builders.symptom(clinic.id, "difficulty_swallowing")
    form = admin_client.get(f"/clinic/catalogue/{swallowing.id}").text
    assert '<input aria-describedby="spread_sign-hint" checked id="spread_sign"' in form
    bruising = builders.symptom(clinic.id, "bruising")
    unticked = admin_client.get(f"/clinic/catalogue/{bruising.id}").text
    assert '<input aria-describedby="spread_sign-hint" id="spread_sign"' in unticked


def test_an_admin_marks_a_symptom_as_a_spread_sign_and_it_is_kept_in_the_history(
    admin_client, clinic, admin
):
    headache = builders.symptom(clinic.id, "headache")
    assert edit(admin_client, headache, spread_sign="y").status_code == 302
    db.session.refresh(headache)
    assert headache.spread_sign is True
    [change] = changes_of(headache)
    assert change.changes == {"spread_sign": [False, True]} and change.changed_by_id == admin.id
    history = admin_client.get(f"/clinic/catalogue/{headache.id}").text
    assert "Spread sign" in history and "no &rarr; yes" in history


def test_an_admin_unmarks_a_spread_sign(admin_client, clinic):
    swallowing = builders.symptom(clinic.id, "difficulty_swallowing")
    assert edit(admin_client, swallowing, spread_sign=None).status_code == 302
    db.session.refresh(swallowing)
    assert swallowing.spread_sign is False
    assert changes_of(swallowing)[-1].changes == {"spread_sign": [True, False]}


def test_a_spread_sign_posted_back_unchanged_is_no_change(admin_client, clinic):
    swallowing = builders.symptom(clinic.id, "difficulty_swallowing")
    assert edit(admin_client, swallowing).status_code == 302
    db.session.refresh(swallowing)
    assert swallowing.spread_sign is True and changes_of(swallowing) == []


def test_an_edit_that_does_not_say_leaves_the_spread_sign_as_it_is(clinic, admin):
    swallowing = builders.symptom(clinic.id, "difficulty_swallowing")
    kept = catalogue_admin.SymptomEdit.of(swallowing)
    catalogue_admin.update_symptom(
        swallowing,
        catalogue_admin.SymptomEdit(kept.name + " (new)", kept.action, None, "", ""),
        actor=admin,
    )
    db.session.commit()
    assert swallowing.spread_sign is True
    assert "spread_sign" not in changes_of(swallowing)[-1].changes


# --- saving a change ---------------------------------------------------------------------------


def test_saved_change_updates_the_entry_and_keeps_who_when_and_old_and_new(
    admin_client, clinic, admin
):
    bruising = builders.symptom(clinic.id, "bruising")
    updated_before = bruising.updated_at
    response = edit(admin_client, bruising, expected_hours="120", name="Bruising or marks")
    assert response.status_code == 302
    assert response.headers["Location"] == "/clinic/catalogue"

    db.session.refresh(bruising)
    assert (bruising.name, bruising.expected_hours) == ("Bruising or marks", 120)
    assert bruising.updated_at > updated_before
    [change] = changes_of(bruising)
    assert change.changes == {
        "name": ["Bruising", "Bruising or marks"],
        "expected_hours": [72, 120],
        "cy_outdated": [False, True],  # the Welsh name still says "Cleisio"
    }
    assert change.changed_by_id == admin.id
    assert change.clinic_id == clinic.id
    assert change.changed_at == bruising.updated_at
    [event] = db.session.scalars(select(AuditEvent)).all()
    assert (event.action, event.actor_id, event.patient_id, event.target) == (
        "catalogue.update",
        admin.id,
        None,
        f"symptom:{bruising.id}",
    )
    assert event.ip_address == "127.0.0.1"


def test_saving_without_a_change_keeps_no_change_row(admin_client, clinic):
    headache = builders.symptom(clinic.id, "headache")
    before = snapshot(headache)
    response = edit(admin_client, headache)
    assert response.status_code == 302
    assert snapshot(headache) == before
    assert changes_of(headache) == []
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_line_breaks_sent_by_a_browser_do_not_count_as_a_change(admin_client, clinic, admin):
    headache = builders.symptom(clinic.id, "headache")
    catalogue_admin.update_symptom(
        headache,
        catalogue_admin.SymptomEdit(
            "Headache", "expected", 48, "One.\nTwo.", "Rest.\nDrink water."
        ),
        actor=db.session.get(User, admin.id),
    )
    db.session.commit()
    assert len(changes_of(headache)) == 1
    response = edit(
        admin_client, headache, expected_text="One.\r\nTwo.", advice="Rest.\r\nDrink water."
    )
    assert response.status_code == 302
    assert len(changes_of(headache)) == 1


def test_changing_to_review_clears_the_expected_duration(admin_client, clinic):
    nausea = builders.symptom(clinic.id, "nausea")
    response = edit(admin_client, nausea, action="review", expected_hours="72")
    assert response.status_code == 302
    db.session.refresh(nausea)
    assert (nausea.action, nausea.expected_hours) == ("review", None)
    [change] = changes_of(nausea)
    assert change.changes == {"action": ["expected", "review"], "expected_hours": [72, None]}


def test_an_urgent_symptom_can_become_expected_with_a_duration(admin_client, clinic):
    dry_eye = builders.symptom(clinic.id, "dry_eye")
    assert edit(admin_client, dry_eye, action="expected", expected_hours="36.5").status_code == 302
    db.session.refresh(dry_eye)
    assert (dry_eye.action, dry_eye.expected_hours) == ("expected", 36.5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "Give the symptom a name."),
        ({"name": "x" * 121}, "120 characters"),
        ({"action": "ignore"}, "Not a valid choice."),
        ({"expected_hours": ""}, "needs its expected duration"),
        ({"expected_hours": "0"}, "above 0 and at most 672"),
        ({"expected_hours": "-5"}, "above 0 and at most 672"),
        ({"expected_hours": "673"}, "above 0 and at most 672"),
        ({"expected_hours": "nan"}, "above 0 and at most 672"),
        ({"expected_hours": "inf"}, "above 0 and at most 672"),
        ({"expected_hours": "three days"}, "Not a valid float value."),
        ({"expected_text": "x" * 2001}, "2000 characters"),
        ({"advice": "x" * 2001}, "2000 characters"),
    ],
    ids=[
        "name-empty",
        "name-blank",
        "name-too-long",
        "action-unknown",
        "hours-missing",
        "hours-zero",
        "hours-negative",
        "hours-over-28-days",
        "hours-nan",
        "hours-inf",
        "hours-not-a-number",
        "expected-text-too-long",
        "advice-too-long",
    ],
)
def test_invalid_edit_is_refused_with_422_and_changes_nothing(
    admin_client, clinic, changes, message
):
    bruising = builders.symptom(clinic.id, "bruising")
    before = snapshot(bruising)
    response = edit(admin_client, bruising, **{"advice": "New advice, never kept.", **changes})
    assert response.status_code == 422
    assert "Please check the form" in response.text
    assert message in response.text
    assert snapshot(bruising) == before
    assert changes_of(bruising) == []
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_a_review_symptom_needs_no_expected_duration(admin_client, clinic):
    eyelid = builders.symptom(clinic.id, "eyelid_drooping")
    response = edit(admin_client, eyelid, expected_hours="", advice="We will call you today.")
    assert response.status_code == 302
    db.session.refresh(eyelid)
    assert eyelid.advice == "We will call you today."


def test_edit_without_csrf_token_is_refused(admin_client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    response = admin_client.post(
        f"/clinic/catalogue/{bruising.id}", data={**current_values(bruising), "name": "Hacked"}
    )
    assert response.status_code == 400
    db.session.refresh(bruising)
    assert bruising.name == "Bruising"


# --- change history ----------------------------------------------------------------------------


def test_edit_page_shows_each_change_newest_first_with_who_and_the_values(
    admin_client, clinic, admin
):
    db.session.get(User, admin.id).name = "Alex Admin"
    bruising = builders.symptom(clinic.id, "bruising")
    edit(admin_client, bruising, expected_hours="96")
    edit(admin_client, bruising, expected_hours="120", advice="")
    page = admin_client.get(f"/clinic/catalogue/{bruising.id}")
    assert page.status_code == 200
    assert page.text.count("Alex Admin") >= 2
    newer = page.text.index("4 days &rarr; 5 days")
    older = page.text.index("3 days &rarr; 4 days")
    assert newer < older
    assert "A cold compress for 10 minutes" in page.text[newer:older]  # advice old -> (none)
    assert "(none)" in page.text[newer:older]
    assert [c.changes["expected_hours"] for c in changes_of(bruising)] == [[72, 96], [96, 120]]


# --- the rules use the new values -------------------------------------------------------------


def at(hours: float) -> datetime:
    return TREATED_AT + timedelta(hours=hours)


def report(treatment: Treatment, hours: float, code: str) -> None:
    """A mild `code` reported `hours` after the treatment (and still there)."""
    builders.checkin(treatment, at(hours), {code: 1})
    db.session.commit()


def overdue_codes(treatment: Treatment) -> set[str]:
    flags = db.session.scalars(
        select(Flag).where(Flag.treatment_id == treatment.id, Flag.reason == "overdue")
    )
    return {f.symptom.code for f in flags}


@pytest.mark.parametrize(
    ("new_hours", "overdue"),
    [("120", set()), ("72", {"bruising"})],
    ids=["raised-to-120h", "left-at-72h"],
)
def test_bruising_after_raising_its_expected_hours_is_not_overdue_at_96h(
    admin_client, clinic, make_patient, new_hours, overdue
):
    _patient, treatment = make_patient()
    for hours in (1, 25, 49, 73, 90):
        report(treatment, hours, "bruising")
    bruising = builders.symptom(clinic.id, "bruising")
    assert edit(admin_client, bruising, expected_hours=new_hours).status_code == 302
    sweep(now=at(96))
    db.session.commit()
    assert overdue_codes(treatment) == overdue


@pytest.mark.parametrize(
    ("new_hours", "overdue"),
    [("24", {"headache"}), ("48", set())],
    ids=["lowered-to-24h", "left-at-48h"],
)
def test_headache_after_lowering_its_expected_hours_is_overdue_at_30h(
    admin_client, clinic, make_patient, new_hours, overdue
):
    _patient, treatment = make_patient()
    report(treatment, 1, "headache")
    report(treatment, 20, "headache")
    headache = builders.symptom(clinic.id, "headache")
    assert edit(admin_client, headache, expected_hours=new_hours).status_code == 302
    sweep(now=at(31))
    db.session.commit()
    assert overdue_codes(treatment) == overdue


# --- who may -----------------------------------------------------------------------------------


def test_clinician_gets_403_on_every_catalogue_page_and_post(clinician_client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    before = snapshot(bruising)
    assert clinician_client.get("/clinic/catalogue").status_code == 403
    assert clinician_client.get(f"/clinic/catalogue/{bruising.id}").status_code == 403
    token = csrf_token(clinician_client.get("/account/password").text)
    response = clinician_client.post(
        f"/clinic/catalogue/{bruising.id}",
        data={
            "csrf_token": token,
            **current_values(bruising),
            "expected_hours": "500",
            "cy_name": "Clais",
        },
    )
    assert response.status_code == 403
    assert snapshot(bruising) == before
    assert changes_of(bruising) == []


def test_signed_out_visitor_is_sent_to_sign_in(client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    for url in ("/clinic/catalogue", f"/clinic/catalogue/{bruising.id}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/signin")


def test_admin_of_another_clinic_gets_404_for_our_symptoms(client, clinic, other_clinic):
    create_user(other_clinic, "admin@hillside.test", STAFF_PASSWORD, "admin")
    db.session.commit()
    assert StaffActions(client).sign_in("admin@hillside.test").status_code == 302
    ours = builders.symptom(clinic.id, "bruising")
    theirs = builders.symptom(other_clinic.id, "bruising")
    assert client.get(f"/clinic/catalogue/{theirs.id}").status_code == 200
    assert client.get(f"/clinic/catalogue/{ours.id}").status_code == 404
    token = csrf_token(client.get(f"/clinic/catalogue/{theirs.id}").text)
    before = snapshot(ours)
    response = client.post(
        f"/clinic/catalogue/{ours.id}",
        data={
            "csrf_token": token,
            **current_values(ours),
            "expected_hours": "500",
            "cy_name": "Clais",
            "cy_confirmed": "y",
        },
    )
    assert response.status_code == 404
    assert snapshot(ours) == before
    listing = client.get("/clinic/catalogue")
    assert f'/clinic/catalogue/{ours.id}"' not in listing.text
    assert f'/clinic/catalogue/{theirs.id}"' in listing.text
