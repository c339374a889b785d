"""The batch watch: raising batch signals from the clinics' treatments, run by the sweep job.

`watch_batches` looks only at batches with something to find, found for all clinics at once:
for a spread, batches with a spread-sign report in the lookback (a short range of
`ix_reports_symptom_time` per spread-sign entry); for an excess, batches whose treatments in the
lookback have urgent or severe flags from at least `excess_min_patients` patients (a range of
`ix_flags_reason_opened` per reason). Both indexes are migration 0017's. It reads
what the rules need (tracker/batch_rules.py) in a few statements, then stores each signal in
its own short write transaction (`_store`): the clinic's signals of that kind and batch are read
in it, `batch_rules.signal_change` decides, and the one-open-signal index refuses a duplicate
opened meanwhile by another sweep (insert-or-ignore, then nothing more is done), so running it
twice, or two at once, raises nothing twice. A signal that opens is told at once in the same
transaction: a spread to the clinic (`notices.queue_spread_alert`), and either kind to every
other clinic that used the batch (`notices.notify_other_clinics`); an excess waits for the
morning digest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, distinct, exists, func, select, update

from ... import batch_rules
from ...catalogue import DEFAULT_BATCH_WATCH, DEFAULT_SCHEDULE, BatchWatchPolicy
from ...extensions import db
from ...infrastructure.database import begin_write, insert_ignoring_conflicts
from ...models import (
    EXCESS,
    SPREAD,
    BatchSignal,
    Flag,
    Patient,
    Symptom,
    SymptomReport,
    Treatment,
)
from ...timeutil import utcnow
from ..flags import flagging
from . import notices

BatchKey = tuple[int, str, str]
"""(clinic id, product key, batch key): one batch at one clinic."""


@dataclass(frozen=True)
class Found:
    """What a rule found in one batch at one clinic: its cases and what it counted."""

    key: BatchKey
    kind: str
    product: str
    batch_number: str
    treatment_ids: frozenset[int]
    figures: dict


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


def serious_case():
    """SQL, correlated to `Treatment`: the treatment is a serious case (`batch_rules.is_serious`:
    a flag with one of `SERIOUS_REASONS`, in any status)."""
    return (
        exists()
        .where(
            Flag.treatment_id == Treatment.id,
            Flag.reason.in_(batch_rules.SERIOUS_REASONS),
        )
        .correlate(Treatment)
    )


def _followed(since: datetime):
    """Treatments in the lookback of patients not erased (no job judges an erased record)."""
    return and_(
        Treatment.treated_at >= since,
        ~exists().where(Patient.id == Treatment.patient_id, Patient.erased_at.is_not(None)),
    )


# --- spread -------------------------------------------------------------------------------------


def spread_candidates(since: datetime) -> list[BatchKey]:
    """The batches with a spread-sign report (severity >= 1) since `since` (two statements:
    the spread-sign entries, then their recent reports through `ix_reports_symptom_time`)."""
    signs = list(db.session.scalars(select(Symptom.id).where(Symptom.spread_sign.is_(True))))
    if not signs:
        return []
    rows = db.session.execute(
        select(Treatment.clinic_id, Treatment.product_key, Treatment.batch_key)
        .distinct()
        .join(SymptomReport, SymptomReport.treatment_id == Treatment.id)
        .where(
            SymptomReport.symptom_id.in_(signs),
            SymptomReport.reported_at >= since,
            SymptomReport.severity >= 1,
            _followed(since),
        )
    )
    return sorted(tuple(row) for row in rows)


def find_spread(key: BatchKey, since: datetime, policy: BatchWatchPolicy) -> Found | None:
    """The spread cluster of one batch (`batch_rules.spread_cluster`), or None (one statement):
    its treatments in the lookback whose patient reported a spread sign within its follow-up."""
    clinic_id, product_key, batch_key = key
    rows = db.session.execute(
        select(
            Treatment.id,
            Treatment.patient_id,
            Treatment.treated_at,
            Treatment.product,
            Treatment.batch_number,
            SymptomReport.reported_at,
            Symptom.name,
        )
        .join(SymptomReport, SymptomReport.treatment_id == Treatment.id)
        .join(Symptom, Symptom.id == SymptomReport.symptom_id)
        .where(
            Treatment.clinic_id == clinic_id,
            Treatment.product_key == product_key,
            Treatment.batch_key == batch_key,
            _followed(since),
            Symptom.spread_sign.is_(True),
            SymptomReport.severity >= 1,
        )
        .order_by(Treatment.treated_at, Treatment.id)
    ).all()
    within = [r for r in rows if r.reported_at <= DEFAULT_SCHEDULE.window_end(r.treated_at)]
    cluster = batch_rules.spread_cluster(
        (batch_rules.BatchTreatment(r.id, r.patient_id, r.treated_at, True) for r in within),
        policy,
    )
    if not cluster:
        return None
    counted = [r for r in within if r.id in cluster]
    latest = counted[-1]
    return Found(
        key,
        SPREAD,
        latest.product,
        latest.batch_number,
        cluster,
        {
            "patients": len({r.patient_id for r in counted}),
            "treatments": len(cluster),
            "symptoms": sorted({r.name for r in counted}),
            "first_treated_at": counted[0].treated_at.isoformat(),
            "last_treated_at": latest.treated_at.isoformat(),
            "within_days": policy.spread_within_days,
        },
    )


# --- excess -------------------------------------------------------------------------------------


def excess_candidates(since: datetime, policy: BatchWatchPolicy) -> list[BatchKey]:
    """The batches whose treatments since `since` have urgent or severe flags from at least
    `excess_min_patients` patients (one statement, reading only those flags through
    `ix_flags_reason_opened`: a flag opens after its treatment, so it opened since `since`)."""
    rows = db.session.execute(
        select(Treatment.clinic_id, Treatment.product_key, Treatment.batch_key)
        .select_from(Flag)
        .join(Treatment, Treatment.id == Flag.treatment_id)
        .where(
            Flag.reason.in_(batch_rules.SERIOUS_REASONS),
            Flag.opened_at >= since,
            _followed(since),
        )
        .group_by(Treatment.clinic_id, Treatment.product_key, Treatment.batch_key)
        .having(func.count(distinct(Treatment.patient_id)) >= policy.excess_min_patients)
    )
    return sorted(tuple(row) for row in rows)


def find_excesses(
    candidates: list[BatchKey], since: datetime, policy: BatchWatchPolicy
) -> list[Found]:
    """The candidates in excess of their product's other batches (`batch_rules.excess`): two
    statements per clinic and product, whatever its number of batches."""
    by_product: dict[tuple[int, str], set[str]] = defaultdict(set)
    for clinic_id, product_key, batch_key in candidates:
        by_product[clinic_id, product_key].add(batch_key)
    found = []
    for (clinic_id, product_key), batch_keys in sorted(by_product.items()):
        figures = batch_figures(clinic_id, product_key, since)
        all_treatments = sum(f.treatments for f in figures.values())
        all_serious = sum(f.serious for f in figures.values())
        for batch_key in sorted(batch_keys):
            batch = figures[batch_key]
            test = batch_rules.excess(
                batch, all_treatments - batch.treatments, all_serious - batch.serious, policy
            )
            if test.is_signal:
                key = (clinic_id, product_key, batch_key)
                cases = _serious_cases(key, since)
                latest = cases[-1]
                found.append(
                    Found(
                        key,
                        EXCESS,
                        latest.product,
                        latest.batch_number,
                        frozenset(r.id for r in cases),
                        test.figures(),
                    )
                )
    return found


def batch_figures(
    clinic_id: int, product_key: str, since: datetime
) -> dict[str, batch_rules.BatchFigures]:
    """Each batch of one product at the clinic since `since`: treatments, serious cases and
    their patients (one statement)."""
    serious = serious_case()
    rows = db.session.execute(
        select(
            Treatment.batch_key,
            func.count(Treatment.id),
            func.sum(case((serious, 1), else_=0)),
            func.count(distinct(case((serious, Treatment.patient_id)))),
        )
        .where(
            Treatment.clinic_id == clinic_id,
            Treatment.product_key == product_key,
            _followed(since),
        )
        .group_by(Treatment.batch_key)
    )
    return {row[0]: batch_rules.BatchFigures(row[1], int(row[2] or 0), row[3]) for row in rows}


def _serious_cases(key: BatchKey, since: datetime) -> list:
    clinic_id, product_key, batch_key = key
    return db.session.execute(
        select(Treatment.id, Treatment.product, Treatment.batch_number)
        .where(
            Treatment.clinic_id == clinic_id,
            Treatment.product_key == product_key,
            Treatment.batch_key == batch_key,
            _followed(since),
            serious_case(),
        )
        .order_by(Treatment.treated_at, Treatment.id)
    ).all()


# --- storing ------------------------------------------------------------------------------------


def _store(found: Found, now: datetime, policy: BatchWatchPolicy, result: WatchResult) -> None:
    """Open, grow or leave the signal of what was found, in the caller's write transaction."""
    clinic_id, product_key, batch_key = found.key
    rows = db.session.execute(
        select(BatchSignal.id, BatchSignal.closed_at, BatchSignal.treatment_ids).where(
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
    told = notices.notify_other_clinics(signal, now, policy)
    result.notices += told.notices
    result.alerts += told.emails


def watch_batches(
    now: datetime | None = None, policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH
) -> WatchResult:
    """Raise the batch signals the clinics' treatments in the lookback make, as of `now`;
    each stored and committed in its own write transaction (see the module's docstring)."""
    now = now or utcnow()
    since = now - policy.lookback
    result = WatchResult()
    db.session.commit()  # what came before is done; the reads below take no write lock
    spread = spread_candidates(since)
    excess = excess_candidates(since, policy)
    result.batches = len(set(spread) | set(excess))
    found = [f for key in spread if (f := find_spread(key, since, policy))]
    found += find_excesses(excess, since, policy)
    db.session.commit()
    for one in found:
        begin_write()
        _store(one, now, policy, result)
        db.session.commit()
    return result


@dataclass
class SweepRun:
    """What the sweep job did: the flag sweep, then the batch watch."""

    flags: flagging.SweepResult
    watch: WatchResult

    def summary(self) -> str:
        line = self.flags.summary()
        if self.watch.opened or self.watch.grown:
            line += f"; {self.watch.summary()}"
        return line


def sweep_and_watch(now: datetime | None = None) -> SweepRun:
    """The sweep job (the scheduler's and `tracker sweep`): the flags that need time to pass,
    then the batch signals; each commits as it goes."""
    now = now or utcnow()
    flags = flagging.sweep(now)
    db.session.commit()
    return SweepRun(flags, watch_batches(now))
