"""Quarantining a batch at a clinic, and lifting it: treating from a quarantined batch asks
for a reason to go ahead (`tracker.services.patients.treatments`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import BatchQuarantine, User
from ...timeutil import utcnow
from .reasons import required_reason


class QuarantineConflict(Exception):
    """The batch is already quarantined (or, to lift, is not): nothing was changed."""


def in_force(clinic_id: int, product_key: str, batch_key: str) -> BatchQuarantine | None:
    """The clinic's quarantine of the batch in force, if any."""
    return db.session.scalar(
        select(BatchQuarantine).where(
            BatchQuarantine.clinic_id == clinic_id,
            BatchQuarantine.product_key == product_key,
            BatchQuarantine.batch_key == batch_key,
            BatchQuarantine.lifted_at.is_(None),
        )
    )


def keys_in_force(clinic_id: int) -> set[tuple[str, str]]:
    """(product_key, batch_key) of every batch quarantined at the clinic now (one statement)."""
    rows = db.session.execute(
        select(BatchQuarantine.product_key, BatchQuarantine.batch_key).where(
            BatchQuarantine.clinic_id == clinic_id, BatchQuarantine.lifted_at.is_(None)
        )
    )
    return {(product_key, batch_key) for product_key, batch_key in rows}


def quarantine_batch(
    clinic_id: int,
    product_key: str,
    batch_key: str,
    admin: User,
    reason: str | None,
    now: datetime | None = None,
) -> BatchQuarantine:
    """Quarantine the batch at the clinic with a reason (flush only). Raises `InvalidInput`
    for a missing or too long reason, `QuarantineConflict` if it is quarantined already (the
    unique index decides between two admins at once)."""
    reason = required_reason(reason, "reason")
    if in_force(clinic_id, product_key, batch_key) is not None:
        raise QuarantineConflict("This batch is quarantined already.")
    row = BatchQuarantine(
        clinic_id=clinic_id,
        product_key=product_key,
        batch_key=batch_key,
        reason=reason,
        quarantined_at=now or utcnow(),
        quarantined_by=admin,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        raise QuarantineConflict("This batch is quarantined already.") from None
    return row


def lift_quarantine(
    clinic_id: int, product_key: str, batch_key: str, admin: User, now: datetime | None = None
) -> BatchQuarantine:
    """Lift the batch's quarantine (kept, with who lifted it and when; flush only), or raise
    `QuarantineConflict` when none is in force."""
    row = in_force(clinic_id, product_key, batch_key)
    if row is None:
        raise QuarantineConflict("This batch is not quarantined.")
    row.lifted_at = now or utcnow()
    row.lifted_by = admin
    db.session.flush()
    return row
