"""Template filters and globals: times in the viewer's timezone and language, severity labels."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time

from babel.dates import format_datetime
from flask import Flask, current_app
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from .catalogue import AREA_NAMES, LANGUAGE_OWN_NAMES, SEVERITY_LABELS, SymptomText
from .i18n import current_locale, place_time
from .models import Symptom
from .services.photos.photos import MAX_PER_CHECKIN
from .timeutil import local

NAME_CODES = {"%a": "EEE", "%A": "EEEE", "%b": "MMM", "%B": "MMMM"}
"""The strftime codes of day and month names, as Babel (CLDR) patterns: named in the page's
language. Every other code is a number, the same in every language, and strftime writes it;
`%Z` is the place."""
STRFTIME_CODE = re.compile(r"%-?[a-zA-Z]")
TIME_FORMATS = {
    "time": "%H:%M",
    "weekday": "%a",
    "day": _l("%d %b"),
    "date": _l("%a %d %b"),
    "full_date": _l("%a %d %b %Y"),
    "since": _l("%a %d %b, %H:%M"),
    "moment": _l("%a %d %b %Y, %H:%M"),
    "moment_and_place": _l("%a %d %b %Y at %H:%M %Z"),
}
"""The ways the patient's pages and emails write a time, by name; each translated as a whole, so
that Welsh can say "am" (at) and put the words in its own order."""


def format_local(value: datetime | None, tz_name: str, pattern: str = "moment") -> str:
    """A UTC datetime shown in `tz_name`, in the current language: "Tue 24 Nov 2026, 09:00".

    `pattern` is one of `TIME_FORMATS` by name, or a strftime pattern (the staff pages' own);
    day and month names come from Babel in the page's language, and `%Z` is the timezone as a
    place ("UK time"), not a database name or an abbreviation.
    """
    if value is None:
        return ""
    pattern = str(TIME_FORMATS.get(pattern, pattern))
    moment = local(value, tz_name)
    locale = current_locale()
    parts = []
    for text, code in _split(pattern):
        if text:
            parts.append(text)
        if code == "%Z":
            parts.append(place_time(tz_name))
        elif code in NAME_CODES:
            parts.append(_date_name(moment.date(), NAME_CODES[code], locale))
        elif code == "%-d":
            parts.append(str(moment.day))  # glibc's strftime knows "%-d"; not every one does
        elif code:
            parts.append(moment.strftime(code))  # a number, the same in every language
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def _date_name(day: date, cldr_pattern: str, locale: str) -> str:
    """A day's weekday or month name in `locale` ("Tue", "Maw"): Babel's, kept once looked up
    (an email run writes the same few dates thousands of times)."""
    return format_datetime(datetime.combine(day, time()), cldr_pattern, locale=locale)


@functools.lru_cache(maxsize=256)
def _split(pattern: str) -> tuple[tuple[str, str], ...]:
    """`pattern` as (literal text, strftime code) pairs, the last code possibly empty."""
    pieces, start = [], 0
    for match in STRFTIME_CODE.finditer(pattern):
        pieces.append((pattern[start : match.start()], match.group()))
        start = match.end()
    pieces.append((pattern[start:], ""))
    return tuple(pieces)


def format_hours(hours: float | None) -> str:
    """Hours as a person says them: "48 hours", "3 days"."""
    if hours is None:
        return ""
    if hours >= 48 and hours % 24 == 0:
        days = int(hours // 24)
        return ngettext("%(num)d day", "%(num)d days", days)
    return ngettext("%(hours)s hour", "%(hours)s hours", round(hours), hours=f"{hours:g}")


def format_elapsed(hours: float) -> str:
    """How long something has lasted so far: "less than an hour", "about 5 hours", "3 days"."""
    if hours < 1:
        return gettext("less than an hour")
    if hours < 48:
        return ngettext("about %(num)d hour", "about %(num)d hours", round(hours))
    return ngettext("about %(num)d day", "about %(num)d days", round(hours / 24))


def tel_href(number: str) -> str:
    """A phone number as a `tel:` URL: digits and a leading + only ("029 2000 0000")."""
    return "tel:" + re.sub(r"(?!^\+)\D", "", number.strip())


def symptom_text(symptom: Symptom) -> SymptomText:
    """A catalogue entry's name, what to expect and advice, in the page's language."""
    return symptom.text(current_locale())


def symptom_name(symptom: Symptom) -> str:
    """A catalogue entry's name in the page's language."""
    return symptom_text(symptom).name


def format_iso_local(value: str | None, tz_name: str, pattern: str = "moment") -> str:
    """`format_local` of a time kept as ISO 8601 text (in JSON, e.g. a batch signal's figures)."""
    return format_local(datetime.fromisoformat(value), tz_name, pattern) if value else ""


def register(app: Flask) -> None:
    """Make the filters and globals available to every template."""
    app.add_template_filter(format_local, "local")
    app.add_template_filter(format_iso_local, "iso_local")
    app.add_template_filter(format_hours, "duration")
    app.add_template_filter(format_elapsed, "elapsed")
    app.add_template_filter(tel_href, "tel")
    app.add_template_filter(place_time, "place_time")
    app.add_template_filter(symptom_text, "symptom_text")
    app.add_template_filter(symptom_name, "symptom_name")
    # {% trans %} blocks are written wrapped like prose; their messages are the words alone.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.add_template_global(SEVERITY_LABELS, "SEVERITY_LABELS")
    app.add_template_global(AREA_NAMES, "AREA_NAMES")
    app.add_template_global(LANGUAGE_OWN_NAMES, "LANGUAGE_OWN_NAMES")
    app.add_template_global(MAX_PER_CHECKIN, "MAX_PHOTOS")

    @app.context_processor
    def settings() -> dict:
        config = current_app.config
        return {
            "emergency_number": config["EMERGENCY_NUMBER"],
            "emergency_service": config["EMERGENCY_SERVICE"],
            "non_urgent_number": config["NON_URGENT_NUMBER"],
        }
