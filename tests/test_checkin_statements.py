"""The patient's check-in path does a fixed amount of work (issue 14, part 4).

One `POST /checkin` runs a bounded number of SQL statements, whatever the treatment's history or
the size of the clinic's catalogue; the check-in form's class is built once per catalogue and
language and reused, and an edit of the catalogue is seen by the very next request.
"""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from tests import builders, test_patient_pages
from tests.conftest import csrf_token
from tests.sql_helpers import executed_statements
from tests.test_patient_pages import DAY1
from tracker.catalogue import ENGLISH, EXPECTED, URGENT
from tracker.extensions import db
from tracker.models import CheckIn, Symptom, User
from tracker.patient.forms import CheckInForm
from tracker.services.clinics import catalogue_admin
from tracker.services.clinics.catalogue_admin import clinic_symptoms

signed_in = test_patient_pages.signed_in
"""Pat, treated yesterday, has opened this morning's link (the patient pages' fixture)."""

MAX_STATEMENTS_PER_CHECKIN = 17
"""Every statement of one `POST /checkin` reporting three symptoms, from BEGIN to the last one
(session check, treatment, catalogue, the check-in's inserts, the flags' judgement and the
treatment's next judgement for the sweep, audit). It was 20 before the path was profiled
(issue 14 part 4), 22 once the treatment had a history; keeping the follow-up state adds two
(when the treatment was superseded, and the update of its `followup_due_at`)."""


def graded_codes(clinic_id: int) -> list[str]:
    """The clinic's symptoms answered with a severity (not the urgent list), in order."""
    return [s.code for s in clinic_symptoms(clinic_id) if s.action != URGENT]


def checkin_statements(client, clinic_id: int, **files) -> list[str]:
    """The statements of one check-in through the form reporting three symptoms as mild
    (sent url-encoded, or multipart with `files`)."""
    page = client.get("/checkin")
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), **files}
    data.update({f"severity_{code}": "1" for code in graded_codes(clinic_id)[:3]})
    with executed_statements() as statements:
        response = client.post("/checkin", data=data)
    assert response.status_code == 302, response.text
    return statements


def add_symptoms(clinic_id: int, how_many: int) -> None:
    """Grow the clinic's catalogue by `how_many` expected symptoms."""
    for n in range(how_many):
        db.session.add(
            Symptom(
                clinic_id=clinic_id,
                code=f"extra_{n}",
                name=f"Extra symptom {n}",
                action=EXPECTED,
                expected_hours=24,
                position=1000 + n,
            )
        )
    db.session.commit()


def test_one_checkin_through_the_form_runs_a_bounded_number_of_statements(client, signed_in):
    patient, _ = signed_in
    statements = checkin_statements(client, patient.clinic_id)
    assert len(statements) <= MAX_STATEMENTS_PER_CHECKIN, "\n".join(statements)


def test_a_checkin_from_the_phones_multipart_form_without_photos_costs_the_same(
    client, signed_in, time_machine
):
    """The form can carry photos now (multipart, two file inputs); left empty, the check-in
    runs exactly the statements of the same check-in sent url-encoded: no photo query at all."""
    patient, _ = signed_in
    plain = checkin_statements(client, patient.clinic_id)
    time_machine.move_to(DAY1 + timedelta(minutes=5), tick=False)
    empty_inputs = {"photos": [(io.BytesIO(b""), ""), (io.BytesIO(b""), "")]}
    multipart = checkin_statements(client, patient.clinic_id, **empty_inputs)
    assert len(multipart) == len(plain), "\n".join(multipart)
    assert not [s for s in multipart if "photos" in s]


def test_the_statements_do_not_grow_with_the_history_or_the_catalogue(
    client, signed_in, time_machine
):
    patient, _ = signed_in
    first = len(checkin_statements(client, patient.clinic_id))
    for minutes in range(5, 30, 5):  # five more check-ins of the same treatment (one session)
        time_machine.move_to(DAY1 + timedelta(minutes=minutes), tick=False)
        checkin_statements(client, patient.clinic_id)
    add_symptoms(patient.clinic_id, 10)
    time_machine.move_to(DAY1 + timedelta(minutes=30), tick=False)
    later = len(checkin_statements(client, patient.clinic_id))
    assert db.session.scalar(select(db.func.count(CheckIn.id))) == 7
    # The same budget (the treatment's UPDATE is left out when its next judgement stays put).
    assert first <= MAX_STATEMENTS_PER_CHECKIN and later <= MAX_STATEMENTS_PER_CHECKIN


def test_the_answer_page_after_a_checkin_reads_each_thing_once(client, signed_in):
    patient, _ = signed_in
    page = client.get("/checkin")
    codes = graded_codes(patient.clinic_id)[:3]
    data = {"csrf_token": csrf_token(page.text), **{f"severity_{c}": "2" for c in codes}}
    answer_url = client.post("/checkin", data=data).headers["Location"]
    with executed_statements() as statements:
        assert client.get(answer_url).status_code == 200
    symptom_reads = [s for s in statements if s.lstrip().startswith("SELECT symptoms.")]
    assert len(symptom_reads) <= 2, "\n".join(statements)  # the reports' and the timeline's


def form_class(clinic_id: int, language: str = ENGLISH) -> type:
    """The class of the check-in form built for the clinic's catalogue now."""
    return type(CheckInForm.for_catalogue(clinic_symptoms(clinic_id), language))


def test_the_form_class_is_built_once_per_catalogue_and_language(app, clinic):
    with app.test_request_context("/checkin"):
        english = form_class(clinic.id)
        assert form_class(clinic.id) is english
        assert form_class(clinic.id, "cy") is not english
        assert form_class(clinic.id, "cy") is form_class(clinic.id, "cy")


def test_a_catalogue_edit_is_seen_by_the_next_checkin_form(
    client, signed_in, patient_actions, admin
):
    patient, _ = signed_in
    with client.application.test_request_context("/checkin"):
        before = form_class(patient.clinic_id)
    assert "Bruising" in patient_actions.checkin_page().text
    bruising = builders.symptom(patient.clinic_id, "bruising")
    edit = catalogue_admin.SymptomEdit.of(bruising)
    catalogue_admin.update_symptom(
        bruising,
        catalogue_admin.SymptomEdit(
            "Bruises", edit.action, edit.expected_hours, edit.expected_text, edit.advice
        ),
        actor=db.session.get(User, admin.id),
    )
    db.session.commit()
    page = patient_actions.checkin_page().text
    assert "Bruises" in page
    assert "Bruising" not in page
    with client.application.test_request_context("/checkin"):
        assert form_class(patient.clinic_id) is not before
