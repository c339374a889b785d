"""Editing a clinic's symptom catalogue, keeping every change (who, when, old and new values).

The rules read the catalogue from the database on every check-in and sweep, so a saved edit
takes effect from the next one on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...catalogue import ACTIONS, EXPECTED
from ...extensions import db
from ...infrastructure.database import lock_for_update
from ...invalid import InvalidInput
from ...models import CatalogueChange, Symptom, User
from ...timeutil import utcnow
from ..governance import audit

NAME_MAX_CHARS = 120
TEXT_MAX_CHARS = 2000
MAX_EXPECTED_HOURS = 24 * 28
"""The follow-up window: an `expected` symptom lasting longer than this could never be overdue."""


@dataclass(frozen=True)
class SymptomEdit:
    """The editable fields of a catalogue entry, as submitted."""

    name: str
    action: str
    expected_hours: float | None
    expected_text: str
    advice: str

    @classmethod
    def of(cls, symptom: Symptom) -> SymptomEdit:
        """The entry's current values."""
        return cls(
            symptom.name,
            symptom.action,
            symptom.expected_hours,
            symptom.expected_text,
            symptom.advice,
        )


def clinic_symptoms(clinic_id: int) -> list[Symptom]:
    """The clinic's catalogue in its display order."""
    return list(
        db.session.scalars(
            select(Symptom)
            .where(Symptom.clinic_id == clinic_id)
            .order_by(Symptom.position, Symptom.id)
        )
    )


def clinic_symptom(clinic_id: int, symptom_id: int) -> Symptom | None:
    """One entry of the clinic's catalogue, or None (also for another clinic's entry)."""
    return db.session.scalar(
        select(Symptom).where(Symptom.id == symptom_id, Symptom.clinic_id == clinic_id)
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


def normalise(edit: SymptomEdit) -> SymptomEdit:
    """Trim the texts and clear the expected duration of symptoms that are not `expected`."""
    return SymptomEdit(
        name=_clean_text(edit.name),
        action=edit.action,
        expected_hours=edit.expected_hours if edit.action == EXPECTED else None,
        expected_text=_clean_text(edit.expected_text),
        advice=_clean_text(edit.advice),
    )


def problems(edit: SymptomEdit) -> dict[str, str]:
    """What is wrong with a normalised edit, by field (empty when it can be saved)."""
    errors: dict[str, str] = {}
    if not edit.name:
        errors["name"] = "Give the symptom a name."
    elif len(edit.name) > NAME_MAX_CHARS:
        errors["name"] = f"Keep the name to {NAME_MAX_CHARS} characters or fewer."
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
    for field in ("expected_text", "advice"):
        if len(getattr(edit, field)) > TEXT_MAX_CHARS:
            errors[field] = f"Keep this to {TEXT_MAX_CHARS:,} characters or fewer."
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
    before, after = asdict(SymptomEdit.of(symptom)), asdict(edit)
    changes = {f: [before[f], after[f]] for f in after if before[f] != after[f]}
    if not changes:
        return None
    now = now or utcnow()
    for field, (_old, new) in changes.items():
        setattr(symptom, field, new)
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
