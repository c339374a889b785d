"""The patient's language: stored on the patient (English unless the clinic or the patient says
otherwise), checked by the database, and added to existing patients by migration 0011."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy.exc import IntegrityError

from tests.test_catalogue_cy import SCRIPTS, database_at
from tracker.extensions import db

LANGUAGE_REVISION = "0011"
BEFORE_LANGUAGE = SCRIPTS.get_revision(LANGUAGE_REVISION).down_revision


def test_a_new_patient_reads_english(make_patient):
    patient, _ = make_patient()
    assert patient.language == "en"


def test_the_database_refuses_a_language_we_do_not_ship(make_patient):
    patient, _ = make_patient()
    patient.language = "fr"
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def insert_patient_before_languages() -> None:
    db.session.execute(
        sa.text(
            "INSERT INTO clinics (id, name, timezone, created_at)"
            " VALUES (1, 'Riverside Clinic', 'Europe/London', CURRENT_TIMESTAMP)"
        )
    )
    db.session.execute(
        sa.text(
            "INSERT INTO patients (id, clinic_id, name, email, timezone, reminder_time,"
            " reminders_enabled, created_at) VALUES (1, 1, 'Pat', 'pat@example.test',"
            " 'Europe/London', '09:00:00', TRUE, CURRENT_TIMESTAMP)"
        )
    )
    db.session.commit()


def test_the_migration_gives_existing_patients_english_and_downgrades(tmp_path):
    with database_at(tmp_path, BEFORE_LANGUAGE):
        insert_patient_before_languages()
        upgrade(revision=LANGUAGE_REVISION)
        assert db.session.execute(sa.text("SELECT language FROM patients")).scalar() == "en"
        with pytest.raises(IntegrityError):
            db.session.execute(sa.text("UPDATE patients SET language = 'xx'"))
        db.session.rollback()
        downgrade(revision=BEFORE_LANGUAGE)
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("patients")}
    assert "language" not in columns
