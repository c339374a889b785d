"""English and Welsh: which language a page or an email is in, and the message catalogues.

Patients read their pages and emails in their own language (`Patient.language`, set by the
clinic and switchable on the patient's pages); everyone else (staff pages, the API, the jobs'
emails to clinics) reads English. The staff pages' strings are not marked for translation yet,
but nothing here assumes they stay English: `select_locale` is the one place that decides.

The catalogues are `tracker/translations/<language>/LC_MESSAGES/messages.po`, extracted with
`pybabel` (babel.cfg). The compiled `.mo` files are build output, not source: the app compiles
each catalogue into `instance/translations/` when it starts, whenever the `.mo` there is missing
or older than its `.po`, so a fresh clone, `make run` and gunicorn all read the catalogue as
committed. Where no translation exists, the English is shown.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, force_locale, get_locale, gettext, refresh

from .catalogue import ENGLISH, LANGUAGES

SOURCE_DIRECTORY = Path(__file__).parent / "translations"
"""Where the committed `.po` catalogues are."""
DOMAIN = "messages"
PATIENT_BLUEPRINT = "patient"
"""The pages a patient reads: the only ones shown in a language other than English (for now)."""
UK_ZONES = ("Europe/London", "Europe/Belfast", "GB", "GB-Eire")
"""The names of the UK's one timezone, shown to patients as "UK time"."""

babel = Babel()


def N_(message: str) -> str:
    """Mark `message` for the catalogues without translating it here: the code that shows it
    translates it then, in the language of whoever is reading (`gettext(message)`)."""
    return message


def language_of(person: object | None) -> str:
    """The language to speak to `person` (a patient, or anyone else): theirs if we ship it."""
    language = getattr(person, "language", None)
    return language if language in LANGUAGES else ENGLISH


def select_locale() -> str:
    """The language of this request's page: the patient's on the patient's pages, else English.

    The patient is the signed-in one (`g.patient`) or, on a page reached before signing in
    (a personal link's first page, a stop link, the signed-out page), the one that page is
    about (`g.page_patient`). Outside a request (the jobs) it is English unless an email is
    being written under `speaking_to`.
    """
    if not has_request_context() or request.blueprint != PATIENT_BLUEPRINT:
        return ENGLISH
    return language_of(g.get("patient") or g.get("page_patient"))


def show_page_to(patient: object) -> None:
    """Speak `patient`'s language on this page, before they are signed in (or after)."""
    g.page_patient = patient
    refresh()  # Flask-Babel keeps a request's language once looked up: look it up again


@contextmanager
def speaking_to(patient: object) -> Iterator[None]:
    """Write an email (or anything outside a page) in `patient`'s language."""
    with force_locale(language_of(patient)):
        yield


def place_time(tz_name: str) -> str:
    """A timezone as a patient says it: "UK time", "New York time" (in the current language)."""
    if tz_name in UK_ZONES:
        return gettext("UK time")
    if tz_name in ("UTC", "Etc/UTC"):
        return "UTC"
    city = get_timezone_location(ZoneInfo(tz_name), locale=current_locale(), return_city=True)
    return gettext("%(place)s time", place=city)


def current_locale() -> str:
    """The language messages are in now ("en" outside an app)."""
    locale = get_locale()
    return str(locale) if locale is not None else ENGLISH


def compile_catalogues(source: Path, target: Path) -> list[Path]:
    """Compile each `.po` under `source` to a `.mo` under `target`, where missing or stale.

    Each file is written to a temporary name and renamed into place, so processes starting
    together (gunicorn's workers, parallel tests) never read half a catalogue. Fuzzy entries
    are left out: a translation nobody has confirmed is not shown. Returns the files written.
    """
    written = []
    for po_path in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parts[-3], domain=DOMAIN)
        handle, temporary = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(handle, "wb") as mo_file:
                write_mo(mo_file, catalog, use_fuzzy=False)
            os.replace(temporary, mo_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(mo_path)
    return written


def init_app(app: Flask) -> None:
    """Compile the catalogues for this instance and choose each request's language."""
    compiled = Path(app.instance_path) / "translations"
    compile_catalogues(SOURCE_DIRECTORY, compiled)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    babel.init_app(app, locale_selector=select_locale, default_locale=ENGLISH)

    @app.context_processor
    def language() -> dict:
        return {"page_language": current_locale()}
