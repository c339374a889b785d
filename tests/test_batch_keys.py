"""One batch is one batch however it is typed: the product and batch keys."""

from __future__ import annotations

from datetime import time

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, select

from tests import builders
from tests.test_catalogue_cy import SCRIPTS, database_at, insert_catalogue
from tracker.batches import batch_key, product_key, tidy
from tracker.catalogue import DEFAULT_CATALOGUE
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import Symptom, Treatment
from tracker.services.patients.treatments import TreatmentDetails, record_treatment
from tracker.timeutil import utcnow


@pytest.mark.parametrize(
    ("typed", "shown", "product", "batch"),
    [
        ("Botox", "Botox", "botox", "BOTOX"),
        ("  BOTOX ", "BOTOX", "botox", "BOTOX"),
        ("Azzalure  125 U", "Azzalure 125 U", "azzalure 125 u", "AZZALURE125U"),
        ("c 3709 c3", "c 3709 c3", "c 3709 c3", "C3709C3"),
        ("C3709C3\t", "C3709C3", "c3709c3", "C3709C3"),
        ("AB-12.3", "AB-12.3", "ab-12.3", "AB-12.3"),
        ("Straße", "Straße", "strasse", "STRASSE"),
    ],
)
def test_case_and_spacing_make_no_other_batch_but_other_characters_do(typed, shown, product, batch):
    assert (tidy(typed), product_key(typed), batch_key(typed)) == (shown, product, batch)


def test_a_treatment_gets_its_keys_however_it_is_inserted(app, clinic):
    patient = builders.patient(clinic)
    by_orm = builders.treatment(patient, product=" BoTox ", batch="c1234 ab5")
    db.session.execute(
        insert(Treatment).values(
            clinic_id=clinic.id,
            patient_id=patient.id,
            treated_at=by_orm.treated_at,
            product="botox",
            batch_number="C1234AB5",
            indication="cosmetic",
        )
    )
    keys = db.session.execute(select(Treatment.product_key, Treatment.batch_key)).all()
    assert keys == [("botox", "C1234AB5")] * 2


def test_recording_a_treatment_stores_the_batch_as_shown_tidied(app, clinic, make_patient):
    patient, earlier = make_patient()
    details = TreatmentDetails(
        treated_at=earlier.treated_at,
        product="  Botox   100U ",
        batch_number=" c 1234 ",
        indication="cosmetic",
        units_by_area={"forehead": 10},
    )
    treatment = record_treatment(patient, details).treatment
    assert (treatment.product, treatment.batch_number) == ("Botox 100U", "c 1234")
    assert (treatment.product_key, treatment.batch_key) == ("botox 100u", "C1234")


def test_a_new_clinic_marks_the_defaults_spread_signs(app, clinic):
    codes = db.session.scalars(
        select(Symptom.code).where(Symptom.clinic_id == clinic.id, Symptom.spread_sign)
    )
    assert set(codes) == {
        "difficulty_swallowing",
        "difficulty_breathing",
        "difficulty_speaking",
        "vision_problems",
        "muscle_weakness",
    }


WATCH_REVISION = "0015"
BEFORE_WATCH = SCRIPTS.get_revision(WATCH_REVISION).down_revision


def test_the_migration_keys_existing_treatments_and_marks_spread_signs(tmp_path):
    with database_at(tmp_path, BEFORE_WATCH):
        insert_catalogue("Riverside Clinic", {})
        now = utcnow()
        tables = sa.MetaData()
        patients = sa.Table("patients", tables, autoload_with=db.engine)
        treatments = sa.Table("treatments", tables, autoload_with=db.engine)
        clinic_id = db.session.scalar(sa.text("SELECT id FROM clinics"))
        patient_id = db.session.execute(
            patients.insert()
            .values(clinic_id=clinic_id, name="Pat", email="pat@example.com", created_at=now)
            .values(timezone="Europe/London", reminder_time=time(9), reminders_enabled=True)
            .returning(patients.c.id)
        ).scalar_one()
        typed = [("Botox", "c 12"), (" BOTOX", "C12"), ("Azzalure", "C12")]
        db.session.execute(
            treatments.insert(),
            [
                dict(clinic_id=clinic_id, patient_id=patient_id, treated_at=now, created_at=now)
                | dict(product=p, batch_number=b, indication="cosmetic", units_total=10)
                | dict(areas=[], units_by_area={})
                for p, b in typed
            ],
        )
        db.session.commit()
        upgrade(revision=WATCH_REVISION)
        keys = db.session.execute(
            sa.text("SELECT product_key, batch_key FROM treatments ORDER BY id")
        ).all()
        spread = db.session.scalars(sa.text("SELECT code FROM symptoms WHERE spread_sign"))
        assert [tuple(k) for k in keys] == [("botox", "C12")] * 2 + [("azzalure", "C12")]
        assert set(spread) == {d.code for d in DEFAULT_CATALOGUE if d.spread_sign}
        db.session.commit()  # PostgreSQL: a reading transaction would block the DROP TABLEs
        downgrade(revision=BEFORE_WATCH)
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("treatments")}
        tables_left = set(sa.inspect(db.engine).get_table_names())
    assert "batch_key" not in columns and "batch_signals" not in tables_left


@pytest.mark.parametrize(
    ("product", "batch", "field"),
    [("Botox", "ß" * 31, "batch_number"), ("ß" * 61, "C1", "product")],
)
def test_a_name_whose_key_outgrows_its_column_is_refused_not_stored(
    app, clinic, make_patient, product, batch, field
):
    patient, earlier = make_patient()
    details = TreatmentDetails(
        treated_at=earlier.treated_at,
        product=product,
        batch_number=batch,
        indication="cosmetic",
        units_by_area={"forehead": 10},
    )
    with pytest.raises(InvalidInput) as refused:
        record_treatment(patient, details)
    assert set(refused.value.fields) == {field}
