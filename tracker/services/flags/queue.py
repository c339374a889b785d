"""Reading flags for clinicians: the flag list (the API's) and durations in words (the CSV
export is in `export`).

Every query here is scoped to one clinic by its caller's `clinic_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby

from sqlalchemy import ScalarSelect, Select, and_, case, select
from sqlalchemy.orm import selectinload

from ... import rules
from ...infrastructure.database import json_rows
from ...models import (
    ACKNOWLEDGED,
    OPEN,
    CheckIn,
    Flag,
    Symptom,
    SymptomReport,
    Treatment,
)
from ...timeutil import hours
from .flagging import load_catalogues, load_histories

PER_PAGE = 25
ACTIVE = (OPEN, ACKNOWLEDGED)
ALL_STATUSES = "all"
URGENCY = case(
    {reason.value: reason.priority for reason in rules.Reason},
    value=Flag.reason,
    else_=len(rules.Reason),
)
"""The queue's order of reasons (urgent first), as SQL, so the database sorts and pages."""


@dataclass(frozen=True)
class FlagFilters:
    """What the queue and the export are narrowed to; `status` None means open or acknowledged."""

    reason: str | None = None
    status: str | None = None
    practitioner_id: int | None = None

    def describe(self) -> str:
        """The filters in a few words for the audit trail (ids and codes only)."""
        return (
            f"reason={self.reason or 'any'};status={self.status or 'active'};"
            f"practitioner={self.practitioner_id or 'any'}"
        )


def _filtered(stmt: Select, clinic_id: int, filters: FlagFilters) -> Select:
    """Scope a select over flags to one clinic and the chosen filters."""
    stmt = stmt.join(Flag.treatment).where(
        Flag.clinic_id == clinic_id, Treatment.clinic_id == clinic_id
    )
    if filters.reason:
        stmt = stmt.where(Flag.reason == filters.reason)
    if filters.status is None:
        stmt = stmt.where(Flag.status.in_(ACTIVE))
    elif filters.status != ALL_STATUSES:
        stmt = stmt.where(Flag.status == filters.status)
    if filters.practitioner_id:
        stmt = stmt.where(Treatment.practitioner_id == filters.practitioner_id)
    return stmt


def queue_query(clinic_id: int, filters: FlagFilters) -> Select:
    """The clinic's flags, most urgent reason first, then the oldest opened first."""
    stmt = select(Flag).options(
        selectinload(Flag.treatment).selectinload(Treatment.patient),
        selectinload(Flag.treatment).selectinload(Treatment.practitioner),
        selectinload(Flag.symptom),
    )
    return _filtered(stmt, clinic_id, filters).order_by(URGENCY, Flag.opened_at, Flag.id)


def _histories(clinic_id: int, treatment_ids: Sequence[int]) -> dict[int, list[rules.Observation]]:
    """The check-ins of a page's treatments as the rules see them, in a few queries."""
    if not treatment_ids:
        return {}
    catalogue = load_catalogues([clinic_id])[clinic_id]
    return load_histories(sorted(set(treatment_ids)), catalogue.codes)


def history_column(treatment_id) -> ScalarSelect:
    """The check-ins of the treatment `treatment_id` (a column of the enclosing query) as one
    JSON value, read by `history_of`: a page's rows carry their histories in the same statement.

    One element per (check-in, symptom present): [check-in id, reported_at, code, severity,
    onset_at], code NULL for a check-in with nothing present (it still ends episodes).
    """
    return (
        select(
            json_rows(
                CheckIn.id,
                CheckIn.reported_at,
                Symptom.code,
                SymptomReport.severity,
                SymptomReport.onset_at,
            )
        )
        .select_from(CheckIn)
        .outerjoin(
            SymptomReport,
            and_(SymptomReport.checkin_id == CheckIn.id, SymptomReport.severity > 0),
        )
        .outerjoin(Symptom, Symptom.id == SymptomReport.symptom_id)
        .where(CheckIn.treatment_id == treatment_id)
        .scalar_subquery()
    )


def _utc(value: str | None) -> datetime | None:
    """A time as the JSON aggregates write it (naive UTC text on SQLite, ISO with an offset on
    PostgreSQL), aware in UTC."""
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def history_of(value: list | None) -> list[rules.Observation]:
    """The check-ins `history_column` read, as the rules see them, in time order."""
    elements = sorted(
        (
            (_utc(at), checkin_id, code, severity, onset)
            for checkin_id, at, code, severity, onset in value or ()
        ),
        key=lambda e: (e[0], e[1]),
    )
    return [
        rules.Observation(
            reported_at,
            tuple(
                rules.Report(code, severity, _utc(onset))
                for *_, code, severity, onset in reports
                if code is not None
            ),
        )
        for (reported_at, _), reports in groupby(elements, key=lambda e: (e[0], e[1]))
    ]


def describe_duration(flag: Flag, history: Sequence[rules.Observation], now: datetime) -> str:
    """How long the flag's symptom (or silence) lasted, e.g. "Bruising for 4 days, expected 3 days".

    Measured over the flag's episode, found by overlap in time (a late check-in may have moved
    its start), until it ended (a later "none", or for no response the next check-in) or, while
    it goes on, until `now`.
    """
    started_at = flag.episode_started_at
    if flag.symptom is None:
        ended_at = min((c.reported_at for c in history if c.reported_at > started_at), default=None)
        text = f"No check-in for {duration_words((ended_at or now) - started_at)}"
        return text + (" (has checked in since)" if ended_at else "")
    episode = rules.episode_of_flag(
        flag.symptom.code, history, flag.episode_started_at, flag.observed_at
    )
    started_at = episode.started_at if episode else started_at
    ended_at = episode.ended_at if episode else None
    verb = "lasted" if ended_at else "for"
    text = f"{flag.symptom.name} {verb} {duration_words((ended_at or now) - started_at)}"
    if flag.symptom.expected_hours:
        text += f", expected {duration_words(timedelta(hours=flag.symptom.expected_hours))}"
    return text


def duration_words(delta: timedelta) -> str:
    """A duration in whole units: "less than an hour", "30 hours", "4 days", "2 days 1 hour"."""
    whole_hours = int(hours(delta))
    if whole_hours < 1:
        return "less than an hour"
    if whole_hours < 48:
        return _plural(whole_hours, "hour")
    days, rest = divmod(whole_hours, 24)
    return _plural(days, "day") + (f" {_plural(rest, 'hour')}" if rest else "")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"
