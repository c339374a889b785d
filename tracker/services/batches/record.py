"""One batch at one clinic: its treatments (any date), their cases, its quarantines and its
signals, in a fixed number of statements however many treatments it has."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...models import NOTICE, BatchQuarantine, BatchSignal, Flag, Treatment
from .usage import BatchUsage, batch_usage


@dataclass
class BatchRecord:
    """What the batch page and the API's batch show; `product`/`batch_number` as the latest
    treatment spelt them."""

    product_key: str
    batch_key: str
    treatments: list[Treatment]
    """The clinic's treatments from the batch, the newest first."""
    flags: list[Flag]
    """The flags of those treatments (the cases), the newest first."""
    quarantines: list[BatchQuarantine]
    """The clinic's quarantines of the batch, the latest first (at most one in force)."""
    signals: list[BatchSignal]
    """The clinic's signals of the batch: the open ones first, then the closed, newest first."""
    usage: BatchUsage | None
    """The Batches page's figures of it over the look-back (None: not used in it)."""
    by_id: dict[int, Treatment] = field(init=False)
    """The treatments by id."""

    def __post_init__(self) -> None:
        self.by_id = {t.id: t for t in self.treatments}

    @property
    def product(self) -> str:
        return self.treatments[0].product

    @property
    def batch_number(self) -> str:
        return self.treatments[0].batch_number

    @property
    def quarantine(self) -> BatchQuarantine | None:
        """The quarantine in force, if any."""
        return next((q for q in self.quarantines if q.lifted_at is None), None)

    def signal_cases(self, signal: BatchSignal) -> list[int]:
        """The treatments behind `signal` that are this clinic's (a notice names none)."""
        if signal.kind == NOTICE:
            return []
        return [i for i in signal.treatment_ids or [] if i in self.by_id]


def _of_batch(model, clinic_id: int, product_key: str, batch_key: str):
    return and_(
        model.clinic_id == clinic_id, model.product_key == product_key, model.batch_key == batch_key
    )


def batch_record(clinic_id: int, product_key: str, batch_key: str) -> BatchRecord | None:
    """The clinic's record of the batch, or None when the clinic never treated from it."""
    treatments = list(
        db.session.scalars(
            select(Treatment)
            .where(_of_batch(Treatment, clinic_id, product_key, batch_key))
            .options(selectinload(Treatment.patient), selectinload(Treatment.practitioner))
            .order_by(Treatment.treated_at.desc(), Treatment.id.desc())
        )
    )
    if not treatments:
        return None
    flags = db.session.scalars(
        select(Flag)
        .join(Treatment, Treatment.id == Flag.treatment_id)
        .where(_of_batch(Treatment, clinic_id, product_key, batch_key))
        .options(selectinload(Flag.symptom))
        .order_by(Flag.opened_at.desc(), Flag.id.desc())
    )
    quarantines = db.session.scalars(
        select(BatchQuarantine)
        .where(_of_batch(BatchQuarantine, clinic_id, product_key, batch_key))
        .options(
            selectinload(BatchQuarantine.quarantined_by), selectinload(BatchQuarantine.lifted_by)
        )
        .order_by(BatchQuarantine.quarantined_at.desc(), BatchQuarantine.id.desc())
    )
    signals = db.session.scalars(
        select(BatchSignal)
        .where(_of_batch(BatchSignal, clinic_id, product_key, batch_key))
        .options(selectinload(BatchSignal.closed_by))
        .order_by(
            BatchSignal.closed_at.is_not(None), BatchSignal.opened_at.desc(), BatchSignal.id.desc()
        )
    )
    usage = batch_usage(clinic_id, only=(product_key, batch_key))
    return BatchRecord(
        product_key,
        batch_key,
        treatments,
        list(flags),
        list(quarantines),
        list(signals),
        usage[0] if usage else None,
    )
