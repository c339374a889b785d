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

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased

from ...extensions import db
from ...models import Treatment
from ...models.types import UTCDateTime


def superseded_at() -> ColumnElement[datetime | None]:
    """SQL, per treatment row: when it gave way to the patient's next treatment; NULL if none.

    A correlated subquery, served by the index on `treatments.patient_id`.
    """
    later = aliased(Treatment)
    return (
        select(func.min(later.treated_at))
        .where(
            later.patient_id == Treatment.patient_id,
            or_(
                later.treated_at > Treatment.treated_at,
                and_(later.treated_at == Treatment.treated_at, later.id > Treatment.id),
            ),
        )
        .correlate(Treatment)
        .scalar_subquery()
    )


def is_followed_up(at: datetime) -> ColumnElement[bool]:
    """SQL, per treatment row: it is the one its patient is followed up on at `at`."""
    until = superseded_at()
    return and_(Treatment.treated_at <= at, or_(until.is_(None), until > at))


def _followed_up_statement() -> Select[tuple[Treatment]]:
    """`followed_up_treatment`'s query, with the patient and the time as parameters."""
    at = bindparam("at", type_=UTCDateTime())
    return select(Treatment).where(
        Treatment.patient_id == bindparam("patient_id"), is_followed_up(at)
    )


FOLLOWED_UP = _followed_up_statement()
"""Built once: every patient page asks for it, and building the subquery costs more than
running it."""


def followed_up_treatment(patient_id: int, at: datetime) -> Treatment | None:
    """The patient's treatment being followed up at `at`, or None before their first one."""
    return db.session.scalar(FOLLOWED_UP, {"patient_id": patient_id, "at": at})
