"""What clinicians do to a flag: acknowledge it, add a note, resolve it with an outcome.

Each action records who did it and when. Status changes are compare-and-set updates, so two
clinicians pressing the same button at once change the flag once and the second is told.
The caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from ...extensions import db
from ...infrastructure.database import begin_write
from ...invalid import InvalidInput
from ...models import (
    ACKNOWLEDGED,
    CLINICIAN_OUTCOMES,
    OPEN,
    RESOLVED,
    Flag,
    FlagNote,
    Treatment,
    User,
)
from ...rules import Reason
from ...timeutil import utcnow
from ..governance import audit
from .flagging import refresh_followup_state

NOTE_MAX_CHARS = 2000


class FlagConflict(RuntimeError):
    """The flag is not in a state that allows the action (e.g. it is already resolved)."""


def _clean_note(text: str | None, *, required: bool) -> str | None:
    """The note trimmed, or None when empty and optional; raises `InvalidInput`."""
    text = (text or "").strip()
    if not text:
        if required:
            raise InvalidInput({"note": "Write the note before saving it."})
        return None
    if len(text) > NOTE_MAX_CHARS:
        raise InvalidInput({"note": f"Keep the note to {NOTE_MAX_CHARS:,} characters or fewer."})
    return text


def _change_status(flag: Flag, allowed_from: tuple[str, ...], values: dict) -> None:
    """Compare-and-set the flag's row, or raise `FlagConflict` if someone changed it first."""
    begin_write()
    result = db.session.execute(
        update(Flag)
        .where(Flag.id == flag.id, Flag.status.in_(allowed_from))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(flag)
    if result.rowcount != 1:
        raise FlagConflict(f"This flag is already {flag.status}.")


def acknowledge(flag: Flag, actor: User, *, now: datetime | None = None) -> None:
    """Mark an open flag as being looked at by `actor`; any other status is a conflict."""
    now = now or utcnow()
    _change_status(
        flag,
        (OPEN,),
        {"status": ACKNOWLEDGED, "acknowledged_at": now, "acknowledged_by_id": actor.id},
    )


def add_note(flag: Flag, author: User, body: str, *, now: datetime | None = None) -> FlagNote:
    """Add `author`'s note (1 to 2,000 characters) to the flag, whatever its status."""
    text = _clean_note(body, required=True)
    assert text is not None
    begin_write()
    note = FlagNote(flag_id=flag.id, author_id=author.id, body=text, created_at=now or utcnow())
    db.session.add(note)
    db.session.flush()
    return note


def resolve(
    flag: Flag, actor: User, outcome: str, note: str | None = None, *, now: datetime | None = None
) -> None:
    """Close an open or acknowledged flag with one of `CLINICIAN_OUTCOMES` and an optional note."""
    if outcome not in CLINICIAN_OUTCOMES:
        raise InvalidInput({"outcome": "Choose one of the outcomes in the list."})
    text = _clean_note(note, required=False)
    now = now or utcnow()
    _change_status(
        flag,
        (OPEN, ACKNOWLEDGED),
        {"status": RESOLVED, "resolved_at": now, "resolved_by_id": actor.id, "outcome": outcome},
    )
    if text:
        add_note(flag, actor, text, now=now)
    end_assignment_if_resolved(flag.treatment_id)
    refresh_followup_state([flag.treatment_id], now)  # a finding it held back may be due now


def end_assignment_if_resolved(treatment_id: int) -> None:
    """Clear the case's assignment once none of its flags is open or acknowledged any more."""
    still_active = (
        select(Flag.id)
        .where(Flag.treatment_id == treatment_id, Flag.status.in_((OPEN, ACKNOWLEDGED)))
        .exists()
    )
    db.session.execute(
        update(Treatment)
        .where(Treatment.id == treatment_id, Treatment.assigned_to_id.is_not(None), ~still_active)
        .values(assigned_to_id=None)
        .execution_options(synchronize_session=False)
    )


PATIENT_CHECKED_IN = "patient_checked_in"


def close_silences(
    treatment_id: int, patient_id: int, reported_at: datetime, now: datetime
) -> list[Flag]:
    """Resolve, as the system, the treatment's no-response flags that a check-in just ended.

    A silence ends when the patient checks in after it began (a check-in entered late for
    an earlier time leaves it alone). Each closed flag gets a system audit row; the caller
    holds the treatment's lock and commits.
    """
    unresolved = select(Flag).where(
        Flag.treatment_id == treatment_id,
        Flag.reason == Reason.NO_RESPONSE,
        Flag.status.in_((OPEN, ACKNOWLEDGED)),
        Flag.episode_started_at <= reported_at,
    )
    closed = []
    values = {"status": RESOLVED, "resolved_at": now, "resolved_by_id": None}
    for flag in db.session.scalars(unresolved).all():
        try:
            _change_status(flag, (OPEN, ACKNOWLEDGED), {**values, "outcome": PATIENT_CHECKED_IN})
        except FlagConflict:
            continue  # a clinician resolved it at the same moment; their outcome stands
        audit.record(
            "flag.resolve",
            actor_type="system",
            actor_id=None,
            clinic_id=flag.clinic_id,
            patient_id=patient_id,
            target=f"flag:{flag.id}",
            now=now,
        )
        closed.append(flag)
    if closed:
        end_assignment_if_resolved(treatment_id)
    return closed
