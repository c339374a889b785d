"""The CSV export of flags: the queue's filters, or one case (treatment), for a spreadsheet.

Symptoms by name beside their code; times in the clinic's timezone to the minute (as the queue
shows them), with the timezone in a column of its own. Scoped to one clinic by the caller's
`clinic_id`, like every clinician query.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Engine, select

from ...models import Flag, Patient, Symptom, Treatment, User
from ...timeutil import local
from .queue import FlagFilters, _filtered

CSV_COLUMNS = (
    "flag_id",
    "opened_at",
    "acknowledged_at",
    "resolved_at",
    "timezone",
    "patient_id",
    "patient_name",
    "treatment_id",
    "symptom",
    "symptom_name",
    "reason",
    "status",
    "outcome",
    "practitioner",
    "product",
    "batch_number",
)
LOCAL_MINUTE = "%Y-%m-%d %H:%M"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet runs a cell starting with one of these as a formula (CSV injection)."""


def csv_cell(value: object, tz_name: str) -> str:
    """One CSV cell: times in `tz_name` to the minute, text that a spreadsheet would run
    defused with '."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local(value, tz_name).strftime(LOCAL_MINUTE)
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def export_csv(
    engine: Engine,
    clinic_id: int,
    filters: FlagFilters,
    *,
    tz_name: str,
    treatment_id: int | None = None,
) -> Iterator[str]:
    """The filtered flags (of one treatment, if given) as CSV text, a header then one line per
    flag, oldest first, streamed in batches; times in `tz_name`, the clinic's timezone.

    Read on a connection of its own, opened when the first row is wanted and closed after the
    last: the response is streamed after the view (and its session) has finished.
    """
    stmt = _filtered(
        select(
            Flag.id,
            Flag.opened_at,
            Flag.acknowledged_at,
            Flag.resolved_at,
            Patient.id,
            Patient.name,
            Treatment.id,
            Symptom.code,
            Symptom.name,
            Flag.reason,
            Flag.status,
            Flag.outcome,
            User.name,
            Treatment.product,
            Treatment.batch_number,
        ).select_from(Flag),
        clinic_id,
        filters,
    )
    if treatment_id is not None:
        stmt = stmt.where(Flag.treatment_id == treatment_id)
    stmt = (
        stmt.join(Treatment.patient)
        .outerjoin(Flag.symptom)
        .outerjoin(User, Treatment.practitioner_id == User.id)
        .order_by(Flag.opened_at, Flag.id)
    )
    yield _csv_line(CSV_COLUMNS)
    with engine.connect() as connection:
        for row in connection.execution_options(yield_per=500).execute(stmt):
            cells = [csv_cell(value, tz_name) for value in row]
            cells.insert(CSV_COLUMNS.index("timezone"), tz_name)
            yield _csv_line(cells)


def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()
