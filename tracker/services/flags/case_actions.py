"""What clinicians do to a whole case: assign it, add a note, resolve every flag at once.

A refused action raises `CaseConflict` with a sentence for the clinician and changes nothing
(the caller rolls back). The treatment's row is locked first, so two clinicians acting on one
case at once are served one after the other. The caller audits and commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import select

from ...extensions import db
from ...infrastructure.database import lock_for_update
from ...invalid import InvalidInput
from ...models import CLINICIAN_OUTCOMES, REASON_LABELS, Flag, FlagNote, Treatment, User
from ...timeutil import local_date, utcnow
from . import flag_actions, regulator_report
from .queue import ACTIVE, URGENCY

REPORTED_TO_REGULATOR = "reported_to_regulator"


class CaseConflict(RuntimeError):
    """The case is not in a state that allows the action; the message says why."""


def active_flags(treatment: Treatment) -> list[Flag]:
    """The case's open and acknowledged flags, most urgent first."""
    return list(
        db.session.scalars(
            select(Flag)
            .where(Flag.treatment_id == treatment.id, Flag.status.in_(ACTIVE))
            .order_by(URGENCY, Flag.opened_at, Flag.id)
        )
    )


def _locked(treatment: Treatment) -> None:
    lock_for_update(Treatment, treatment.id)
    db.session.refresh(treatment)


def assign(treatment: Treatment, assignee_id: int | None) -> User | None:
    """Give the case to `assignee_id` (an active clinician of the treatment's clinic), or to
    nobody with None; returns the assignee."""
    _locked(treatment)
    if assignee_id is None:
        treatment.assigned_to_id = None
        db.session.flush()
        return None
    assignee = db.session.get(User, assignee_id)
    if assignee is None or assignee.clinic_id != treatment.clinic_id:
        raise CaseConflict("A case can only be assigned to a member of this clinic's staff.")
    if not assignee.is_active:
        raise CaseConflict(
            f"{assignee.name}'s account is deactivated: assign the case to someone still working "
            "here."
        )
    if not active_flags(treatment):
        raise CaseConflict("This case has no open flags left: there is nothing to assign.")
    treatment.assigned_to_id = assignee.id
    db.session.flush()
    return assignee


def add_note(treatment: Treatment, author: User, body: str) -> FlagNote:
    """A note on the case, kept on its most urgent active flag (or its latest flag)."""
    flags = active_flags(treatment) or list(
        db.session.scalars(
            select(Flag).where(Flag.treatment_id == treatment.id).order_by(Flag.id.desc())
        )
    )
    if not flags:
        raise CaseConflict("This treatment has no flags to keep a note on.")
    return flag_actions.add_note(flags[0], author, body)


def _flag_words(flag: Flag) -> str:
    what = flag.symptom.name if flag.symptom else "no check-in"
    return f"{REASON_LABELS[flag.reason]} ({what})"


def _changes(shown_ids: Collection[int], active: list[Flag], treatment: Treatment) -> str:
    """What differs between the flags the clinician saw and the case's active flags now."""
    active_ids = {f.id for f in active}
    raised = [f for f in active if f.id not in shown_ids]
    gone = list(
        db.session.scalars(
            select(Flag)
            .where(Flag.treatment_id == treatment.id, Flag.id.in_(set(shown_ids) - active_ids))
            .order_by(Flag.id)
        )
    )
    parts = [f"a new {_flag_words(f)} flag was raised" for f in raised]
    parts += [f"the {_flag_words(f)} flag was {f.status} meanwhile" for f in gone]
    return "; ".join(parts) or "its flags are not the ones shown"


def resolve_case(
    treatment: Treatment,
    actor: User,
    outcome: str,
    note: str | None,
    shown_flag_ids: Collection[int],
    *,
    reported_on: date | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> list[Flag]:
    """Resolve every active flag of the case with one outcome (the note kept once, on the most
    urgent), provided they are exactly the flags the clinician was shown.

    Resolved as reported to the regulator, the case's report keeps the date it was reported
    (`reported_on`, by default today in the clinic's timezone; never in the future) and the
    regulator's `reference` (required): refused, resolving nothing, without them."""
    if outcome not in CLINICIAN_OUTCOMES:
        raise InvalidInput({"outcome": "Choose one of the outcomes in the list."})
    now = now or utcnow()
    if outcome == REPORTED_TO_REGULATOR:
        tz = treatment.patient.clinic.timezone
        today, given_on = local_date(now, tz), local_date(treatment.treated_at, tz)
        if problems := regulator_report.reported_problems(reported_on, reference, today, given_on):
            raise InvalidInput(problems)
        reported_on = reported_on or today
    _locked(treatment)
    active = active_flags(treatment)
    if not active:
        raise CaseConflict("This case has no open flags left: it was resolved meanwhile.")
    if {f.id for f in active} != set(shown_flag_ids):
        raise CaseConflict(
            "This case changed while you were looking: "
            f"{_changes(shown_flag_ids, active, treatment)}. Check the flags below, then resolve."
        )
    for position, flag in enumerate(active):
        try:
            flag_actions.resolve(flag, actor, outcome, note if position == 0 else None, now=now)
        except flag_actions.FlagConflict as conflict:
            raise CaseConflict(f"This case changed while you were looking: {conflict}") from None
    if outcome == REPORTED_TO_REGULATOR:
        regulator_report.record_reported(treatment, actor, reported_on, reference or "", now)
    return active
