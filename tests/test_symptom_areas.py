"""Symptom body areas: every default entry has one, new clinics get them, and the migration gives
existing entries the default's area by code (entries a clinic added itself: whole body)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.test_catalogue_admin import changes_of, edit
from tests.test_catalogue_cy import SCRIPTS, database_at, insert_catalogue
from tracker.catalogue import AREA_NAMES, AREAS, BODY, DEFAULT_CATALOGUE
from tracker.extensions import db
from tracker.models import Symptom

AREAS_REVISION = "0010"
BEFORE_AREAS = SCRIPTS.get_revision(AREAS_REVISION).down_revision


def test_every_default_symptom_has_a_known_area_and_every_area_is_used_and_named():
    used = {d.area for d in DEFAULT_CATALOGUE}
    assert used == set(AREAS) == set(AREA_NAMES)


def test_a_new_clinic_gets_the_default_areas(clinic):
    assert {s.code: s.area for s in clinic.symptoms} == {d.code: d.area for d in DEFAULT_CATALOGUE}


def test_the_migration_fills_areas_by_code_and_whole_body_for_the_rest(tmp_path):
    with database_at(tmp_path, BEFORE_AREAS):
        insert_catalogue("Riverside Clinic", {})
        upgrade(revision=AREAS_REVISION)
        areas = dict(db.session.execute(sa.text("SELECT code, area FROM symptoms")).all())
        column = next(
            c for c in sa.inspect(db.engine).get_columns("symptoms") if c["name"] == "area"
        )
    assert areas == {d.code: d.area for d in DEFAULT_CATALOGUE} | {"tingling": BODY}
    assert column["nullable"] is False


def test_the_migration_downgrades_to_the_schema_before_it(tmp_path):
    with database_at(tmp_path, AREAS_REVISION):
        insert_catalogue("Riverside Clinic", {})
        downgrade(revision=BEFORE_AREAS)
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("symptoms")}
    assert "area" not in columns


def bruising(clinic) -> Symptom:
    return next(s for s in clinic.symptoms if s.code == "bruising")


def test_the_catalogue_shows_each_area_in_words(admin_client, clinic):
    page = admin_client.get("/clinic/catalogue").text
    assert "<td>At the injection sites</td>" in page and "<td>Eyes</td>" in page


def test_an_admin_moves_a_symptom_to_another_area_and_it_is_kept_in_the_history(
    admin_client, clinic
):
    symptom = bruising(clinic)
    assert (
        '<option selected value="sites">'
        in admin_client.get(f"/clinic/catalogue/{symptom.id}").text
    )
    assert edit(admin_client, symptom, area="head").status_code == 302
    db.session.refresh(symptom)
    assert symptom.area == "head"
    assert changes_of(symptom)[-1].changes == {"area": ["sites", "head"]}


def test_an_unknown_area_is_refused_and_saves_nothing(admin_client, clinic):
    symptom = bruising(clinic)
    response = edit(admin_client, symptom, area="elbow")
    assert response.status_code == 422
    db.session.refresh(symptom)
    assert symptom.area == "sites" and changes_of(symptom) == []
