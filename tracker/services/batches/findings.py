"""What the batch watch finds in the clinics' treatments: the batches with something to find,
and in each what the rules (tracker/batch_rules.py) make of it, read in a few statements.

The candidates are found for all clinics at once, each through an index of migration 0016:
for a spread, batches with a spread-sign report in the lookback (`ix_reports_symptom_time`, a
short range per spread-sign entry); for an excess, batches whose treatments in the lookback
have urgent or severe flags from at least `excess_min_patients` patients
(`ix_flags_reason_opened`, a range per reason). Erased patients' treatments count for nothing:
no job judges an erased record. `serious_case`, `serious_treatments` and `batch_figures` are the
watch's measure of a serious case in SQL; the Batches pages (`usage.py`) count by the same
`batch_rules.SERIOUS_REASONS`, with the erased patients' treatments too (the page lists them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, distinct, exists, func, select

from ... import batch_rules
from ...catalogue import DEFAULT_SCHEDULE, BatchWatchPolicy
from ...extensions import db
from ...models import EXCESS, SPREAD, Flag, Patient, Symptom, SymptomReport, Treatment

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
    their patients (two statements: the clinic's erased patients, then one grouped read).

    The serious cases are a LEFT JOIN to the clinic's serious treatments, read once
    (`serious_treatments`), not a probe of the flags per treatment; erased patients are left
    out by their ids (few: an erasure is rare), not by a lookup per row."""
    serious = serious_treatments(clinic_id).subquery()
    is_serious = serious.c.treatment_id.is_not(None)
    erased = erased_patient_ids(clinic_id)
    rows = db.session.execute(
        select(
            Treatment.batch_key,
            func.count(Treatment.id),
            func.count(serious.c.treatment_id),
            func.count(distinct(case((is_serious, Treatment.patient_id)))),
        )
        .outerjoin(serious, serious.c.treatment_id == Treatment.id)
        .where(
            Treatment.clinic_id == clinic_id,
            Treatment.product_key == product_key,
            Treatment.treated_at >= since,
            *([Treatment.patient_id.not_in(erased)] if erased else []),
        )
        .group_by(Treatment.batch_key)
    )
    return {row[0]: batch_rules.BatchFigures(row[1], row[2], row[3]) for row in rows}


def serious_treatments(clinic_id: int):
    """SQL: the clinic's serious treatments (`serious_case`), each once."""
    return (
        select(Flag.treatment_id)
        .distinct()
        .where(Flag.clinic_id == clinic_id, Flag.reason.in_(batch_rules.SERIOUS_REASONS))
    )


def erased_patient_ids(clinic_id: int) -> list[int]:
    """The clinic's erased patients (one statement)."""
    return list(
        db.session.scalars(
            select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.erased_at.is_not(None))
        )
    )


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
