"""Time helpers: everything is stored as aware UTC and shown in the viewer's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

EARLIEST_AT = datetime(2000, 1, 1, tzinfo=UTC)
"""The earliest time the app takes in. Earlier is a typo (botulinum toxin's cosmetic use began in
2002), and near year 1 a time cannot even be moved into a timezone east of UTC."""
LATEST_AT = datetime(9999, 12, 30, tzinfo=UTC)
"""The latest: a day short of the calendar's end, so that it can be shown in any timezone."""
TOO_EARLY = "Check the year: give a date from 2000 onwards."
TOO_LATE = "Check the year: that date is too far ahead."
CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of the server's clock a given time may be (a device's clock a little fast)
before it is refused as in the future: the product allows up to 5 minutes of clock skew."""


def utcnow() -> datetime:
    """The current time, aware, in UTC (the one clock the app reads)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; naive values are refused, never guessed."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    return value.astimezone(UTC)


def time_problem(value: datetime) -> str | None:
    """Why the app cannot take `value` in (outside `EARLIEST_AT` to `LATEST_AT`), or None.

    A naive value is a wall-clock time, compared as if it were UTC: no timezone is far enough
    from UTC to carry a time that passes over either end. Aware values are compared without
    being converted, which is what could overflow.
    """
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if aware < EARLIEST_AT:
        return TOO_EARLY
    if aware > LATEST_AT:
        return TOO_LATE
    return None


def local(value: datetime, tz_name: str) -> datetime:
    """`value` in the IANA timezone `tz_name`."""
    return value.astimezone(ZoneInfo(tz_name))


def local_date(value: datetime, tz_name: str) -> date:
    """The calendar date of `value` where the viewer is."""
    return local(value, tz_name).date()


def from_local(day: date, at: time, tz_name: str) -> datetime:
    """The UTC instant of a wall-clock time on a local date (fold=0 picks the first of a repeat)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz_name)).astimezone(UTC)


def day_number(treated_at: datetime, value: datetime, tz_name: str) -> int:
    """Day N of a treatment: local calendar days since the local treatment date (day 0)."""
    return (local_date(value, tz_name) - local_date(treated_at, tz_name)).days


def hours(delta: timedelta) -> float:
    """A timedelta in hours."""
    return delta.total_seconds() / 3600


def is_timezone(name: str) -> bool:
    """True for a valid IANA timezone name."""
    return name in timezone_names()


_TIMEZONES: list[str] = []


def timezone_names() -> list[str]:
    """The IANA timezone names, sorted (cached: reading them walks tzdata)."""
    if not _TIMEZONES:
        _TIMEZONES.extend(sorted(available_timezones() - {"localtime", "Factory"}))
    return _TIMEZONES
