"""Batch signals as staff see and close them (the sweep's rules raise them).

An admin closes an open signal with an outcome (`SIGNAL_OUTCOMES`) and an optional note; a
closed signal stays closed (the sweep raises a new one for new cases)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from ...extensions import db
from ...invalid import InvalidInput
from ...models import SIGNAL_OUTCOMES, BatchSignal, User
from ...timeutil import utcnow
from . import quarantine
from .reasons import optional_note

QUARANTINED = "quarantined"
"""The outcome that says the batch is quarantined: true only while a quarantine is in force."""


class SignalConflict(Exception):
    """The signal is closed already: nothing was changed."""


def open_signals(clinic_id: int) -> list[BatchSignal]:
    """The clinic's open signals, the newest first (one statement)."""
    return list(
        db.session.scalars(
            select(BatchSignal)
            .where(BatchSignal.clinic_id == clinic_id, BatchSignal.closed_at.is_(None))
            .order_by(BatchSignal.opened_at.desc(), BatchSignal.id.desc())
        )
    )


def clinic_signal(clinic_id: int, signal_id: int) -> BatchSignal | None:
    """A signal of the clinic, or None (another clinic's is as good as unknown)."""
    return db.session.scalar(
        select(BatchSignal).where(BatchSignal.id == signal_id, BatchSignal.clinic_id == clinic_id)
    )


def close_signal(
    signal: BatchSignal,
    admin: User,
    outcome: str | None,
    note: str | None = None,
    now: datetime | None = None,
) -> BatchSignal:
    """Close the open `signal` with `outcome` and `note` (flush only). Raises `InvalidInput`
    for an unknown outcome, "quarantined" while the batch is not, or a too long note;
    `SignalConflict` when it is closed already (compared and set in one statement, so two
    admins cannot both close it)."""
    if outcome not in SIGNAL_OUTCOMES:
        choices = ", ".join(SIGNAL_OUTCOMES)
        raise InvalidInput.on("outcome", f"Choose an outcome: one of {choices}.")
    if outcome == QUARANTINED and not quarantine.in_force(
        signal.clinic_id, signal.product_key, signal.batch_key
    ):
        raise InvalidInput.on(
            "outcome", "The batch is not quarantined: quarantine it first, with a reason."
        )
    note = optional_note(note)
    closed = db.session.execute(
        update(BatchSignal)
        .where(BatchSignal.id == signal.id, BatchSignal.closed_at.is_(None))
        .values(closed_at=now or utcnow(), closed_by_id=admin.id, outcome=outcome, close_note=note)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        raise SignalConflict("This signal was closed already.")
    db.session.refresh(signal)
    return signal
