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


def load_past_flags(
    treatment_ids: Sequence[int],
    codes: dict[int, str],
    histories: dict[int, list[rules.Observation]],
) -> dict[int, list[rules.PastFlag]]:
    """The flags already stored for many treatments, as the matching rules see them (one query).

    A resolved flag carries the highest severity of its symptom reported from its episode's
    start until its resolution (what the clinician knew), read from `histories`.
    """
    past: dict[int, list[rules.PastFlag]] = {tid: [] for tid in treatment_ids}
    rows = db.session.execute(
        select(
            Flag.treatment_id,
            Flag.symptom_id,
            Flag.reason,
            Flag.status,
            Flag.episode_started_at,
            Flag.observed_at,
            Flag.resolved_at,
        )
        .where(Flag.treatment_id.in_(treatment_ids))
        .order_by(Flag.id)
    )
    for row in rows:
        code = codes[row.symptom_id] if row.symptom_id else None
        span = rules.flag_span(row.episode_started_at, row.observed_at)
        resolved_at = None
        severity = None
        if row.status == RESOLVED:
            resolved_at = row.resolved_at or span.end  # a row resolved without a time: at once
            if code:
                history = histories[row.treatment_id]
                severity = rules.severity_known_at(code, history, span.start, resolved_at)
        past[row.treatment_id].append(
            rules.PastFlag(rules.Reason(row.reason), code, span, row.status, resolved_at, severity)
        )
    return past


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
    """Insert-or-ignore against the one-open-flag index: a flag opened meanwhile by another
    writer (a check-in and the sweep at once) is not duplicated."""
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


def raise_checkin_flags(treatment: Treatment, as_of: datetime, now: datetime) -> list[Flag]:
    """The flags a check-in shows by itself (urgent, review, severe, worsening), as of `as_of`,
    that no flag raised before covers (`rules.unflagged`)."""
    catalogue = load_catalogues([treatment.clinic_id])[treatment.clinic_id]
    histories = load_histories([treatment.id], catalogue.codes)
    past = load_past_flags([treatment.id], catalogue.codes, histories)[treatment.id]
    findings = rules.evaluate(
        treatment.treated_at,
        histories[treatment.id],
        catalogue.rules,
        as_of,
        reasons=rules.CHECKIN_REASONS,
    )
    rows = [
        _flag_row(treatment.clinic_id, treatment.id, f, catalogue, now)
        for f in rules.unflagged(findings, past)
    ]
    return _insert_flags(rows)


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
    flags already raised are matched to the findings (`rules.unflagged`), and the one-open-flag
    index refuses a duplicate opened meanwhile, so a second run opens nothing new.
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
        treatment_ids = [t.id for t in batch]
        histories = load_histories(treatment_ids, all_codes)
        past = load_past_flags(treatment_ids, all_codes, histories)
        rows = []
        for t in batch:
            catalogue = catalogues.get(t.clinic_id, Catalogue({}, {}, {}))
            judged_at = min(now, t.superseded_at) if t.superseded_at else now
            findings = rules.evaluate(
                t.treated_at, histories[t.id], catalogue.rules, judged_at, tz_name=t.timezone
            )
            for finding in rules.unflagged(findings, past[t.id]):
                rows.append(_flag_row(t.clinic_id, t.id, finding, catalogue, now))
        result.treatments += len(batch)
        result.flags_opened += len(_insert_flags(rows))
