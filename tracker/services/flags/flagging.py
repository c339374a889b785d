"""Turning check-ins into flags: load what the rules need, apply them, store findings once."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, literal, or_, select, tuple_, update
from sqlalchemy.orm import InstrumentedAttribute

from ... import rules
from ...catalogue import DEFAULT_SCHEDULE
from ...extensions import db
from ...infrastructure.database import (
    begin_write,
    insert_ignoring_conflicts,
    let_waiting_writers_in,
)
from ...models import RESOLVED, CheckIn, Flag, Patient, Symptom, SymptomReport, Treatment
from ...timeutil import utcnow
from ..messaging.alerts import queue_urgent_alerts
from ..patients.followup import superseded_at

BATCH_SIZE = 100
"""Treatments judged per batch by the sweep and the rebuild, each batch its own write
transaction: memory stays flat however many there are, and SQLite's write lock is held for
about a quarter of a second at most (measured at 100k treatments: up to 380 ms at 200 in the
catch-up after the upgrade, which opens a flag or two for nearly every treatment)."""


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
    that no flag raised before covers (`rules.unflagged`); and, from the same history, when the
    sweep must next judge the treatment (`followup_due_at`, as `refresh_followup_state` would
    store it), in the caller's transaction."""
    catalogue = load_catalogues([treatment.clinic_id])[treatment.clinic_id]
    history = load_histories([treatment.id], catalogue.codes)[treatment.id]
    past = load_past_flags([treatment.id], catalogue.codes, {treatment.id: history})[treatment.id]
    findings = rules.evaluate(
        treatment.treated_at, history, catalogue.rules, as_of, reasons=rules.CHECKIN_REASONS
    )
    new = rules.unflagged(findings, past)
    flags = _insert_flags(
        [_flag_row(treatment.clinic_id, treatment.id, f, catalogue, now) for f in new]
    )
    flagged = [
        rules.PastFlag(f.reason, f.code, rules.flag_span(f.episode_started_at, f.observed_at))
        for f in new
    ]
    superseded = db.session.scalar(select(superseded_at()).where(Treatment.id == treatment.id))
    until = followup_end(treatment.treated_at, superseded)
    treatment.followup_due_at = rules.verdict(
        treatment.treated_at,
        history,
        catalogue.rules,
        [*past, *flagged],
        min(now, until),
        until,
        tz_name=treatment.patient.timezone,
    ).next_due(flagging_now=False)
    return flags


def followup_end(treated_at: datetime, superseded_at: datetime | None) -> datetime:
    """The last moment the sweep judges a treatment at: the end of its follow-up window, or
    when the patient's next treatment superseded it, whichever is first."""
    window_end = DEFAULT_SCHEDULE.window_end(treated_at)
    return min(window_end, superseded_at) if superseded_at else window_end


def _treatments_to_judge() -> Select:
    """What the sweep and the follow-up state need of each treatment, for a `where` to pick."""
    return (
        select(
            Treatment.id,
            Treatment.clinic_id,
            Treatment.treated_at,
            Treatment.followup_due_at,
            Patient.timezone,
            superseded_at().label("superseded_at"),
        )
        .join(Patient, Treatment.patient_id == Patient.id)
        .where(Patient.erased_at.is_(None))
    )


@dataclass(frozen=True)
class Judgement:
    """What the rules make of one treatment as of a moment: the flags to open, and when to
    judge it again (`Treatment.followup_due_at`)."""

    treatment_id: int
    new_flags: list[dict]
    due_at: datetime | None


def judge(rows: Sequence[Row], now: datetime, *, open_flags: bool) -> list[Judgement]:
    """Judge each treatment of `rows` (from `_treatments_to_judge`) as of `now`, or as of its
    supersession if earlier, with every rule, in a few queries for all of them.

    With `open_flags`, the findings no flag covers become flags (the sweep) and the next
    judgement is the first moment time alone can change them; without, nothing is flagged and
    the next judgement is at once if there is something to flag (the follow-up state kept by
    check-ins, resolutions and `tracker rebuild-state`).
    """
    catalogues = load_catalogues(t.clinic_id for t in rows)
    all_codes = {k: v for c in catalogues.values() for k, v in c.codes.items()}
    treatment_ids = [t.id for t in rows]
    histories = load_histories(treatment_ids, all_codes)
    past = load_past_flags(treatment_ids, all_codes, histories)
    judgements = []
    for t in rows:
        catalogue = catalogues.get(t.clinic_id, Catalogue({}, {}, {}))
        until = followup_end(t.treated_at, t.superseded_at)
        verdict = rules.verdict(
            t.treated_at,
            histories[t.id],
            catalogue.rules,
            past[t.id],
            min(now, until),
            until,
            tz_name=t.timezone,
        )
        to_flag = verdict.unflagged if open_flags else []
        judgements.append(
            Judgement(
                t.id,
                [_flag_row(t.clinic_id, t.id, f, catalogue, now) for f in to_flag],
                verdict.next_due(flagging_now=open_flags),
            )
        )
    return judgements


def store_due(judgements: Iterable[Judgement]) -> None:
    """Write each judged treatment's next judgement (one statement for them all)."""
    values = [{"id": j.treatment_id, "followup_due_at": j.due_at} for j in judgements]
    if values:
        db.session.execute(update(Treatment), values)


def judge_clinic_again(clinic_id: int, now: datetime) -> None:
    """Make every treatment the clinic follows up due at once: its catalogue changed what the
    rules find (a symptom's action or expected duration), so the next sweep judges them all.

    "At once" is stored as the treatment's own time, which is due by any sweep's `now`.
    """
    window_start = DEFAULT_SCHEDULE.window_start(now)
    db.session.execute(
        update(Treatment)
        .where(
            Treatment.clinic_id == clinic_id,
            or_(Treatment.treated_at >= window_start, Treatment.followup_due_at.is_not(None)),
        )
        .values(followup_due_at=Treatment.treated_at)
        .execution_options(synchronize_session=False)
    )


def refresh_followup_state(treatment_ids: Sequence[int], now: datetime) -> None:
    """Recompute when the sweep must next judge these treatments, after what changed them (a
    check-in, a flag resolved), in the caller's transaction."""
    rows = db.session.execute(_treatments_to_judge().where(Treatment.id.in_(treatment_ids))).all()
    store_due(judge(rows, now, open_flags=False))


def rebuild_followup_state(now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Recompute every treatment's next judgement from its check-ins and flags, as of `now`
    (`tracker rebuild-state`: after a migration, a restore or a repair), committing per batch;
    the number of treatments still followed up. What the check-ins, resolutions and sweeps
    keep as they go must equal it (tests/test_followup_state.py)."""
    window_start = DEFAULT_SCHEDULE.window_start(now)
    begin_write()
    _never_due(now)
    db.session.commit()
    followed = 0
    for batch in _batches(Treatment.treated_at >= window_start, batch_size=batch_size):
        store_due(judge(batch, now, open_flags=False))
        followed += len(batch)
    return followed


def _batches(
    *where: ColumnElement[bool],
    order: Sequence[InstrumentedAttribute] = (Treatment.id,),
    batch_size: int,
    held: list[float] | None = None,
) -> Iterator[Sequence[Row]]:
    """The treatments of `where` (as `_treatments_to_judge` reads them) in batches, in `order`
    (unique, ending with the id: each batch starts after the last one's end), each read in a
    write transaction of its own that is committed once the caller has handled it: a job holds
    SQLite's write lock one batch at a time.

    On PostgreSQL the batch's treatment rows are locked as they are read (`FOR UPDATE`), as a
    check-in locks its treatment before its flags: both then take the treatment first and its
    flags after, and cannot deadlock on a flag one inserts and a treatment the other updates.

    `held`, if given, gets how long each batch's transaction lasted, from BEGIN to COMMIT.
    """
    after: tuple | None = None
    while True:
        began = time.perf_counter()
        begin_write()  # take SQLite's write lock before reading: a reader cannot always upgrade
        stmt = _treatments_to_judge().where(*where)
        if after is not None:
            last = (literal(value, column.type) for value, column in zip(after, order, strict=True))
            stmt = stmt.where(tuple_(*order) > tuple_(*last))
        batch = db.session.execute(
            stmt.order_by(*order).limit(batch_size).with_for_update(of=Treatment)
        ).all()
        if not batch:
            db.session.commit()
            return
        yield batch
        db.session.commit()
        if held is not None:
            held.append(time.perf_counter() - began)
        if len(batch) < batch_size:  # that was the last
            return
        after = tuple(getattr(batch[-1], column.key) for column in order)
        let_waiting_writers_in()  # more to come: let the requests waiting meanwhile in first


@dataclass
class SweepResult:
    """What one sweep did."""

    treatments: int = 0
    flags_opened: int = 0
    batches: int = 0
    batch_seconds: list[float] = field(default_factory=list)
    """How long each batch's write transaction lasted (SQLite's write lock is held that long)."""

    def summary(self) -> str:
        line = f"judged {self.treatments} treatments due, opened {self.flags_opened} flags"
        if self.batch_seconds:
            line += f" (longest batch {1000 * max(self.batch_seconds):.0f} ms)"
        return line


def forget_ended_followups(now: datetime) -> int:
    """Clear the next judgement of the treatments the sweep no longer judges (their window
    ended, or the patient was erased), so that what is due stays a short indexed read."""
    return _never_due(now, Treatment.followup_due_at <= now)


def _never_due(now: datetime, *where: ColumnElement[bool]) -> int:
    """Clear the next judgement of the treatments (of `where`) whose window ended by `now` or
    whose patient was erased; how many."""
    window_start = DEFAULT_SCHEDULE.window_start(now)
    erased = select(Patient.id).where(Patient.erased_at.is_not(None))
    return db.session.execute(
        update(Treatment)
        .where(*where, or_(Treatment.treated_at < window_start, Treatment.patient_id.in_(erased)))
        .values(followup_due_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def sweep(now: datetime | None = None, batch_size: int = BATCH_SIZE) -> SweepResult:
    """Judge every treatment that is due (`Treatment.followup_due_at` by `now`) with every rule,
    as of `now`, open the flags no flag covers, and store when each is next due.

    Only what can have changed is read: the check-in service, flag resolutions and catalogue
    edits keep `followup_due_at` current (see `rules.Verdict.next_due`), so a treatment that is
    not due would be found exactly as it was. A treatment superseded by the patient's next one
    is judged only as of that moment (`followup_end`); erased patients' are never judged.

    Commits after each batch of `batch_size` treatments, each batch its own short write
    transaction, so check-ins go on meanwhile. Idempotent: the flags already raised are matched
    to the findings (`rules.unflagged`), and the one-open-flag index refuses a duplicate
    opened meanwhile, so a second run opens nothing new.
    """
    now = now or utcnow()
    window_start = DEFAULT_SCHEDULE.window_start(now)
    result = SweepResult()
    begin_write()
    forget_ended_followups(now)
    db.session.commit()
    for batch in _batches(
        Treatment.followup_due_at <= now,
        Treatment.treated_at >= window_start,
        order=(Treatment.followup_due_at, Treatment.id),  # the due index, in its order
        batch_size=batch_size,
        held=result.batch_seconds,
    ):
        judgements = judge(batch, now, open_flags=True)
        result.flags_opened += len(_insert_flags([f for j in judgements for f in j.new_flags]))
        store_due(judgements)
        result.treatments += len(batch)
        result.batches += 1
    return result
