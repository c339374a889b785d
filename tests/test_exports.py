"""Exports a clinician finds in the page: flags as CSV (the queue's, or one case's) and a case's
FHIR bundle, through the browser with CSRF on.

The CSV names each symptom beside its code and gives the clinic's local time to the minute with
the timezone in its own column; resolved flags come with a status filter. The FHIR download
itself is tested in test_fhir.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import builders
from tests.conftest import STAFF_PASSWORD, TREATED_AT, StaffActions
from tracker.extensions import db
from tracker.models import AuditEvent, Flag, Treatment
from tracker.services.clinics.clinics import create_user
from tracker.services.governance.data_rights import erase_patient

NOW = TREATED_AT + timedelta(days=5)  # 2026-03-07 10:00 UTC


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def add_flag(treatment: Treatment, reason: str, code: str | None = None, **fields) -> Flag:
    """A flag row opened two hours ago unless told otherwise, committed."""
    fields.setdefault("opened_at", NOW - timedelta(hours=2))
    status = fields.pop("status", "open")
    flag = builders.flag(treatment, reason, code, **fields)
    flag.status = status
    db.session.commit()
    return flag


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.text)))


def audit_rows(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def case_csv(client, treatment_id: int):
    return client.get(f"/clinic/treatments/{treatment_id}/flags.csv")


# --- the columns --------------------------------------------------------------------------------


def test_the_csv_names_symptoms_and_gives_clinic_minutes_with_the_timezone(
    client, clinic, nurse, make_patient
):
    clinic.timezone = "America/New_York"  # UTC-5 in early March
    doctor = create_user(clinic, "dr@riverside.test", STAFF_PASSWORD, name="Dr Quinn")
    patient, treatment = make_patient("Ivy Export")
    treatment.practitioner_id = doctor.id
    flag = add_flag(treatment, "overdue", "bruising", opened_at=NOW.replace(hour=8, second=41))
    flag.status, flag.outcome = "resolved", "self_care"
    flag.acknowledged_at, flag.resolved_at = NOW.replace(hour=9), NOW.replace(hour=9, minute=30)
    db.session.commit()

    response = client.get("/clinic/flags.csv?status=all")

    assert response.headers["Content-Disposition"] == (
        'attachment; filename="flags-20260307-0500.csv"'  # the clinic's time of the download
    )
    assert response.text.splitlines()[0] == (
        "flag_id,opened_at,acknowledged_at,resolved_at,timezone,patient_id,patient_name,"
        "treatment_id,symptom,symptom_name,reason,status,outcome,practitioner,product,"
        "batch_number"
    )
    assert read_csv(response) == [
        {
            "flag_id": str(flag.id),
            "opened_at": "2026-03-07 03:00",
            "acknowledged_at": "2026-03-07 04:00",
            "resolved_at": "2026-03-07 04:30",
            "timezone": "America/New_York",
            "patient_id": str(patient.id),
            "patient_name": "Ivy Export",
            "treatment_id": str(treatment.id),
            "symptom": "bruising",
            "symptom_name": "Bruising",
            "reason": "overdue",
            "status": "resolved",
            "outcome": "self_care",
            "practitioner": "Dr Quinn",
            "product": "Botox",
            "batch_number": "C1234AB5",
        }
    ]


def test_a_no_response_flag_has_no_symptom_in_the_csv(client, nurse, make_patient):
    _, treatment = make_patient()
    add_flag(treatment, "no_response")

    [row] = read_csv(client.get("/clinic/flags.csv"))

    assert (row["symptom"], row["symptom_name"], row["reason"]) == ("", "", "no_response")


# --- resolved flags: the status filter ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "statuses"),
    [
        ("", ["open", "acknowledged"]),  # as the queue: the flags still to work
        ("?status=resolved", ["resolved"]),
        ("?status=all", ["open", "acknowledged", "resolved"]),
    ],
    ids=["default-leaves-resolved-out", "resolved-only", "all"],
)
def test_resolved_flags_are_exported_when_the_status_filter_asks(
    client, nurse, make_patient, query, statuses
):
    _, treatment = make_patient()
    add_flag(treatment, "overdue", "bruising", opened_at=NOW - timedelta(hours=3))
    add_flag(
        treatment, "overdue", "headache", opened_at=NOW - timedelta(hours=2), status="acknowledged"
    )
    add_flag(treatment, "severe", "swelling", opened_at=NOW - timedelta(hours=1), status="resolved")

    rows = read_csv(client.get(f"/clinic/flags.csv{query}"))

    assert [r["status"] for r in rows] == statuses


# --- one case -----------------------------------------------------------------------------------


def test_a_cases_csv_has_every_flag_of_that_treatment_whatever_its_status(
    client, nurse, make_patient
):
    _, treatment = make_patient("Ada Case")
    resolved = add_flag(
        treatment,
        "review",
        "eyelid_drooping",
        opened_at=NOW - timedelta(hours=5),
        status="resolved",
    )
    still_open = add_flag(treatment, "overdue", "bruising")
    _, other = make_patient("Bo Elsewhere")
    add_flag(other, "overdue", "bruising")

    response = case_csv(client, treatment.id)

    rows = read_csv(response)
    assert [r["flag_id"] for r in rows] == [str(resolved.id), str(still_open.id)]
    assert {r["patient_name"] for r in rows} == {"Ada Case"}
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="case-{treatment.id}-flags-20260307-1000.csv"'
    )


def test_a_cases_csv_is_audited_against_its_patient(client, clinic, nurse, make_patient):
    patient, treatment = make_patient()
    add_flag(treatment, "overdue", "bruising")

    case_csv(client, treatment.id)

    [row] = audit_rows("treatment.export.csv")
    assert (row.actor_type, row.clinic_id, row.patient_id) == ("user", clinic.id, patient.id)
    assert row.target == f"treatment:{treatment.id}"


@pytest.mark.parametrize("export", ["flags.csv", "fhir"])
def test_another_clinics_case_is_not_found(client, clinic, other_clinic, make_patient, export):
    _, ours = make_patient("Jo Ours")
    add_flag(ours, "overdue", "bruising")
    assert StaffActions(client).sign_in("nurse@hillside.test").status_code == 302

    response = client.get(f"/clinic/treatments/{ours.id}/{export}")

    assert response.status_code == 404
    assert "Jo Ours" not in response.text
    assert (
        db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.patient_id.is_not(None))
        ).all()
        == []
    )


@pytest.mark.parametrize("export", ["flags.csv", "fhir"])
def test_a_case_that_does_not_exist_is_not_found(client, nurse, export):
    assert client.get(f"/clinic/treatments/999999/{export}").status_code == 404
    assert client.get(f"/clinic/treatments/abc/{export}").status_code == 404


@pytest.mark.parametrize("url", ["/clinic/treatments/1/flags.csv", "/clinic/treatments/1/fhir"])
def test_signed_out_visitors_are_sent_to_sign_in(client, make_patient, url):
    make_patient()
    response = client.get(url)
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


def test_an_erased_patients_case_is_exported_under_the_placeholder_name(
    client, nurse, make_patient
):
    patient, treatment = make_patient("Erin Gone")
    add_flag(treatment, "review", "eyelid_drooping")
    erase_patient(patient, now=NOW - timedelta(hours=1))
    db.session.commit()

    [row] = read_csv(case_csv(client, treatment.id))
    bundle = client.get(f"/clinic/treatments/{treatment.id}/fhir")

    assert row["patient_name"] == f"Erased patient #{patient.id}"
    assert bundle.status_code == 200
    assert "Erin Gone" not in bundle.text and "Erin Gone" not in case_csv(client, treatment.id).text


# --- the buttons ---------------------------------------------------------------------------------


def test_the_queue_offers_its_csv_with_the_chosen_filters(client, nurse, make_patient):
    _, treatment = make_patient()
    add_flag(treatment, "overdue", "bruising")

    page = client.get("/clinic/flags?reason=overdue&status=acknowledged")

    assert page.status_code == 200
    assert (
        'href="/clinic/flags.csv?reason=overdue&amp;status=acknowledged">Download CSV' in page.text
    )
    assert (
        'href="/clinic/flags.csv?reason=overdue&amp;status=all">CSV including resolved' in page.text
    )


def test_the_flag_page_offers_the_cases_fhir_bundle_and_csv(client, nurse, make_patient):
    _, treatment = make_patient()
    flag = add_flag(treatment, "overdue", "bruising")

    page = client.get(f"/clinic/flags/{flag.id}")

    assert f'href="/clinic/treatments/{treatment.id}/fhir">FHIR bundle</a>' in page.text
    assert f'href="/clinic/treatments/{treatment.id}/flags.csv">Download CSV</a>' in page.text
