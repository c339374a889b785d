"""Reading flags for clinicians: the flag list (the API's) and durations in words (the CSV
export is in `export`).

Every query here is scoped to one clinic by its caller's `clinic_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, case, select
from sqlalchemy.orm import selectinload

from ... import rules
from ...models import (
    ACKNOWLEDGED,
    OPEN,
    Flag,
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
