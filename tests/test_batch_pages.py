"""The Batches page and a batch's page: figures, treatments, cases, signals and quarantine,
for the clinic's own batches only; admins quarantine, lift and close signals."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.batch_helpers import NOW, batch_url, signal, treated
from tests.builders import TREATED_AT
from tests.conftest import StaffActions, csrf_token
from tracker.extensions import db
from tracker.models import AuditEvent, BatchQuarantine, BatchSignal
from tracker.services.clinics.clinics import create_user


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def post_form(client, page_url: str, url: str, data: dict):
    token = csrf_token(client.get(page_url).text)
    return client.post(url, data={"csrf_token": token, **data})


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- the list --------------------------------------------------------------------------------


def test_the_batches_page_counts_treatments_patients_and_flags_per_batch(clinician_client, clinic):
    treated(clinic, "Ann One", reasons=("urgent", "review"))
    treated(clinic, "Bea Two", product=" BOTOX ", batch="c1234 ab5", reasons=("severe",))
    treated(clinic, "Cal Three", batch="c1234ab5", at=TREATED_AT + timedelta(days=2))
    treated(clinic, "Dee Four", reasons=("overdue",))
    treated(clinic, "Eve Five", product="Azzalure", batch="AZ 9")
    treated(clinic, "Old Timer", batch="OLD1", at=NOW - timedelta(days=121))
    db.session.commit()

    page = clinician_client.get("/clinic/batches")

    assert page.status_code == 200
    rows = re.findall(r'<tr class="batch-row">(.*?)</tr>', page.text, re.S)
    assert len(rows) == 2  # the batch used 121 days ago is past the look-back
    cells = [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[0], re.S)
    ]
    # Shown as the latest treatment spelt it; one batch however typed.
    assert cells[:8] == ["Botox", "c1234ab5", "4", "4", "1", "1", "1", "50% (2 of 4)"]
    assert "Azzalure" in rows[1]  # used less recently
    assert 'id="nav-batches"' in page.text
    assert audit_actions()[-1] == "batches.list"


def test_the_batches_page_shows_no_other_clinics_batches(clinician_client, clinic, other_clinic):
    treated(other_clinic, "Hal Hill", batch="HILL1")
    db.session.commit()

    page = clinician_client.get("/clinic/batches")

    assert "HILL1" not in page.text and 'id="no-batches"' in page.text


# --- one batch -------------------------------------------------------------------------------


def test_a_batch_page_lists_its_treatments_cases_and_signals(clinician_client, clinic):
    first = treated(clinic, "Ann One", reasons=("urgent",))
    second = treated(clinic, "Bea Two", at=TREATED_AT + timedelta(days=3), reasons=("severe",))
    treated(clinic, "Cal Other", batch="ZZ1")
    closed = signal(clinic, treatment_ids=[first.id], opened_at=NOW - timedelta(days=5))
    closed.closed_at, closed.outcome, closed.close_note = NOW, "no_concern", "Known bruiser"
    opened = signal(clinic, kind="spread", treatment_ids=[first.id, second.id, 999999])
    notice = signal(clinic, kind="notice", figures={"patients": 3})
    db.session.commit()

    page = clinician_client.get(batch_url()).text

    figures = " ".join(page[page.index('id="batch-figures"') :].split("</dl>")[0].split())
    assert "<dt>Treatments</dt><dd>2</dd> <dt>Patients</dt><dd>2</dd>" in figures
    assert "<dt>Patients with urgent flags</dt><dd>1</dd>" in figures
    assert "<dt>Patients with severe flags</dt><dd>1</dd>" in figures
    assert "100% <span" in figures and "(2 of 2 treatments with an urgent" in figures
    assert "Ann One" in page and "Bea Two" in page and "Cal Other" not in page
    treatments = page[page.index('id="batch-treatments"') :]
    assert treatments.index("Bea Two") < treatments.index("Ann One")  # the newest first
    assert f'href="/clinic/patients/{first.patient_id}"' in page
    assert f'href="/clinic/cases/{second.id}"' in page
    signals = page[page.index('id="signals"') : page.index('id="batch-cases"')]
    blocks = dict(
        re.findall(r'id="signal-(\d+)"(.*?)(?=<div class="flag-card|</section>)', signals, re.S)
    )
    order = [int(i) for i in blocks]
    assert order.index(opened.id) < order.index(closed.id) and order.index(notice.id) < order.index(
        closed.id
    )
    assert "Possible toxin spread" in blocks[str(opened.id)]
    assert f"/clinic/cases/{first.id}" in blocks[str(opened.id)]
    assert f"/clinic/cases/{second.id}" in blocks[str(opened.id)]
    assert "999999" not in signals  # another clinic's treatment (or none) is never linked
    assert "Signal at another clinic" in blocks[str(notice.id)]
    assert "/clinic/cases/" not in blocks[str(notice.id)]
    assert "No concern" in signals and "Known bruiser" in signals
    assert "close-signal" not in page  # a clinician sees, but cannot close
    assert 'id="quarantine"' in page and "quarantine-form" not in page
    assert audit_actions()[-1] == "batch.view"


@pytest.mark.parametrize(
    ("product", "batch"),
    [("Botox 50/100", "C 37/09"), ("Azzalure 100%", "A%2F1"), ("Bocouture Ü", "ÜB 1"), ("..", ".")],
)
def test_a_batch_url_round_trips_spaces_slashes_percent_and_letters(
    clinician_client, clinic, product, batch
):
    treated(clinic, "Ann One", product=product, batch=batch)
    db.session.commit()

    listed = clinician_client.get("/clinic/batches").text
    link = re.search(r'href="(/clinic/batches/[^"]+)"', listed).group(1)
    page = clinician_client.get(link)

    assert link == batch_url(product, batch)
    assert page.status_code == 200 and "Ann One" in page.text


def test_another_clinics_batch_and_an_unknown_one_are_not_found(
    clinician_client, clinic, other_clinic
):
    treated(other_clinic, "Hal Hill", batch="HILL1")
    signal(other_clinic, batch="HILL1")
    db.session.commit()

    assert clinician_client.get(batch_url(batch="HILL1")).status_code == 404
    assert clinician_client.get(batch_url(batch="NOPE")).status_code == 404
    assert clinician_client.get("/clinic/batches/botox/C1234%20AB5").status_code == 404


# --- the queue's banner ------------------------------------------------------------------------


def test_the_queue_lists_the_clinics_open_signals_with_links(
    clinician_client, clinic, other_clinic
):
    first = treated(clinic, "Ann One", product="Botox 50/100", reasons=("urgent",))
    opened = signal(clinic, product="Botox 50/100", treatment_ids=[first.id])
    closed = signal(clinic, kind="excess", product="Botox 50/100", opened_at=NOW - timedelta(1))
    closed.closed_at, closed.outcome = NOW, "reported"
    signal(other_clinic, batch="HILL1")
    db.session.commit()

    page = clinician_client.get("/clinic/flags").text

    banner = page[page.index('id="open-signals"') : page.index("</section>")]
    assert f'id="open-signal-{opened.id}"' in banner
    assert f'href="{batch_url("Botox 50/100")}"' in banner
    assert f"open-signal-{closed.id}" not in banner and "HILL1" not in banner


def test_the_queue_has_no_banner_without_open_signals(clinician_client, clinic):
    assert 'id="open-signals"' not in clinician_client.get("/clinic/flags").text


# --- closing a signal --------------------------------------------------------------------------


def close_url(row: BatchSignal, product="Botox", batch="C1234AB5") -> str:
    return batch_url(product, batch) + f"/signals/{row.id}/close"


def test_an_admin_closes_a_signal_with_an_outcome_and_a_note(admin_client, clinic, admin):
    first = treated(clinic, "Ann One")
    row = signal(clinic, treatment_ids=[first.id])
    db.session.commit()

    response = post_form(
        admin_client, batch_url(), close_url(row), {"outcome": "reported", "note": " Sent "}
    )

    assert response.status_code == 302
    db.session.refresh(row)
    assert (row.outcome, row.close_note, row.closed_by_id) == ("reported", "Sent", admin.id)
    assert row.closed_at == NOW
    assert "batch_signal.close" in audit_actions()
    page = admin_client.get(batch_url()).text
    assert "Reported to the manufacturer or regulator" in page and "Closed by" in page


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"outcome": "thrown_away"}, "Choose an outcome"),
        ({"outcome": ""}, "Choose an outcome"),
        ({"outcome": "reported", "note": "x" * 10_000}, "2,000 characters"),
    ],
)
def test_a_signal_is_not_closed_with_an_unknown_outcome_or_a_long_note(
    admin_client, clinic, admin, data, field_error
):
    treated(clinic, "Ann One")
    row = signal(clinic)
    db.session.commit()

    response = post_form(admin_client, batch_url(), close_url(row), data)

    assert response.status_code == 422 and field_error in response.text
    db.session.refresh(row)
    assert row.closed_at is None and "batch_signal.close" not in audit_actions()


def test_a_closed_signal_is_not_closed_again(admin_client, clinic, admin):
    treated(clinic, "Ann One")
    row = signal(clinic)
    row.closed_at, row.outcome = NOW - timedelta(hours=1), "no_concern"
    db.session.commit()

    response = post_form(admin_client, batch_url(), close_url(row), {"outcome": "reported"})

    assert response.status_code == 409 and "closed already" in response.text
    db.session.refresh(row)
    assert row.outcome == "no_concern"


def test_a_clinician_cannot_close_a_signal(clinician_client, clinic):
    treated(clinic, "Ann One")
    row = signal(clinic)
    db.session.commit()

    response = post_form(clinician_client, batch_url(), close_url(row), {"outcome": "reported"})

    assert response.status_code == 403
    db.session.refresh(row)
    assert row.closed_at is None


def test_another_clinics_signal_is_not_closed_from_this_clinics_batch(
    admin_client, clinic, admin, other_clinic
):
    treated(clinic, "Ann One")
    treated(other_clinic, "Hal Hill")
    theirs = signal(other_clinic)
    db.session.commit()

    response = post_form(admin_client, batch_url(), close_url(theirs), {"outcome": "reported"})

    assert response.status_code == 404
    db.session.refresh(theirs)
    assert theirs.closed_at is None


# --- quarantine --------------------------------------------------------------------------------


def test_an_admin_quarantines_a_batch_and_lifts_it(admin_client, clinic, admin):
    treated(clinic, "Ann One")
    db.session.commit()

    response = post_form(
        admin_client, batch_url(), batch_url() + "/quarantine", {"reason": "  Recalled  "}
    )

    assert response.status_code == 302
    row = db.session.scalars(select(BatchQuarantine)).one()
    assert (row.reason, row.quarantined_by_id, row.lifted_at) == ("Recalled", admin.id, None)
    page = admin_client.get(batch_url()).text
    assert 'id="quarantine-in-force"' in page
    assert "Riverside Admin" in page or admin.name in page
    assert "Recalled" in page
    assert "Quarantined" in admin_client.get("/clinic/batches").text

    response = post_form(admin_client, batch_url(), batch_url() + "/lift", {})

    assert response.status_code == 302
    db.session.refresh(row)
    assert row.lifted_by_id == admin.id and row.lifted_at == NOW
    assert 'id="quarantine-none"' in admin_client.get(batch_url()).text
    assert {"batch.quarantine", "batch.quarantine_lift"} <= set(audit_actions())


@pytest.mark.parametrize(
    ("reason", "message"), [("", "Give a reason"), ("   ", "Give a reason"), ("x" * 10_000, "500")]
)
def test_a_quarantine_needs_a_reason_of_reasonable_length(
    admin_client, clinic, admin, reason, message
):
    treated(clinic, "Ann One")
    db.session.commit()

    response = post_form(admin_client, batch_url(), batch_url() + "/quarantine", {"reason": reason})

    assert response.status_code == 422 and message in response.text
    assert db.session.scalar(select(func.count()).select_from(BatchQuarantine)) == 0
    assert "batch.quarantine" not in audit_actions()


def test_a_quarantined_batch_is_not_quarantined_twice(admin_client, clinic, admin):
    treated(clinic, "Ann One")
    db.session.commit()
    post_form(admin_client, batch_url(), batch_url() + "/quarantine", {"reason": "Recalled"})

    response = post_form(
        admin_client, batch_url(), batch_url() + "/quarantine", {"reason": "Again"}
    )

    assert response.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(BatchQuarantine)) == 1


def test_a_clinician_cannot_quarantine_or_lift(client, clinic):
    treated(clinic, "Ann One")
    db.session.commit()
    assert StaffActions(client).sign_in().status_code == 302

    assert (
        post_form(client, batch_url(), batch_url() + "/quarantine", {"reason": "X"}).status_code
        == 403
    )
    assert post_form(client, batch_url(), batch_url() + "/lift", {}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(BatchQuarantine)) == 0


def test_an_admin_of_another_clinic_cannot_quarantine_this_clinics_batch(
    client, clinic, other_clinic
):
    treated(clinic, "Ann One", batch="OURS1")
    create_user(other_clinic, "boss@hillside.test", "hillside-admin-pass", "admin")
    db.session.commit()
    assert (
        StaffActions(client).sign_in("boss@hillside.test", "hillside-admin-pass").status_code == 302
    )

    url = batch_url(batch="OURS1")
    response = post_form(client, "/clinic/batches", url + "/quarantine", {"reason": "X"})

    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(BatchQuarantine)) == 0


def test_a_signal_says_what_its_rule_counted_in_words(clinician_client, clinic):
    treated(clinic, "Ann One")
    signal(
        clinic,
        figures={
            "patients": 2,
            "treatments": 2,
            "symptoms": ["Difficulty swallowing", "Double or blurred vision"],
            "first_treated_at": "2026-03-02T10:00:00+00:00",
            "last_treated_at": "2026-03-09T10:00:00+00:00",
            "within_days": 28,
        },
    )
    excess = {"patients": 4, "treatments": 10, "serious": 4, "rate": 0.4, "other_treatments": 90}
    excess |= {"other_serious": 3, "other_rate": 0.0333, "expected_rate": 0.0385}
    signal(clinic, kind="excess", figures=excess | {"p_value": 0.000412})
    signal(clinic, kind="notice", figures={"kind": "spread", "patients": 3, "treatments": 4})
    db.session.commit()

    page = " ".join(clinician_client.get(batch_url()).text.split())

    assert (
        "2 different patients treated from this batch between 02 Mar 2026 and 09 Mar 2026"
        ", each within 28 days of another, reported signs that the toxin may have spread:"
        " Difficulty swallowing, Double or blurred vision." in page
    )
    assert "4 of 10 treatments (40%) against 3 of 90 (3%)" in page
    assert "exact binomial test gives p = 0.00041 (a signal below 0.01)" in page
    assert "At another clinic: possible toxin spread, from 3 patients (4 treatments)." in page
