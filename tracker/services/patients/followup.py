"""The treatment being followed up: a patient's latest treatment up to a given time.

One definition for every part of the product (product.md, "Repeat treatments"). A treatment is
followed up from its `treated_at` until it is superseded: until the `treated_at` of the same
patient's next treatment (ordered by time, then id, so two treatments at the same moment still
have one successor). Check-ins, reminders and the sweep all read it from `superseded_at`, in one
patient's form (`followed_up_treatment`) or set-based for the jobs (`is_followed_up`), so they
cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import aliased

from ...extensions import db
from ...models import Treatment


def superseded_at(treatment: Any = Treatment) -> ColumnElement[datetime | None]:
    """SQL: when `treatment` (the model or an alias of it) gave way to the patient's next one.

    NULL while it is the patient's latest. A correlated subquery, served by the index on
    `treatments.patient_id`.
    """
    later = aliased(Treatment)
    return (
        select(func.min(later.treated_at))
        .where(
            later.patient_id == treatment.patient_id,
            or_(
                later.treated_at > treatment.treated_at,
                and_(later.treated_at == treatment.treated_at, later.id > treatment.id),
            ),
        )
        .correlate(treatment)
        .scalar_subquery()
    )


def is_followed_up(at: datetime, treatment: Any = Treatment) -> ColumnElement[bool]:
    """SQL: `treatment` is the one its patient is followed up on at `at`."""
    until = superseded_at(treatment)
    return and_(treatment.treated_at <= at, or_(until.is_(None), until > at))


def followed_up_treatment(patient_id: int, at: datetime) -> Treatment | None:
    """The patient's treatment being followed up at `at`, or None before their first one."""
    return db.session.scalar(
        select(Treatment).where(Treatment.patient_id == patient_id, is_followed_up(at))
    )
