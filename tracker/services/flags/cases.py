"""Reading cases for clinicians: the case queue, its count, the next case, and one case's page.

A case is one treatment with open or acknowledged flags. The queue groups the flags by treatment
in SQL (one query per page and one count), most urgent reason first, then the oldest: the case's
earliest opened active flag. Every query here is scoped to one clinic by its caller's `clinic_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, Subquery, and_, case, func, literal, literal_column, select, tuple_
from sqlalchemy.orm import aliased, contains_eager, joinedload, selectinload

from ...extensions import db
from ...models import (
    ACKNOWLEDGED,
    OPEN,
    RESOLVED,
    CheckIn,
    Flag,
    FlagNote,
    Patient,
    SymptomReport,
    Treatment,
    User,
)
from ...models.types import UTCDateTime
from ..clinics.catalogue_admin import clinic_symptoms
from .queue import (
    ACTIVE,
    PER_PAGE,
    URGENCY,
    _histories,
    describe_duration,
    history_column,
    history_of,
)
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
NOT_RESOLVED = Flag.status != literal_column(f"'{RESOLVED}'")
"""Open or acknowledged (the only other statuses), written as the partial indexes' condition
(a literal, not a parameter) so that both engines' planners see the index applies."""


def cases_query(clinic_id: int, filters: CaseFilters) -> Select:
    """(treatment_id, top_priority, first_opened_at) of each of the clinic's matching cases."""
    stmt = (
        select(Flag.treatment_id, TOP_PRIORITY, FIRST_OPENED)
        .join(Treatment, Treatment.id == Flag.treatment_id)
        .where(Flag.clinic_id == clinic_id, Treatment.clinic_id == clinic_id, NOT_RESOLVED)
        .group_by(Flag.treatment_id)
    )
    for condition in _treatment_conditions(filters):
        stmt = stmt.where(condition)
    for condition in _flag_conditions(filters):
        stmt = stmt.having(condition)
    return stmt


def _treatment_conditions(filters: CaseFilters) -> list:
    """The filters on the case's treatment."""
    conditions = []
    if filters.practitioner_id:
        conditions.append(Treatment.practitioner_id == filters.practitioner_id)
    if filters.assigned_to_id:
        conditions.append(Treatment.assigned_to_id == filters.assigned_to_id)
    return conditions


def _flag_conditions(filters: CaseFilters) -> list:
    """The filters on the case's active flags, as conditions on the group."""
    conditions = []
    if filters.reason:
        conditions.append(_is(Flag.reason == filters.reason) > 0)
    if filters.status == OPEN:
        conditions.append(_is(Flag.status == OPEN) > 0)
    elif filters.status == ACKNOWLEDGED:
        conditions.append(_is(Flag.status == OPEN) == 0)
    return conditions


def in_queue_order(stmt: Select) -> Select:
    """The cases most urgent first, then the oldest, then by treatment (a stable order)."""
    return stmt.order_by(TOP_PRIORITY, FIRST_OPENED, Flag.treatment_id)


@dataclass(frozen=True)
class CaseCounts:
    """How many cases the queue lists with the filters, and without (the navigation's)."""

    matching: int
    queue: int


def case_counts(clinic_id: int, filters: CaseFilters) -> CaseCounts:
    """Both counts in one statement: each case of the whole queue is counted, and counted again
    if it meets the filters."""
    on_treatment = [_is(condition) > 0 for condition in _treatment_conditions(filters)]
    conditions = on_treatment + _flag_conditions(filters)  # all on the group (PostgreSQL)
    matches = case((and_(*conditions), 1), else_=0) if conditions else literal(1)
    grouped = cases_query(clinic_id, CaseFilters()).add_columns(matches.label("matches")).subquery()
    row = db.session.execute(
        select(func.count(), func.coalesce(func.sum(grouped.c.matches), 0)).select_from(grouped)
    ).one()
    return CaseCounts(matching=row[1], queue=row[0])


def case_count(clinic_id: int, filters: CaseFilters | None = None) -> int:
    """How many cases the queue lists (the navigation's count: no filters)."""
    return case_counts(clinic_id, filters or CaseFilters()).matching


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


def rows_query(cases: Subquery, with_history: bool) -> Select:
    """Everything a page shows of the `cases` (rows of `cases_query`, already paged), in one
    statement: each active flag with its symptom, treatment, patient, practitioner and assignee
    (and, `with_history`, the treatment's check-ins), in queue order, then most urgent flag
    first. Each row also carries its case's place in the queue."""
    practitioner, assignee = aliased(User), aliased(User)
    columns = [Flag, cases.c.top_priority, cases.c.first_opened_at]
    if with_history:  # on the case's first row only (the one `load_cases` reads): a case's
        # history is aggregated and decoded once, not once for each of its flags
        first_of_case = func.row_number().over(
            partition_by=Flag.treatment_id, order_by=(URGENCY, Flag.opened_at, Flag.id)
        )
        history = case((first_of_case == 1, history_column(Flag.treatment_id)))
        columns.append(history.label("history"))
    via_treatment = contains_eager(Flag.treatment)
    return (
        select(*columns)
        .join(cases, cases.c.treatment_id == Flag.treatment_id)
        .join(Flag.treatment)
        .join(Treatment.patient)
        .outerjoin(Flag.symptom)
        .outerjoin(practitioner, practitioner.id == Treatment.practitioner_id)
        .outerjoin(assignee, assignee.id == Treatment.assigned_to_id)
        .where(NOT_RESOLVED)
        .options(
            contains_eager(Flag.symptom),
            via_treatment.contains_eager(Treatment.patient),
            via_treatment.contains_eager(Treatment.practitioner.of_type(practitioner)),
            via_treatment.contains_eager(Treatment.assigned_to.of_type(assignee)),
        )
        .order_by(
            cases.c.top_priority,
            cases.c.first_opened_at,
            cases.c.treatment_id,
            URGENCY,
            Flag.opened_at,
            Flag.id,
        )
    )


@dataclass(frozen=True)
class LoadedCase:
    """A case as `load_cases` read it: its row, and its place in the queue."""

    row: CaseRow
    place: QueuePlace


def load_cases(cases: Select, now: datetime | None) -> list[LoadedCase]:
    """The cases `cases` selects (rows of `cases_query`, ordered and limited) in one statement.

    With `now`, each flag also gets its duration in words, from the check-ins read with it.
    """
    loaded = []
    result = db.session.execute(rows_query(cases.subquery(), with_history=now is not None))
    for treatment_id, rows in groupby(result, key=lambda r: r.Flag.treatment_id):
        rows = list(rows)
        flags = [r.Flag for r in rows]
        how_long = {}
        if now is not None:
            history = history_of(rows[0].history)
            how_long = {f.id: describe_duration(f, history, now) for f in flags}
        first = rows[0]
        loaded.append(
            LoadedCase(
                CaseRow(flags[0].treatment, flags, how_long),
                QueuePlace(first.top_priority, first.first_opened_at, treatment_id),
            )
        )
    return loaded


class CasePagination(Pagination):
    """A page of the queue: its rows and counts read by `case_page` (no query of its own)."""

    def __init__(self, rows: list[CaseRow], counts: CaseCounts, page: int, per_page: int):
        self._rows, self.counts = rows, counts
        super().__init__(page=page, per_page=per_page, error_out=False)

    def _query_items(self) -> list[CaseRow]:
        return self._rows

    def _query_count(self) -> int:
        return self.counts.matching


@dataclass(frozen=True)
class CasePage:
    """One page of the case queue."""

    pagination: CasePagination
    rows: list[CaseRow]


def case_page(clinic_id: int, filters: CaseFilters, page: int, now: datetime) -> CasePage:
    """One page (of `PER_PAGE`) of the case queue: its rows in one statement, both counts (the
    page's and the navigation's) in one more."""
    cases = in_queue_order(cases_query(clinic_id, filters))
    loaded = load_cases(cases.limit(PER_PAGE).offset((page - 1) * PER_PAGE), now)
    rows = [case.row for case in loaded]
    pagination = CasePagination(rows, case_counts(clinic_id, filters), page, PER_PAGE)
    return CasePage(pagination, rows)


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


def cases_after_query(
    clinic_id: int, filters: CaseFilters, after: QueuePlace | None, limit: int
) -> Select:
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
    return stmt.limit(limit)


def cases_after(clinic_id: int, filters: CaseFilters, after: QueuePlace | None, limit: int) -> list:
    """The rows of `cases_after_query`."""
    return list(db.session.execute(cases_after_query(clinic_id, filters, after, limit)).all())


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
