"""Time helpers: everything is stored as aware UTC and shown in the viewer's timezone.

A wall-clock time someone types (a treatment, a symptom's onset, a phone call) becomes UTC in
one place, `local_to_utc`, which is strict about clock changes: a time the clocks skipped (the
spring gap) is refused, and so is a time that happened twice (the autumn repeat). Asking which
of the two was meant would add a question to every form for a case a minute either side
answers as well, and guessing could put a check-in before the one that followed it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_date
from flask_babel import gettext

from .i18n import N_, current_locale, place_time
from .invalid import InvalidInput

EARLIEST_AT = datetime(2000, 1, 1, tzinfo=UTC)
"""The earliest time the app takes in. Earlier is a typo (botulinum toxin's cosmetic use began in
2002), and near year 1 a time cannot even be moved into a timezone east of UTC."""
LATEST_AT = datetime(9999, 12, 30, tzinfo=UTC)
"""The latest: a day short of the calendar's end, so that it can be shown in any timezone."""
TOO_EARLY = N_("Check the year: give a date from 2000 onwards.")
TOO_LATE = N_("Check the year: that date is too far ahead.")
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
        return gettext(TOO_EARLY)
    if aware > LATEST_AT:
        return gettext(TOO_LATE)
    return None


def local(value: datetime, tz_name: str) -> datetime:
    """`value` in the IANA timezone `tz_name`."""
    return value.astimezone(ZoneInfo(tz_name))


def local_date(value: datetime, tz_name: str) -> date:
    """The calendar date of `value` where the viewer is."""
    return local(value, tz_name).date()


def local_to_utc(value: datetime, tz_name: str, *, field: str) -> datetime:
    """The UTC instant of the naive wall-clock time `value` in `tz_name`.

    Raises `InvalidInput` naming `field` for a time the app cannot store (`time_problem`), one
    that does not exist there (the clocks went forward over it) or one that happens twice (the
    clocks went back over it): the message says which, for the person who typed it.
    """
    if value.tzinfo is not None:
        raise ValueError("a wall-clock time is naive: its timezone is `tz_name`")
    if problem := time_problem(value):
        raise InvalidInput.on(field, problem)
    zone = ZoneInfo(tz_name)
    first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
    # zoneinfo reads a skipped or repeated time with the offset before the change (fold=0) or
    # after it (fold=1); elsewhere both are the same. A rising offset skipped it, a falling one
    # repeated it.
    before, after = first.utcoffset(), second.utcoffset()
    if before is not None and after is not None and before != after:
        words = {
            "time": f"{value:%H:%M}",
            "date": format_date(value.date(), "d MMMM yyyy", locale=current_locale()),
            "place": place_time(tz_name),
        }
        if before < after:
            message = gettext(
                "%(time)s on %(date)s does not exist in %(place)s: the clocks went forward."
                " Choose another time.",
                **words,
            )
        else:
            message = gettext(
                "%(time)s on %(date)s happens twice in %(place)s: the clocks went back, so it"
                " could be either. Choose a time just before or after the change.",
                **words,
            )
        raise InvalidInput.on(field, message)
    return first.astimezone(UTC)


def from_local(day: date, at: time, tz_name: str) -> datetime:
    """The UTC instant of a wall-clock time on a local date (strict, as `local_to_utc`)."""
    return local_to_utc(datetime.combine(day, at), tz_name, field="time")


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
