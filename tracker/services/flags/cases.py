"""Reading cases for clinicians: the case queue, its count, the next case, and one case's page.

A case is one treatment with open or acknowledged flags. The queue groups the flags by treatment
in SQL (one query per page and one count), most urgent reason first, then the oldest: the case's
earliest opened active flag. Every query here is scoped to one clinic by its caller's `clinic_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, case, func, literal, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from ...extensions import db
from ...models import ACKNOWLEDGED, OPEN, CheckIn, Flag, FlagNote, Patient, SymptomReport, Treatment
from ...models.types import UTCDateTime
from ..clinics.catalogue_admin import clinic_symptoms
from .queue import ACTIVE, PER_PAGE, URGENCY, _histories, describe_duration
from .timeline import Timeline, build_timeline

CASE_STATUSES = (OPEN, ACKNOWLEDGED)


@dataclass(frozen=True)
class CaseFilters:
    """What the case queue is narrowed to (None: any).

    `reason`: cases with an active flag of that reason. `status`: "open" is a case with a flag
    nobody has acknowledged yet, "acknowledged" one whose every active flag is acknowledged.
    """

    reason: str | None = None
    status: str | None = None
    practitioner_id: int | None = None
    assigned_to_id: int | None = None

    def describe(self) -> str:
        """The filters in a few words for the audit trail (ids and codes only)."""
        return (
            f"reason={self.reason or 'any'};status={self.status or 'active'};"
            f"practitioner={self.practitioner_id or 'any'};assigned={self.assigned_to_id or 'any'}"
        )


def reasons_of(flags: list[Flag]) -> list[str]:
    """Each reason of `flags` (most urgent first) once, in that order: a case's badges."""
    return list(dict.fromkeys(f.reason for f in flags))


def _is(condition) -> object:
    """1 for each flag of a group that meets `condition`, to count them with SUM."""
    return func.sum(case((condition, 1), else_=0))


TOP_PRIORITY = func.min(URGENCY).label("top_priority")
FIRST_OPENED = func.min(Flag.opened_at).label("first_opened_at")


def cases_query(clinic_id: int, filters: CaseFilters) -> Select:
    """(treatment_id, top_priority, first_opened_at) of each of the clinic's matching cases."""
    stmt = (
        select(Flag.treatment_id, TOP_PRIORITY, FIRST_OPENED)
        .join(Treatment, Treatment.id == Flag.treatment_id)
        .where(
            Flag.clinic_id == clinic_id,
            Treatment.clinic_id == clinic_id,
            Flag.status.in_(ACTIVE),
        )
        .group_by(Flag.treatment_id)
    )
    if filters.practitioner_id:
        stmt = stmt.where(Treatment.practitioner_id == filters.practitioner_id)
    if filters.assigned_to_id:
        stmt = stmt.where(Treatment.assigned_to_id == filters.assigned_to_id)
    if filters.reason:
        stmt = stmt.having(_is(Flag.reason == filters.reason) > 0)
    if filters.status == OPEN:
        stmt = stmt.having(_is(Flag.status == OPEN) > 0)
    elif filters.status == ACKNOWLEDGED:
        stmt = stmt.having(_is(Flag.status == OPEN) == 0)
    return stmt


def in_queue_order(stmt: Select) -> Select:
    """The cases most urgent first, then the oldest, then by treatment (a stable order)."""
    return stmt.order_by(TOP_PRIORITY, FIRST_OPENED, Flag.treatment_id)


def case_count(clinic_id: int, filters: CaseFilters | None = None) -> int:
    """How many cases the queue lists (the navigation's count: no filters)."""
    grouped = cases_query(clinic_id, filters or CaseFilters()).subquery()
    return db.session.scalar(select(func.count()).select_from(grouped)) or 0


@dataclass(frozen=True)
class CaseRow:
    """One case in the queue: its treatment and active flags (most urgent first), and how long
    each flag's symptom (or silence) has lasted, in words."""

    treatment: Treatment
    flags: list[Flag]
    how_long: dict[int, str]

    @property
    def reasons(self) -> list[str]:
        """Each reason once, the most urgent first: the row's badges."""
        return reasons_of(self.flags)

    @property
    def opened_at(self) -> datetime:
        """When the case's oldest active flag opened (its place among equally urgent cases)."""
        return min(f.opened_at for f in self.flags)

    @property
    def status(self) -> str:
        """ "open" while any flag is unacknowledged, else "acknowledged"."""
        return OPEN if any(f.status == OPEN for f in self.flags) else ACKNOWLEDGED


@dataclass(frozen=True)
class CasePage:
    """One page of the case queue."""

    pagination: Pagination
    rows: list[CaseRow]


def case_rows(clinic_id: int, ids: list[int], now: datetime | None) -> list[CaseRow]:
    """The treatments `ids` (cases from `cases_query`) with their active flags, in that order.

    With `now`, each flag also gets its duration in words (which reads the check-ins).
    """
    if not ids:
        return []
    treatments = {
        t.id: t
        for t in db.session.scalars(
            select(Treatment)
            .where(Treatment.id.in_(ids))
            .options(
                selectinload(Treatment.patient),
                selectinload(Treatment.practitioner),
                selectinload(Treatment.assigned_to),
            )
        )
    }
    flags: dict[int, list[Flag]] = {i: [] for i in ids}
    for flag in db.session.scalars(
        select(Flag)
        .where(Flag.treatment_id.in_(ids), Flag.status.in_(ACTIVE))
        .options(selectinload(Flag.symptom))
        .order_by(URGENCY, Flag.opened_at, Flag.id)
    ):
        flags[flag.treatment_id].append(flag)
    histories = _histories(clinic_id, ids) if now else {}
    return [
        CaseRow(
            treatment=treatments[treatment_id],
            flags=flags[treatment_id],
            how_long={
                f.id: describe_duration(f, histories[f.treatment_id], now)
                for f in flags[treatment_id]
            }
            if now
            else {},
        )
        for treatment_id in ids
    ]


def case_page(clinic_id: int, filters: CaseFilters, page: int, now: datetime) -> CasePage:
    """One page (of `PER_PAGE`) of the case queue."""
    pagination = db.paginate(  # its items: each case's treatment_id, the query's first column
        in_queue_order(cases_query(clinic_id, filters)),
        page=page,
        per_page=PER_PAGE,
        error_out=False,
    )
    return CasePage(pagination, case_rows(clinic_id, list(pagination.items), now))


@dataclass(frozen=True)
class QueuePlace:
    """Where a case sits in the queue's order."""

    top_priority: int
    first_opened_at: datetime
    treatment_id: int


def queue_place(clinic_id: int, treatment_id: int) -> QueuePlace | None:
    """The case's place in the (unfiltered) queue, or None if it is not in the queue."""
    row = db.session.execute(
        cases_query(clinic_id, CaseFilters()).where(Flag.treatment_id == treatment_id)
    ).first()
    if row is None:
        return None
    return QueuePlace(row.top_priority, row.first_opened_at, row.treatment_id)


def cases_after(clinic_id: int, filters: CaseFilters, after: QueuePlace | None, limit: int) -> list:
    """Up to `limit` rows of `cases_query` in queue order after the place `after` (keyset
    paging: a resolved case does not shift the next page)."""
    stmt = in_queue_order(cases_query(clinic_id, filters))
    if after is not None:
        place = tuple_(
            literal(after.top_priority),
            literal(after.first_opened_at, UTCDateTime()),
            literal(after.treatment_id),
        )
        stmt = stmt.having(tuple_(TOP_PRIORITY, FIRST_OPENED, Flag.treatment_id) > place)
    return list(db.session.execute(stmt.limit(limit)).all())


def next_case_id(clinic_id: int, after: QueuePlace | None) -> int | None:
    """The treatment of the first case after `after` in queue order, else the queue's first
    case (the nurse goes on from the top), else None: the queue is empty."""
    for place in (after, None) if after is not None else (None,):
        found = cases_after(clinic_id, CaseFilters(), place, 1)
        if found:
            return found[0].treatment_id
    return None


@dataclass(frozen=True)
class CaseDetail:
    """Everything the case page shows about one treatment."""

    patient: Patient
    treatment: Treatment
    active_flags: list[Flag]
    past_flags: list[Flag]
    how_long: dict[int, str]
    timeline: Timeline
    checkins: list[CheckIn]
    notes: list[FlagNote]

    @property
    def reasons(self) -> list[str]:
        """Each active reason once, the most urgent first."""
        return reasons_of(self.active_flags)


def load_case(treatment: Treatment, now: datetime) -> CaseDetail:
    """The treatment with its patient, flags, symptom history, check-ins and every flag's notes."""
    flags = db.session.scalars(
        select(Flag)
        .where(Flag.treatment_id == treatment.id)
        .options(
            joinedload(Flag.symptom),
            joinedload(Flag.acknowledged_by),
            joinedload(Flag.resolved_by),
        )
        .order_by(URGENCY, Flag.opened_at, Flag.id)
    ).all()
    checkins = db.session.scalars(
        select(CheckIn)
        .where(CheckIn.treatment_id == treatment.id)
        .options(
            selectinload(CheckIn.reports).joinedload(SymptomReport.symptom),
            joinedload(CheckIn.recorded_by),
        )
        .order_by(CheckIn.reported_at.desc(), CheckIn.id.desc())
    ).all()
    notes = db.session.scalars(
        select(FlagNote)
        .join(Flag)
        .where(Flag.treatment_id == treatment.id)
        .options(joinedload(FlagNote.author), joinedload(FlagNote.flag).joinedload(Flag.symptom))
        .order_by(FlagNote.created_at, FlagNote.id)
    ).all()
    history = _histories(treatment.clinic_id, [treatment.id])[treatment.id]
    timeline = build_timeline(
        treatment, clinic_symptoms(treatment.clinic_id), treatment.patient.timezone, now
    )
    active = [f for f in flags if f.status in ACTIVE]
    return CaseDetail(
        patient=treatment.patient,
        treatment=treatment,
        active_flags=active,
        past_flags=[f for f in flags if f.status not in ACTIVE],
        how_long={f.id: describe_duration(f, history, now) for f in flags},
        timeline=timeline,
        checkins=list(checkins),
        notes=list(notes),
    )
