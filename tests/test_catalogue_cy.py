"""The symptom catalogue in Welsh: the default's Welsh, translations per clinic, the fallback to
English, the editor, and the migration that gives existing clinics the Welsh.

A clinic that rewrote an entry must never show Welsh patients a translation of advice it no
longer gives: the migration leaves such entries untranslated, and an edit of the English marks
the Welsh out of date (patients read the English) until an admin updates or confirms it.
Who may edit (admins of the entry's clinic) is tested with the Welsh fields posted too in
tests/test_catalogue_admin.py; the symptoms API's translations in tests/test_api_resources.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, replace

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from tests import builders, pg
from tests.conftest import (
    ON_POSTGRESQL,
    TEST_DATABASE_URL,
)
from tests.own_database import app_on
from tests.test_catalogue_admin import changes_of, edit
from tracker.catalogue import (
    DEFAULT_CATALOGUE,
    DEFAULT_TRANSLATIONS,
    ENGLISH,
    TRANSLATED_LANGUAGES,
    SymptomText,
    english_text,
)
from tracker.catalogue_cy import WELSH
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import AuditEvent, Symptom, SymptomTranslation
from tracker.services.clinics import catalogue_admin
from tracker.services.clinics.catalogue_admin import NAME_MAX_CHARS, TEXT_MAX_CHARS
from tracker.services.clinics.clinics import create_clinic
from tracker.services.clinics.demo import ensure_demo
from tracker.timeutil import utcnow

# --- the default catalogue in Welsh ----------------------------------------------------------


def test_every_default_symptom_has_its_welsh_and_nothing_else_has():
    assert set(WELSH) == {d.code for d in DEFAULT_CATALOGUE}
    assert set(DEFAULT_TRANSLATIONS) == set(TRANSLATED_LANGUAGES) == {"cy"}


@pytest.mark.parametrize("default", DEFAULT_CATALOGUE, ids=lambda d: d.code)
def test_each_welsh_default_is_complete_within_the_editors_limits_and_not_the_english(default):
    welsh = DEFAULT_TRANSLATIONS["cy"][default.code]
    assert all(asdict(welsh).values()), welsh
    assert len(welsh.name) <= NAME_MAX_CHARS
    assert max(len(welsh.expected_text), len(welsh.advice)) <= TEXT_MAX_CHARS
    assert welsh.name != default.name and welsh.advice != default.advice
    assert catalogue_admin.normalise(
        catalogue_admin.SymptomEdit("x", "review", None, "", "", {"cy": welsh})
    ).translations == {"cy": welsh}  # already trimmed: an unchanged form is no change


# --- new clinics -----------------------------------------------------------------------------


def welsh_of(clinic_id: int) -> dict[str, SymptomText]:
    return {
        s.code: s.text("cy")
        for s in catalogue_admin.clinic_symptoms(clinic_id)
        if s.translation("cy") is not None
    }


def test_a_new_clinic_has_every_default_symptom_in_welsh(app):
    clinic = create_clinic("Caerdydd Clinic")
    db.session.commit()
    assert welsh_of(clinic.id) == DEFAULT_TRANSLATIONS["cy"]
    rows = db.session.scalars(select(SymptomTranslation)).all()
    assert len(rows) == len(DEFAULT_CATALOGUE)
    assert {(r.language, r.outdated) for r in rows} == {("cy", False)}


def test_the_demo_clinic_has_the_catalogue_in_welsh(app):
    clinic, created = ensure_demo()
    db.session.commit()
    assert created
    assert welsh_of(clinic.id) == DEFAULT_TRANSLATIONS["cy"]


# --- Symptom.text: the translation, else the English ------------------------------------------

ENGLISH_TEXT = SymptomText("Bruising", "Fades in days.", "Use a cold compress.")


def entry(**translated) -> Symptom:
    """An entry (not saved) with the English above and, if given, a Welsh translation."""
    symptom = Symptom(code="bruising", action="expected", **asdict(ENGLISH_TEXT))
    if translated:
        symptom.translations["cy"] = SymptomTranslation(language="cy", **translated)
    return symptom


FULL_WELSH = {"name": "Cleisio", "expected_text": "Pylu.", "advice": "Cywasgiad oer."}


@pytest.mark.parametrize(
    ("symptom", "language", "expected"),
    [
        pytest.param(entry(**FULL_WELSH), "cy", SymptomText(**FULL_WELSH), id="welsh"),
        pytest.param(entry(**FULL_WELSH), ENGLISH, ENGLISH_TEXT, id="english-asked"),
        pytest.param(entry(), "cy", ENGLISH_TEXT, id="no-translation"),
        pytest.param(entry(**FULL_WELSH), "fr", ENGLISH_TEXT, id="language-not-shipped"),
        pytest.param(
            entry(**FULL_WELSH, outdated=True), "cy", ENGLISH_TEXT, id="outdated-is-english"
        ),
        pytest.param(
            entry(name="Cleisio", expected_text="", advice=""),
            "cy",
            SymptomText("Cleisio", ENGLISH_TEXT.expected_text, ENGLISH_TEXT.advice),
            id="empty-fields-fall-back-one-by-one",
        ),
        pytest.param(
            entry(name="", expected_text="", advice="Cywasgiad oer."),
            "cy",
            SymptomText(ENGLISH_TEXT.name, ENGLISH_TEXT.expected_text, "Cywasgiad oer."),
            id="only-advice-translated",
        ),
    ],
)
def test_text_is_the_translation_else_the_english(symptom, language, expected):
    assert symptom.text(language) == expected


def test_text_defaults_to_english():
    assert entry(**FULL_WELSH).text() == ENGLISH_TEXT
    assert english_text(DEFAULT_CATALOGUE[0]) == SymptomText(
        DEFAULT_CATALOGUE[0].name, DEFAULT_CATALOGUE[0].expected_text, DEFAULT_CATALOGUE[0].advice
    )


# --- loading a catalogue with its translations -------------------------------------------------


def counted() -> contextlib.AbstractContextManager[list[str]]:
    """The SELECT statements run inside the block."""
    return builders.sql_statements("SELECT")


def statements_to_read_in_welsh(clinic_id: int) -> int:
    db.session.commit()
    db.session.expunge_all()
    with counted() as statements:
        texts = [s.text("cy") for s in catalogue_admin.clinic_symptoms(clinic_id)]
    assert texts
    return len(statements)


def test_a_catalogue_and_its_translations_load_in_the_same_few_queries_however_long(clinic):
    clinic_id = clinic.id
    before = statements_to_read_in_welsh(clinic_id)
    for n in range(30):
        db.session.add(
            Symptom(
                clinic_id=clinic_id,
                code=f"extra_{n}",
                name=f"Extra {n}",
                action="review",
                position=100 + n,
                translations={"cy": SymptomTranslation(language="cy", name=f"Ychwanegol {n}")},
            )
        )
    assert statements_to_read_in_welsh(clinic_id) == before == 2


def test_one_entry_loads_with_its_translation(clinic):
    clinic_id, bruising_id = clinic.id, builders.symptom(clinic.id, "bruising").id
    db.session.commit()
    db.session.expunge_all()
    with counted() as statements:
        bruising = catalogue_admin.clinic_symptom(clinic_id, bruising_id)
        assert bruising.text("cy").name == "Cleisio"
    assert len(statements) == 2


# --- the catalogue editor ----------------------------------------------------------------------


def welsh_row(symptom: Symptom) -> SymptomTranslation | None:
    db.session.expire_all()
    return db.session.scalar(
        select(SymptomTranslation).where(
            SymptomTranslation.symptom_id == symptom.id, SymptomTranslation.language == "cy"
        )
    )


def test_the_edit_page_shows_the_welsh_fields_filled(admin_client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    page = admin_client.get(f"/clinic/catalogue/{bruising.id}")
    assert page.status_code == 200
    assert "In Welsh" in page.text and "Advice, in Welsh" in page.text
    assert 'name="cy_name"' in page.text and 'value="Cleisio"' in page.text
    assert WELSH["bruising"][1] in page.text
    assert "cy_confirmed" not in page.text  # nothing to confirm while the Welsh is current


def test_a_welsh_edit_is_saved_kept_in_the_history_and_audited(admin_client, clinic, admin):
    bruising = builders.symptom(clinic.id, "bruising")
    old_advice = WELSH["bruising"][2]
    response = edit(admin_client, bruising, cy_advice="  Defnyddiwch gywasgiad oer.\r\n")
    assert response.status_code == 302
    row = welsh_row(bruising)
    assert (row.name, row.advice, row.outdated) == ("Cleisio", "Defnyddiwch gywasgiad oer.", False)
    db.session.refresh(bruising)
    assert bruising.advice == DEFAULT_CATALOGUE[0].advice  # the English is untouched
    [change] = changes_of(bruising)
    assert change.changes == {"cy_advice": [old_advice, "Defnyddiwch gywasgiad oer."]}
    [event_row] = db.session.scalars(select(AuditEvent)).all()
    assert (event_row.action, event_row.actor_id, event_row.target) == (
        "catalogue.update",
        admin.id,
        f"symptom:{bruising.id}",
    )
    history = admin_client.get(f"/clinic/catalogue/{bruising.id}").text
    assert "Advice in Welsh" in history and "Defnyddiwch gywasgiad oer." in history
    again = edit(admin_client, bruising)  # posted back unchanged
    assert again.status_code == 302 and len(changes_of(bruising)) == 1


def test_emptying_every_welsh_field_removes_the_translation(admin_client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    response = edit(admin_client, bruising, cy_name=" ", cy_expected_text="", cy_advice="")
    assert response.status_code == 302
    assert welsh_row(bruising) is None
    db.session.refresh(bruising)
    assert bruising.text("cy") == bruising.text(ENGLISH)
    [change] = changes_of(bruising)
    assert set(change.changes) == {"cy_name", "cy_expected_text", "cy_advice"}
    assert admin_client.get("/clinic/catalogue").text.count("English only") == 1


def test_welsh_can_be_added_to_an_entry_without_it(admin_client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    db.session.delete(welsh_row(bruising))
    db.session.commit()
    response = edit(admin_client, bruising, cy_name="Clais")
    assert response.status_code == 302
    row = welsh_row(bruising)
    assert (row.name, row.expected_text, row.advice) == ("Clais", "", "")
    db.session.refresh(bruising)
    assert bruising.text("cy") == SymptomText(
        "Clais", bruising.expected_text, bruising.advice
    )  # the untranslated fields read in English


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cy_name": "x" * (NAME_MAX_CHARS + 1)}, "cannot be longer than 120 characters"),
        ({"cy_expected_text": "x" * (TEXT_MAX_CHARS + 1)}, "cannot be longer than 2000"),
        ({"cy_advice": "x" * (TEXT_MAX_CHARS + 1)}, "cannot be longer than 2000"),
        ({"cy_advice": "Cywasgiad\x00 oer"}, "NUL"),
    ],
    ids=["name-too-long", "expected-text-too-long", "advice-too-long", "nul"],
)
def test_an_invalid_welsh_edit_is_refused_and_saves_nothing(admin_client, clinic, changes, message):
    bruising = builders.symptom(clinic.id, "bruising")
    before = asdict(bruising.text("cy"))
    response = edit(admin_client, bruising, advice="New English, never kept.", **changes)
    assert response.status_code == 422
    assert "Please check the form" in response.text and message in response.text
    db.session.refresh(bruising)
    assert asdict(bruising.text("cy")) == before
    assert bruising.advice == DEFAULT_CATALOGUE[0].advice
    assert changes_of(bruising) == []
    assert db.session.scalars(select(AuditEvent)).all() == []


@pytest.mark.parametrize(
    ("translations", "refused_fields"),
    [
        ({"fr": SymptomText("Bleu", "", "")}, {"translations"}),
        ({"cy": SymptomText("x" * (NAME_MAX_CHARS + 1), "", "")}, {"cy_name"}),
        ({"cy": SymptomText("Clais", "x" * (TEXT_MAX_CHARS + 1), "")}, {"cy_expected_text"}),
        ({"cy": SymptomText("Clais", "", "x" * (TEXT_MAX_CHARS + 1))}, {"cy_advice"}),
    ],
    ids=["language-not-shipped", "name-too-long", "expected-text-too-long", "advice-too-long"],
)
def test_the_service_refuses_a_translation_it_cannot_keep(
    clinic, admin, translations, refused_fields
):
    bruising = builders.symptom(clinic.id, "bruising")
    current = catalogue_admin.SymptomEdit.of(bruising)
    tampered = replace(current, translations=translations)
    with pytest.raises(InvalidInput) as refused:
        catalogue_admin.update_symptom(bruising, tampered, actor=admin)
    assert set(refused.value.fields) == refused_fields
    assert changes_of(bruising) == []
    assert welsh_row(bruising).name == "Cleisio"


def test_changing_the_english_marks_the_welsh_out_of_date_until_it_is_confirmed(
    admin_client, clinic
):
    bruising = builders.symptom(clinic.id, "bruising")
    new_advice = "Use a cold compress, and tell us after five days."
    response = edit(admin_client, bruising, advice=new_advice)
    assert response.status_code == 302
    landing = admin_client.get(response.headers["Location"]).text
    assert "The Welsh of Bruising may now be out of date" in landing
    assert "1 entry has Welsh" in landing and "out of date" in landing
    assert welsh_row(bruising).outdated
    db.session.refresh(bruising)
    assert bruising.text("cy") == SymptomText("Bruising", bruising.expected_text, new_advice)
    assert changes_of(bruising)[-1].changes["cy_outdated"] == [False, True]

    page = admin_client.get(f"/clinic/catalogue/{bruising.id}").text
    assert "The English was changed after this Welsh was saved" in page
    assert "Welsh out of date</dt>" in page and "no &rarr; yes" in page  # in the history
    assert 'name="cy_confirmed"' in page
    another = edit(admin_client, bruising, expected_text="Bruises fade in days.")
    assert another.status_code == 302 and welsh_row(bruising).outdated  # still to check

    confirmed = edit(admin_client, bruising, cy_confirmed="y")
    assert confirmed.status_code == 302
    assert not welsh_row(bruising).outdated
    assert changes_of(bruising)[-1].changes == {"cy_outdated": [True, False]}
    db.session.refresh(bruising)
    assert bruising.text("cy").advice == WELSH["bruising"][2]
    assert "may be out of date" not in admin_client.get("/clinic/catalogue").text


def test_changing_the_english_and_the_welsh_together_keeps_the_welsh_current(admin_client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    response = edit(
        admin_client,
        bruising,
        advice="Use a cold compress.",
        cy_advice="Defnyddiwch gywasgiad oer.",
    )
    assert response.status_code == 302
    assert not welsh_row(bruising).outdated
    landing = admin_client.get(response.headers["Location"]).text
    assert "may now be out of date" not in landing
    assert "out of date" not in changes_of(bruising)[-1].changes


def test_a_welsh_edit_clears_the_out_of_date_mark(admin_client, clinic):
    bruising = builders.symptom(clinic.id, "bruising")
    edit(admin_client, bruising, name="Bruises")
    assert welsh_row(bruising).outdated
    db.session.refresh(bruising)
    edit(admin_client, bruising, cy_name="Cleisiau")
    assert not welsh_row(bruising).outdated
    assert changes_of(bruising)[-1].changes == {
        "cy_name": ["Cleisio", "Cleisiau"],
        "cy_outdated": [True, False],
    }


# --- the migration -------------------------------------------------------------------------------

SCRIPTS = ScriptDirectory("tracker/migrations")
TRANSLATIONS_REVISION = "0009"
BEFORE_TRANSLATIONS = SCRIPTS.get_revision(TRANSLATIONS_REVISION).down_revision


@contextlib.contextmanager
def database_at(tmp_path, revision: str) -> Iterator[None]:
    """A database of its own migrated to `revision`, in an app context on it."""
    with contextlib.ExitStack() as stack:
        if ON_POSTGRESQL:
            url = stack.enter_context(pg.fresh_database(TEST_DATABASE_URL, "cy_backfill"))
        else:
            url = f"sqlite:///{tmp_path / 'backfill.db'}"
        app = app_on(url, "migrating")
        with app.app_context():
            upgrade(revision=revision)
            try:
                yield
            finally:
                db.session.remove()
                db.engine.dispose()


def insert_catalogue(clinic_name: str, edits: dict[str, dict[str, str]]) -> None:
    """A clinic with the default catalogue (`edits` applied to it, by code) and one entry of its
    own, written with plain SQL as the schema stood before the translations."""
    tables = sa.MetaData()
    clinics = sa.Table("clinics", tables, autoload_with=db.engine)
    symptoms = sa.Table("symptoms", tables, autoload_with=db.engine)
    now = utcnow()
    clinic_id = db.session.execute(
        clinics.insert()
        .values(name=clinic_name, timezone="Europe/London", created_at=now)
        .returning(clinics.c.id)
    ).scalar_one()
    rows = [
        {
            "code": d.code,
            "action": d.action,
            "expected_hours": d.expected_hours,
            **asdict(english_text(d)),
            **edits.get(d.code, {}),
        }
        for d in DEFAULT_CATALOGUE
    ]
    rows.append(
        {"code": "tingling", "action": "review", "expected_hours": None}
        | {"name": "Tingling", "expected_text": "", "advice": "Tell us."}
    )
    db.session.execute(
        symptoms.insert(),
        [
            {**row, "clinic_id": clinic_id, "position": n, "updated_at": now}
            for n, row in enumerate(rows)
        ],
    )
    db.session.commit()


def test_the_migration_gives_welsh_only_to_entries_still_at_the_default_english(tmp_path):
    edited = {
        "bruising": {"advice": "Arnica gel twice a day."},
        "headache": {"name": "Headache or migraine"},
        "nausea": {"expected_text": "Nausea can last a week."},
    }
    with database_at(tmp_path, BEFORE_TRANSLATIONS):
        insert_catalogue("Riverside Clinic", edited)
        insert_catalogue("Untouched Clinic", {})
        upgrade(revision=TRANSLATIONS_REVISION)
        rows = db.session.execute(
            sa.text(
                "SELECT c.name, s.code, t.language, t.name, t.expected_text, t.advice, t.outdated "
                "FROM symptom_translations t JOIN symptoms s ON s.id = t.symptom_id "
                "JOIN clinics c ON c.id = s.clinic_id"
            )
        ).all()
    welsh = {
        (clinic, code): (language, SymptomText(name, expected, advice), bool(outdated))
        for clinic, code, language, name, expected, advice, outdated in rows
    }
    default_codes = [d.code for d in DEFAULT_CATALOGUE]
    assert set(welsh) == {("Untouched Clinic", code) for code in default_codes} | {
        ("Riverside Clinic", code) for code in default_codes if code not in edited
    }
    for (_clinic, code), value in welsh.items():
        assert value == ("cy", DEFAULT_TRANSLATIONS["cy"][code], False)


def test_the_migration_downgrades_to_the_schema_before_it(tmp_path):
    with database_at(tmp_path, TRANSLATIONS_REVISION):
        insert_catalogue("Riverside Clinic", {})
        downgrade(revision=BEFORE_TRANSLATIONS)
        assert "symptom_translations" not in sa.inspect(db.engine).get_table_names()
        assert db.session.execute(sa.text("SELECT count(*) FROM symptoms")).scalar_one() == 18
