"""The Welsh catalogue: every patient-facing message extracted from the code (`pybabel`, as
`make translations` runs it) has a Welsh translation that keeps its placeholders, and a Welsh
patient's pages and emails come out in Welsh while everyone else's stay English."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from tracker.extensions import db
from tracker.models import OutboxMessage
from tracker.services.messaging.messages import queue_invite

ROOT = Path(__file__).resolve().parent.parent
WELSH_PO = ROOT / "tracker/translations/cy/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]")
EXTRACT = ["pybabel", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "N_", "--no-location"]
"""The extraction `make translations` runs (keywords: the lazy `_l` and the marker `N_`)."""
TEMPLATES = ROOT / "templates"
STAFF_EMAILS = {"_staff_layout.html", "digest.html", "digest.txt"} | {
    "urgent_alert.html",
    "urgent_alert.txt",
    *(
        f"{name}.{ext}"
        for name in ("batch_spread_alert", "batch_notice")
        for ext in ("html", "txt")
    ),
}
"""The emails to clinics, which stay English like the staff pages; every other email is a
patient's."""
PATIENT_TEMPLATES = sorted(
    [
        *TEMPLATES.glob("patient/*.html"),
        *(p for p in TEMPLATES.glob("email/*") if p.name not in STAFF_EMAILS),
        *(TEMPLATES / name for name in ("base.html", "_macros.html", "_chart.html")),
        TEMPLATES / "errors/error.html",
    ]
)
WORD = re.compile(r"[A-Za-z]{2,}")
NAMES = {"Aftercare"}
"""Words that are the same in every language."""
READ_ALOUD = {"aria-label", "title", "alt", "placeholder"}
"""Attributes whose text a person reads or hears, like the text between tags."""


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    template = tmp_path_factory.mktemp("babel") / "messages.pot"
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run([*EXTRACT, "-o", str(template), "."])
    finally:
        os.chdir(here)
    with template.open("rb") as pot:
        catalog = read_po(pot)
    assert len(catalog) > 200  # the extraction found the messages (not an empty run)
    return catalog


@pytest.fixture(scope="module")
def welsh():
    with WELSH_PO.open("rb") as po:
        return read_po(po, locale="cy")


def test_every_message_has_a_current_welsh_translation_with_its_placeholders(extracted, welsh):
    problems = []
    for message in extracted:
        if not message.id:
            continue
        translated = welsh.get(message.id)
        strings = (
            [s for s in translated.string] if translated and message.pluralizable else None
        ) or ([translated.string] if translated else [])
        if not translated or not all(strings) or translated.fuzzy:
            problems.append(f"untranslated: {message.id!r}")
            continue
        source = message.id[-1] if message.pluralizable else message.id
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != set(PLACEHOLDER.findall(source)):
                problems.append(f"placeholders differ: {message.id!r} -> {string!r}")
    stale = [m.id for m in welsh if m.id and extracted.get(m.id) is None]
    assert problems == [] and stale == []


def test_a_welsh_patient_reads_the_check_in_in_welsh(make_patient, patient_actions):
    patient, _ = make_patient()
    patient.language = "cy"
    db.session.commit()
    assert patient_actions.sign_in(patient).status_code == 302
    page = patient_actions.checkin_page().text
    assert '<html lang="cy">' in page
    assert "Sut ydych chi heddiw?" in page and "Dim symptomau heddiw" in page
    assert "How are you today?" not in page


def test_an_english_patient_and_the_staff_pages_stay_english(make_patient, patient_actions):
    patient, _ = make_patient()
    assert patient_actions.sign_in(patient).status_code == 302
    page = patient_actions.checkin_page().text
    assert '<html lang="en">' in page and "How are you today?" in page


def test_a_welsh_patients_invite_is_in_welsh_with_the_time_as_a_place(make_patient):
    patient, treatment = make_patient()
    patient.language = "cy"
    queue_invite(treatment)
    db.session.commit()
    message = db.session.query(OutboxMessage).one()
    assert message.subject == "Rhoi gwybod i Riverside Clinic sut rydych chi ar ôl eich triniaeth"
    assert "Helo Pat Example," in message.body_text
    assert "amser y DU" in message.body_text and "UK time" not in message.body_text
    assert '<html lang="cy">' in message.body_html


def markup_outside_messages(environment, source: str) -> str:
    """The template's own markup: every `{{ ... }}` and `{% trans %}...{% endtrans %}` replaced
    by a placeholder character, and the other tags (`{% if %}`, ...) dropped."""
    out, in_message, after_tag_start = [], False, False
    for _line, kind, value in environment.lex(source):
        if kind == "block_begin":
            after_tag_start = True
        elif after_tag_start and kind == "name":
            in_message = value == "trans" or (in_message and value != "endtrans")
            out.append("\x01" if value == "trans" else "")
            after_tag_start = False
        elif not in_message and kind == "data":
            out.append(value)
        elif not in_message and kind == "variable_begin":
            out.append("\x01")
    return "".join(out)


class EnglishFinder(HTMLParser):
    """The words a reader meets (text, and attributes read aloud) in markup."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def _check(self, text: str) -> None:
        if [word for word in WORD.findall(text) if word not in NAMES]:
            self.found.append(" ".join(text.replace("\x01", "{}").split()))

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in READ_ALOUD and value:
                self._check(value)

    def handle_data(self, data):
        self._check(data)


def english_outside_messages(environment, source: str) -> list[str]:
    finder = EnglishFinder()
    finder.feed(markup_outside_messages(environment, source))
    return finder.found


def test_the_check_finds_english_outside_a_message(app):
    source = (
        '<p>{{ _("Fine") }} Hello <b>{{ name }}</b></p><a aria-label="Go {{ x }}">{{ y }}</a>'
        "{% trans %}Also fine{% endtrans %}{% if x %}<i>Aftercare</i>{% endif %}"
    )
    assert english_outside_messages(app.jinja_env, source) == ["{} Hello", "Go {}"]


@pytest.mark.parametrize("template", PATIENT_TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_patient_template_has_english_outside_a_message(app, template):
    assert english_outside_messages(app.jinja_env, template.read_text()) == []
