"""Turning check-ins into flags: load what the rules need, apply them, store findings once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ... import rules
from ...catalogue import DEFAULT_SCHEDULE
from ...extensions import db
from ...infrastructure.database import begin_write, insert_ignoring_conflicts
from ...models import RESOLVED, CheckIn, Flag, Patient, Symptom, SymptomReport, Treatment
from ...timeutil import utcnow
from ..messaging.alerts import queue_urgent_alerts
from ..patients.followup import superseded_at

BATCH_SIZE = 1000
"""Treatments evaluated per batch by the sweep: memory stays flat however many there are."""


@dataclass(frozen=True)
class Catalogue:
    """A clinic's catalogue, as the rules see it and with the ids flags need."""

    rules: dict[str, rules.SymptomRule]
    ids: dict[str, int]
    codes: dict[int, str]

    @classmethod
    def of(cls, symptoms: Iterable[Symptom]) -> Catalogue:
        """Build from catalogue rows."""
        symptoms = list(symptoms)
        return cls(
            rules={s.code: rules.SymptomRule(s.code, s.action, s.expected_hours) for s in symptoms},
            ids={s.code: s.id for s in symptoms},
            codes={s.id: s.code for s in symptoms},
        )


def load_catalogues(clinic_ids: Iterable[int]) -> dict[int, Catalogue]:
    """Each clinic's catalogue, in one query (empty for a clinic that has none)."""
    clinic_ids = set(clinic_ids)
    by_clinic: dict[int, list[Symptom]] = {clinic_id: [] for clinic_id in clinic_ids}
    for symptom in db.session.scalars(select(Symptom).where(Symptom.clinic_id.in_(clinic_ids))):
        by_clinic[symptom.clinic_id].append(symptom)
    return {clinic_id: Catalogue.of(rows) for clinic_id, rows in by_clinic.items()}


def load_histories(
    treatment_ids: Sequence[int], codes: dict[int, str]
) -> dict[int, list[rules.Observation]]:
    """The check-ins of many treatments as the rules see them, in two queries."""
    checkins = db.session.execute(
        select(CheckIn.id, CheckIn.treatment_id, CheckIn.reported_at)
        .where(CheckIn.treatment_id.in_(treatment_ids))
        .order_by(CheckIn.reported_at, CheckIn.id)
    ).all()
    reports: dict[int, list[rules.Report]] = defaultdict(list)
    for row in db.session.execute(
        select(
            SymptomReport.checkin_id,
            SymptomReport.symptom_id,
            SymptomReport.severity,
            SymptomReport.onset_at,
        ).where(SymptomReport.treatment_id.in_(treatment_ids), SymptomReport.severity > 0)
    ):
        reports[row.checkin_id].append(
            rules.Report(codes[row.symptom_id], row.severity, row.onset_at)
        )
    histories: dict[int, list[rules.Observation]] = {tid: [] for tid in treatment_ids}
    for row in checkins:
        histories[row.treatment_id].append(
            rules.Observation(row.reported_at, tuple(reports.get(row.id, ())))
        )
    return histories


def open_flags(
    treatment: Treatment, findings: Iterable[rules.Finding], catalogue: Catalogue, now: datetime
) -> list[Flag]:
    """Store findings as open flags, skipping any that already have one; return the new ones."""
    rows = [_flag_row(treatment.clinic_id, treatment.id, f, catalogue, now) for f in findings]
    return _insert_flags(rows)


def _flag_row(
    clinic_id: int, treatment_id: int, finding: rules.Finding, catalogue: Catalogue, now: datetime
) -> dict:
    return {
        "clinic_id": clinic_id,
        "treatment_id": treatment_id,
        "symptom_id": catalogue.ids[finding.code] if finding.code else None,
        "reason": finding.reason.value,
        "status": "open",
        "episode_started_at": finding.episode_started_at,
        "observed_at": finding.observed_at,
        "opened_at": now,
    }


def _insert_flags(rows: list[dict]) -> list[Flag]:
    """Insert-or-ignore against the flags' unique indexes: re-running never duplicates one."""
    if not rows:
        return []
    # One order for every writer, so two inserting for the same treatment at once (a check-in
    # and the sweep) take their index locks in the same order and cannot deadlock on PostgreSQL.
    rows = sorted(rows, key=lambda r: (r["treatment_id"], r["symptom_id"] or 0, r["reason"]))
    new_ids = (
        db.session.execute(insert_ignoring_conflicts(Flag).returning(Flag.id), rows).scalars().all()
    )
    if not new_ids:
        return []
    flags = list(db.session.scalars(select(Flag).where(Flag.id.in_(new_ids)).order_by(Flag.id)))
    queue_urgent_alerts(flags)  # the clinic hears of an urgent flag in the same transaction
    return flags


def _not_flagged_yet(rows: list[dict]) -> list[dict]:
    """Drop the rows the flags' unique indexes would refuse, read in one query.

    Most findings of a sweep already have their flag from an earlier run; skipping them here
    saves sending them all to the database again. Insert-or-ignore still guards against a flag
    opened between this read and the insert.
    """
    if not rows:
        return rows
    existing = db.session.execute(
        select(
            Flag.treatment_id, Flag.symptom_id, Flag.reason, Flag.status, Flag.episode_started_at
        ).where(Flag.treatment_id.in_({r["treatment_id"] for r in rows}))
    ).all()
    episodes = {(f.treatment_id, f.symptom_id, f.reason, f.episode_started_at) for f in existing}
    active = {(f.treatment_id, f.symptom_id, f.reason) for f in existing if f.status != RESOLVED}
    return [
        r
        for r in rows
        if (r["treatment_id"], r["symptom_id"], r["reason"]) not in active
        and (r["treatment_id"], r["symptom_id"], r["reason"], r["episode_started_at"])
        not in episodes
    ]


def raise_checkin_flags(treatment: Treatment, as_of: datetime, now: datetime) -> list[Flag]:
    """The flags a check-in shows by itself (urgent, review, severe, worsening), as of `as_of`."""
    catalogue = load_catalogues([treatment.clinic_id])[treatment.clinic_id]
    history = load_histories([treatment.id], catalogue.codes)[treatment.id]
    findings = rules.evaluate(
        treatment.treated_at, history, catalogue.rules, as_of, reasons=rules.CHECKIN_REASONS
    )
    return open_flags(treatment, findings, catalogue, now)


@dataclass
class SweepResult:
    """What one sweep did."""

    treatments: int = 0
    flags_opened: int = 0


def sweep(now: datetime | None = None) -> SweepResult:
    """Apply every rule to every treatment in its follow-up window, as of `now`, except those of
    erased patients (their record is closed: no flag is added to it).

    A treatment superseded by the patient's next one is judged only as of that moment: its
    follow-up ended there, so later silence or a symptom's lasting is the newer one's to judge.
    Set-based: a few queries per batch of treatments, never one per patient. Idempotent: the
    flags' unique indexes make a second run open nothing new.
    """
    begin_write()  # take SQLite's write lock before reading: a reader cannot always upgrade
    now = now or utcnow()
    window_start = now - timedelta(days=DEFAULT_SCHEDULE.window_days)
    result = SweepResult()
    last_id = 0
    while True:
        batch = db.session.execute(
            select(
                Treatment.id,
                Treatment.clinic_id,
                Treatment.treated_at,
                Patient.timezone,
                superseded_at().label("superseded_at"),
            )
            .join(Patient, Treatment.patient_id == Patient.id)
            .where(
                Patient.erased_at.is_(None),
                Treatment.treated_at >= window_start,
                Treatment.treated_at <= now,
                Treatment.id > last_id,
            )
            .order_by(Treatment.id)
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            return result
        last_id = batch[-1].id
        catalogues = load_catalogues(t.clinic_id for t in batch)
        all_codes = {k: v for c in catalogues.values() for k, v in c.codes.items()}
        histories = load_histories([t.id for t in batch], all_codes)
        rows = []
        for t in batch:
            catalogue = catalogues.get(t.clinic_id, Catalogue({}, {}, {}))
            judged_at = min(now, t.superseded_at) if t.superseded_at else now
            history = histories[t.id]
            findings = rules.evaluate(
                t.treated_at, history, catalogue.rules, judged_at, tz_name=t.timezone
            )
            for finding in findings:
                rows.append(_flag_row(t.clinic_id, t.id, finding, catalogue, now))
        result.treatments += len(batch)
        result.flags_opened += len(_insert_flags(_not_flagged_yet(rows)))
