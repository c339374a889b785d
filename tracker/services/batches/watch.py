"""The batch watch: raising batch signals from the clinics' treatments, run by the sweep job.

`watch_batches` reads what there is to find (`findings`: only batches with something to find,
in a few statements), then stores each signal in its own short write transaction (`_store`):
the clinic's signals of that kind and batch are read in it, `batch_rules.signal_change`
decides, and the one-open-signal index refuses a duplicate opened meanwhile by another sweep
(insert-or-ignore, then nothing more is done), so running it twice, or two at once, raises
nothing twice. A spread signal is told to its clinic at once, in the transaction that opens it
(`notices.queue_spread_alert`), and again each time it gains a patient (a new treatment of a
patient already in it is no news); an excess waits for the morning digest.

Then, on every pass, each open spread or excess signal is told to the other clinics that used
its batch in the lookback and were not told of it yet (`notices.notify_other_clinics`, in its
own write transaction): one statement finds the open signals, and each needs two indexed reads
when there is nothing to tell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from ... import batch_rules
from ...catalogue import DEFAULT_BATCH_WATCH, BatchWatchPolicy
from ...extensions import db
from ...infrastructure.database import begin_write, insert_ignoring_conflicts
from ...models import EXCESS, SPREAD, BatchSignal
from ...timeutil import utcnow
from ..flags import flagging
from . import findings, notices
from .findings import Found


@dataclass
class WatchResult:
    """What one watch pass did."""

    batches: int = 0
    opened: list[int] = field(default_factory=list)
    grown: int = 0
    alerts: int = 0
    notices: int = 0

    def summary(self) -> str:
        return (
            f"watched {self.batches} batches, opened {len(self.opened)} batch signals "
            f"({self.grown} grown, {self.notices} notices, {self.alerts} emails)"
        )


# --- storing ------------------------------------------------------------------------------------


def _change(found: Found):
    """The clinic's open signal of what was found (or None), and what the rules make of it."""
    clinic_id, product_key, batch_key = found.key
    rows = db.session.execute(
        select(
            BatchSignal.id, BatchSignal.closed_at, BatchSignal.treatment_ids, BatchSignal.figures
        ).where(
            BatchSignal.clinic_id == clinic_id,
            BatchSignal.kind == found.kind,
            BatchSignal.product_key == product_key,
            BatchSignal.batch_key == batch_key,
        )
    ).all()
    open_row = next((r for r in rows if r.closed_at is None), None)
    closed_ids = {i for r in rows if r.closed_at is not None for i in r.treatment_ids or ()}
    change = batch_rules.signal_change(
        found.treatment_ids, None if open_row is None else open_row.treatment_ids, closed_ids
    )
    return open_row, change


def _store(found: Found, now: datetime, policy: BatchWatchPolicy, result: WatchResult) -> None:
    """Open, grow or leave the signal of what was found, in the caller's write transaction."""
    clinic_id, product_key, batch_key = found.key
    open_row, change = _change(found)
    if change.is_nothing:
        return
    if not change.opens:
        db.session.execute(
            update(BatchSignal)
            .where(BatchSignal.id == open_row.id)
            .values(
                treatment_ids=batch_rules.sorted_ids(
                    [*open_row.treatment_ids, *found.treatment_ids]
                ),
                figures=found.figures,
            )
            .execution_options(synchronize_session=False)
        )
        result.grown += 1
        if found.kind == SPREAD and found.figures["patients"] > open_row.figures["patients"]:
            signal = db.session.get(BatchSignal, open_row.id, populate_existing=True)
            result.alerts += notices.queue_spread_alert(signal, now, grown=True)
        return
    signal_id = db.session.execute(
        insert_ignoring_conflicts(BatchSignal)
        .values(
            clinic_id=clinic_id,
            kind=found.kind,
            product_key=product_key,
            batch_key=batch_key,
            product=found.product,
            batch_number=found.batch_number,
            treatment_ids=batch_rules.sorted_ids(change.treatment_ids),
            figures=found.figures,
            opened_at=now,
        )
        .returning(BatchSignal.id)
    ).scalar()
    if signal_id is None:  # another sweep opened it meanwhile, and tells of it
        return
    signal = db.session.get(BatchSignal, signal_id)
    result.opened.append(signal_id)
    if signal.kind == SPREAD:
        result.alerts += notices.queue_spread_alert(signal, now)


def _tell_other_clinics(now: datetime, policy: BatchWatchPolicy, result: WatchResult) -> None:
    """Tell the other clinics of every open spread or excess signal, each in its own write
    transaction (see the module's docstring); a signal whose batch no other clinic used takes
    no write lock (the usual case, every pass, while a signal stays open)."""
    open_signals = list(
        db.session.scalars(
            select(BatchSignal)
            .where(BatchSignal.closed_at.is_(None), BatchSignal.kind.in_((SPREAD, EXCESS)))
            .order_by(BatchSignal.id)
        )
    )
    for signal in open_signals:  # as read: the commits below do not read them again
        db.session.expunge(signal)
    db.session.commit()
    for signal in open_signals:
        clinic_ids = notices.clinics_to_tell(signal, now, policy)
        db.session.commit()  # the read's transaction ends: a write begins with the lock
        if not clinic_ids:
            continue
        begin_write()
        told = notices.notify_other_clinics(signal, now, policy, clinic_ids)
        result.notices += told.notices
        result.alerts += told.emails
        db.session.commit()


def watch_batches(
    now: datetime | None = None, policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH
) -> WatchResult:
    """Raise the batch signals the clinics' treatments in the lookback make, as of `now`;
    each stored and committed in its own write transaction (see the module's docstring)."""
    now = now or utcnow()
    since = now - policy.lookback
    result = WatchResult()
    db.session.commit()  # what came before is done; the reads below take no write lock
    spread = findings.spread_candidates(since)
    excess = findings.excess_candidates(since, policy)
    result.batches = len(set(spread) | set(excess))
    found = [f for key in spread if (f := findings.find_spread(key, since, policy))]
    found += findings.find_excesses(excess, since, policy)
    changing = [one for one in found if not _change(one)[1].is_nothing]
    db.session.commit()
    for one in changing:  # judged again under the lock: another sweep may have stored it
        begin_write()
        _store(one, now, policy, result)
        db.session.commit()
    _tell_other_clinics(now, policy, result)
    return result


@dataclass
class SweepRun:
    """What the sweep job did: the flag sweep, then the batch watch."""

    flags: flagging.SweepResult
    watch: WatchResult

    def summary(self) -> str:
        line = self.flags.summary()
        if self.watch.opened or self.watch.grown or self.watch.notices:
            line += f"; {self.watch.summary()}"
        return line


def sweep_and_watch(now: datetime | None = None) -> SweepRun:
    """The sweep job (the scheduler's and `tracker sweep`): the flags that need time to pass,
    then the batch signals; each commits as it goes."""
    now = now or utcnow()
    flags = flagging.sweep(now)
    db.session.commit()
    return SweepRun(flags, watch_batches(now))
