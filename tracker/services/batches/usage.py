"""Which batches a clinic used lately, with their figures.

A batch is one (product_key, batch_key) however it was typed (tracker/batches.py); it is shown
as the clinic's latest treatment spelt it. The list is read in two grouped statements whatever
the number of batches (ix_treatments_clinic_treated finds the look-back's treatments).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select

from ...batch_rules import SERIOUS_REASONS
from ...catalogue import DEFAULT_BATCH_WATCH, BatchWatchPolicy
from ...extensions import db
from ...models import Flag, Treatment
from ...rules import Reason
from ...timeutil import utcnow


@dataclass(frozen=True)
class BatchUsage:
    """One batch's figures over the look-back: its treatments and the patients with flags.

    `serious_rate` is treatments with at least one urgent or severe flag (of any status) per
    treatment, the measure the batch watch's excess rule tests."""

    product_key: str
    batch_key: str
    product: str
    batch_number: str
    treatments: int
    patients: int
    urgent_patients: int
    severe_patients: int
    review_patients: int
    serious_treatments: int
    last_used_at: datetime

    @property
    def serious_rate(self) -> float:
        return self.serious_treatments / self.treatments if self.treatments else 0.0


def _flag_marks(treatments):
    """Per treatment of `treatments` (a select of ids) with flags: whether any is urgent,
    severe or for review (the flags read by their treatment, not every flag of the clinic)."""

    def has(*reasons: str):
        return func.max(case((Flag.reason.in_(reasons), 1), else_=0))

    return (
        select(
            Flag.treatment_id,
            has(Reason.URGENT).label("urgent"),
            has(Reason.SEVERE).label("severe"),
            has(Reason.REVIEW).label("review"),
            has(*SERIOUS_REASONS).label("serious"),
        )
        .where(Flag.treatment_id.in_(treatments))
        .group_by(Flag.treatment_id)
        .subquery()
    )


def batch_usage(
    clinic_id: int,
    now: datetime | None = None,
    policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH,
    only: tuple[str, str] | None = None,
) -> list[BatchUsage]:
    """Every batch the clinic treated from in the policy's look-back before `now` (or the
    one batch `only` names by its keys), the most recently used first: two statements (the
    figures, the latest spelling of each)."""
    now = now or utcnow()
    in_window = and_(
        Treatment.clinic_id == clinic_id,
        Treatment.treated_at >= now - policy.lookback,
        Treatment.treated_at <= now,
        *(
            (Treatment.product_key == only[0], Treatment.batch_key == only[1])
            if only is not None
            else ()
        ),
    )
    marks = _flag_marks(select(Treatment.id).where(in_window))

    def patients_with(mark):
        return func.count(func.distinct(case((mark == 1, Treatment.patient_id))))

    figures = db.session.execute(
        select(
            Treatment.product_key,
            Treatment.batch_key,
            func.count(Treatment.id),
            func.count(func.distinct(Treatment.patient_id)),
            patients_with(marks.c.urgent),
            patients_with(marks.c.severe),
            patients_with(marks.c.review),
            func.coalesce(func.sum(marks.c.serious), 0),
            func.max(Treatment.treated_at),
        )
        .outerjoin(marks, marks.c.treatment_id == Treatment.id)
        .where(in_window)
        .group_by(Treatment.product_key, Treatment.batch_key)
    ).all()
    newest = (
        select(
            Treatment.product_key,
            Treatment.batch_key,
            Treatment.product,
            Treatment.batch_number,
            func.row_number()
            .over(
                partition_by=(Treatment.product_key, Treatment.batch_key),
                order_by=(Treatment.treated_at.desc(), Treatment.id.desc()),
            )
            .label("place"),
        )
        .where(in_window)
        .subquery()
    )
    spelling = {
        (row.product_key, row.batch_key): (row.product, row.batch_number)
        for row in db.session.execute(select(newest).where(newest.c.place == 1))
    }
    found = [
        BatchUsage(
            product_key,
            batch_key,
            *spelling[(product_key, batch_key)],
            treatments,
            patients,
            urgent,
            severe,
            review,
            int(serious),
            last,
        )
        for product_key, batch_key, treatments, patients, urgent, severe, review, serious, last in (
            figures
        )
    ]
    return sorted(found, key=lambda b: (b.last_used_at, b.product_key, b.batch_key), reverse=True)
