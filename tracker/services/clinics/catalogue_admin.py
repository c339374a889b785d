"""Editing a clinic's symptom catalogue, keeping every change (who, when, old and new values).

The rules read the catalogue from the database on every check-in and sweep, so a saved edit
takes effect from the next one on.

Each entry's patient-facing text (name, what to expect, advice) can also be given in each of
`TRANSLATED_LANGUAGES`; an empty translated field falls back to the English. Changing the English
text without the translation marks the translation outdated, and patients read the English until
an admin updates the translation or confirms that it still says the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...catalogue import ACTIONS, AREAS, EXPECTED, TRANSLATED_LANGUAGES, SymptomText
from ...extensions import db
from ...infrastructure.database import lock_for_update
from ...invalid import InvalidInput
from ...models import CatalogueChange, Symptom, SymptomTranslation, User
from ...timeutil import utcnow
from ..flags.flagging import judge_clinic_again
from ..governance import audit

NAME_MAX_CHARS = 120
TEXT_MAX_CHARS = 2000
MAX_EXPECTED_HOURS = 24 * 28
"""The follow-up window: an `expected` symptom lasting longer than this could never be overdue."""
TEXT_FIELDS = tuple(f.name for f in fields(SymptomText))
"""The fields of an entry that patients read, and that translations translate."""
WITH_TRANSLATIONS = selectinload(Symptom.translations)
"""Load the entries' translations with them: one more query for any number of entries."""
NO_TEXT = SymptomText("", "", "")
EDITED_FIELDS = (
    "name",
    "action",
    "expected_hours",
    "expected_text",
    "advice",
    "area",
    "spread_sign",
)
"""The entry's own columns an edit sets (translations are stored apart)."""


def translated_field(language: str, field: str) -> str:
    """The name of a translated field, in forms, refusals and the change history: "cy_advice"."""
    return f"{language}_{field}"


def outdated_field(language: str) -> str:
    """The name of a translation's outdated mark in the change history: "cy_outdated"."""
    return f"{language}_outdated"


@dataclass(frozen=True)
class SymptomEdit:
    """The editable fields of a catalogue entry, as submitted."""

    name: str
    action: str
    expected_hours: float | None
    expected_text: str
    advice: str
    translations: Mapping[str, SymptomText] | None = None
    """By language (all empty: no translation); None leaves the translations as they are."""
    confirmed: frozenset[str] = frozenset()
    """The languages whose translation the admin checked still says what the English says."""
    area: str | None = None
    """Where it is felt (catalogue.AREAS); None leaves it as it is."""
    spread_sign: bool | None = None
    """A sign the toxin may have spread (the batch watch counts it); None leaves it as it is."""

    @classmethod
    def of(cls, symptom: Symptom) -> SymptomEdit:
        """The entry's current values."""
        return cls(
            symptom.name,
            symptom.action,
            symptom.expected_hours,
            symptom.expected_text,
            symptom.advice,
            {language: stored_translation(symptom, language) for language in TRANSLATED_LANGUAGES},
            area=symptom.area,
            spread_sign=symptom.spread_sign,
        )

    def values(self) -> dict[str, str | float | None]:
        """Every field by the name the change history keeps it under."""
        values = {
            "name": self.name,
            "action": self.action,
            "expected_hours": self.expected_hours,
            "expected_text": self.expected_text,
            "advice": self.advice,
        }
        if self.area is not None:
            values["area"] = self.area
        if self.spread_sign is not None:
            values["spread_sign"] = self.spread_sign
        for language, text in (self.translations or {}).items():
            for field in TEXT_FIELDS:
                values[translated_field(language, field)] = getattr(text, field)
        return values


def stored_translation(symptom: Symptom, language: str) -> SymptomText:
    """The translation's fields as stored (empty where they fall back to English)."""
    row = symptom.translations.get(language)
    return NO_TEXT if row is None else SymptomText(row.name, row.expected_text, row.advice)


def outdated_translations(symptom: Symptom) -> list[str]:
    """The languages whose translation of the entry may no longer say what the English says."""
    return sorted(language for language, row in symptom.translations.items() if row.outdated)


def clinic_symptoms(clinic_id: int, with_translations: bool = True) -> list[Symptom]:
    """The clinic's catalogue in its display order, with its translations unless told not to
    (a page in English reads none of them)."""
    query = select(Symptom).where(Symptom.clinic_id == clinic_id)
    if with_translations:
        query = query.options(WITH_TRANSLATIONS)
    return list(db.session.scalars(query.order_by(Symptom.position, Symptom.id)))


def clinic_symptom(clinic_id: int, symptom_id: int) -> Symptom | None:
    """One entry of the clinic's catalogue, or None (also for another clinic's entry)."""
    return db.session.scalar(
        select(Symptom)
        .options(WITH_TRANSLATIONS)
        .where(Symptom.id == symptom_id, Symptom.clinic_id == clinic_id)
    )


def symptom_history(symptom: Symptom) -> list[CatalogueChange]:
    """Every saved change of one entry, newest first."""
    return list(
        db.session.scalars(
            select(CatalogueChange)
            .options(selectinload(CatalogueChange.changed_by))
            .where(CatalogueChange.symptom_id == symptom.id)
            .order_by(CatalogueChange.changed_at.desc(), CatalogueChange.id.desc())
        )
    )


def _clean_text(value: str | None) -> str:
    # Browsers send textarea line breaks as CRLF: normalise so an unchanged text stays unchanged.
    return (value or "").replace("\r\n", "\n").strip()


def _clean(text: SymptomText) -> SymptomText:
    return SymptomText(*(_clean_text(getattr(text, field)) for field in TEXT_FIELDS))


def normalise(edit: SymptomEdit) -> SymptomEdit:
    """Trim the texts and clear the expected duration of symptoms that are not `expected`."""
    translations = edit.translations
    return SymptomEdit(
        name=_clean_text(edit.name),
        action=edit.action,
        expected_hours=edit.expected_hours if edit.action == EXPECTED else None,
        expected_text=_clean_text(edit.expected_text),
        advice=_clean_text(edit.advice),
        translations=(
            None if translations is None else {k: _clean(t) for k, t in translations.items()}
        ),
        confirmed=edit.confirmed,
        area=edit.area,
        spread_sign=None if edit.spread_sign is None else bool(edit.spread_sign),
    )


def _length_problems(text: SymptomText, language: str | None = None) -> dict[str, str]:
    limits = {"name": NAME_MAX_CHARS, "expected_text": TEXT_MAX_CHARS, "advice": TEXT_MAX_CHARS}
    return {
        (field if language is None else translated_field(language, field)): (
            f"Keep this to {limit:,} characters or fewer."
        )
        for field, limit in limits.items()
        if len(getattr(text, field)) > limit
    }


def problems(edit: SymptomEdit) -> dict[str, str]:
    """What is wrong with a normalised edit, by field (empty when it can be saved)."""
    errors = _length_problems(SymptomText(edit.name, edit.expected_text, edit.advice))
    if not edit.name:
        errors["name"] = "Give the symptom a name."
    elif len(edit.name) > NAME_MAX_CHARS:
        errors["name"] = f"Keep the name to {NAME_MAX_CHARS} characters or fewer."
    if edit.area is not None and edit.area not in AREAS:
        errors["area"] = f"Choose one of: {', '.join(AREAS)}."
    if edit.action not in ACTIONS:
        errors["action"] = f"Choose one of: {', '.join(ACTIONS)}."
    elif edit.action == EXPECTED:
        hours = edit.expected_hours
        if hours is None:
            errors["expected_hours"] = "An expected symptom needs its expected duration in hours."
        elif not 0 < hours <= MAX_EXPECTED_HOURS:  # also refuses NaN
            errors["expected_hours"] = (
                f"Give a number of hours above 0 and at most {MAX_EXPECTED_HOURS} (28 days)."
            )
    for language, text in (edit.translations or {}).items():
        if language not in TRANSLATED_LANGUAGES:
            known = ", ".join(TRANSLATED_LANGUAGES)
            errors["translations"] = f"Translations are in one of: {known}."
            continue
        errors |= _length_problems(text, language)
    return errors


def update_symptom(
    symptom: Symptom,
    edit: SymptomEdit,
    *,
    actor: User,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> CatalogueChange | None:
    """Apply an edit, keeping the change and an audit row; None when nothing changed.

    Raises `InvalidInput` before changing anything. The caller commits.
    """
    edit = normalise(edit)
    errors = problems(edit)
    if errors:
        raise InvalidInput(errors)
    # Two admins saving at once: the second sees the first's edit, so the history stays true.
    lock_for_update(Symptom, symptom.id)
    db.session.refresh(symptom)
    current = SymptomEdit.of(symptom)
    if edit.translations is None:
        edit = replace(edit, translations=current.translations)
    if edit.area is None:
        edit = replace(edit, area=current.area)
    if edit.spread_sign is None:
        edit = replace(edit, spread_sign=current.spread_sign)
    before, after = current.values(), edit.values()
    changes = {f: [before[f], after[f]] for f in after if before[f] != after[f]}
    changes |= _outdated_changes(symptom, edit, changes)
    if not changes:
        return None
    now = now or utcnow()
    for field in EDITED_FIELDS:
        setattr(symptom, field, after[field])
    if {"action", "expected_hours"} & changes.keys():
        judge_clinic_again(symptom.clinic_id, now)  # the rules it feeds find otherwise now
    for language, text in (edit.translations or {}).items():
        _store_translation(symptom, language, text, changes, now)
    symptom.updated_at = now
    change = CatalogueChange(
        clinic_id=symptom.clinic_id,
        symptom_id=symptom.id,
        changed_by_id=actor.id,
        changed_at=now,
        changes=changes,
    )
    db.session.add(change)
    audit.record(
        "catalogue.update",
        actor_type="user",
        actor_id=actor.id,
        clinic_id=symptom.clinic_id,
        target=f"symptom:{symptom.id}",
        ip_address=ip_address,
        now=now,
    )
    db.session.flush()
    return change


def _outdated_changes(symptom: Symptom, edit: SymptomEdit, changes: dict) -> dict[str, list]:
    """How the edit changes each translation's outdated mark: set when the English text changes
    and the translation does not, cleared when the translation is saved or confirmed."""
    english_changed = any(field in changes for field in TEXT_FIELDS)
    marks = {}
    for language, text in (edit.translations or {}).items():
        row = symptom.translations.get(language)
        was = row is not None and row.outdated
        translated = any(translated_field(language, field) in changes for field in TEXT_FIELDS)
        if text == NO_TEXT or translated or language in edit.confirmed:
            now_outdated = False
        else:
            now_outdated = was or english_changed
        if row is not None and now_outdated != was:
            marks[outdated_field(language)] = [was, now_outdated]
    return marks


def _store_translation(
    symptom: Symptom, language: str, text: SymptomText, changes: dict, now: datetime
) -> None:
    """Save one translation as edited: removed when all its fields are empty."""
    keys = [translated_field(language, field) for field in TEXT_FIELDS]
    key = outdated_field(language)
    if not any(k in changes for k in [*keys, key]):
        return
    if text == NO_TEXT:
        symptom.translations.pop(language, None)
        return
    row = symptom.translations.get(language)
    if row is None:
        row = symptom.translations[language] = SymptomTranslation(language=language)
    row.name, row.expected_text, row.advice = text.name, text.expected_text, text.advice
    if key in changes:
        row.outdated = changes[key][1]
    row.updated_at = now
