"""The Welsh catalogue: every patient-facing message extracted from the code (`pybabel`, as
`make translations` runs it) has a Welsh translation that keeps its placeholders, and a Welsh
patient's pages and emails come out in Welsh while everyone else's stay English."""

from __future__ import annotations

import os
import re
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
