"""GET /api/v1/batches and /api/v1/batches/<product>/<batch>, and the admin-only POSTs that
quarantine a batch, lift it and close a signal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.api_helpers import Api, assert_error, mint_token
from tests.batch_helpers import NOW, batch_url, signal, treated
from tests.builders import TREATED_AT
from tracker.extensions import db
from tracker.models import AuditEvent, BatchQuarantine


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def nurse_api(app, clinic):
    return Api(app.test_client(), mint_token())


@pytest.fixture
def admin_api(app, admin):
    return Api(app.test_client(), mint_token(admin.email))


def api_url(product="Botox", batch="C1234AB5") -> str:
    return batch_url(product, batch, prefix="/api/v1")


def test_the_list_has_the_pages_figures_and_each_batchs_url(nurse_api, clinic, other_clinic):
    treated(clinic, "Ann One", product="Botox 50/100", reasons=("urgent", "severe"))
    treated(clinic, "Bea Two", product="BOTOX 50/100", at=TREATED_AT + timedelta(days=1))
    treated(other_clinic, "Hal Hill", product="Botox 50/100")
    signal(clinic, product="Botox 50/100")
    db.session.commit()

    body = nurse_api.get("/api/v1/batches").get_json()

    assert body["lookback_days"] == 120
    (batch,) = body["batches"]
    assert batch | {"last_used_at": None} == {
        "product": "BOTOX 50/100",
        "batch_number": "C1234AB5",
        "product_key": "botox 50/100",
        "batch_key": "C1234AB5",
        "url": api_url("Botox 50/100"),
        "treatments": 2,
        "patients": 2,
        "urgent_patients": 1,
        "severe_patients": 1,
        "review_patients": 0,
        "serious_treatments": 1,
        "serious_rate": 0.5,
        "last_used_at": None,
        "quarantined": False,
        "open_signals": 1,
    }
    assert batch["last_used_at"] == "2026-03-03T10:00:00Z"
    detail = nurse_api.get(batch["url"])
    assert detail.status_code == 200
    assert [t["patient_id"] for t in detail.get_json()["treatments"]] != []
    figures = {name: batch[name] for name in detail.get_json()["figures"]}
    assert detail.get_json()["figures"] == figures  # the list's figures, for the one batch
    assert len(figures) == 8


def test_the_detail_has_treatments_cases_quarantine_and_signals(nurse_api, clinic, admin):
    first = treated(clinic, "Ann One", reasons=("urgent",))
    second = treated(clinic, "Bea Two", at=TREATED_AT + timedelta(days=2))
    signal(clinic, treatment_ids=[first.id, 424242])
    signal(clinic, kind="notice", figures={"patients": 4, "clinics": 1, "sources": [77]})
    row = BatchQuarantine(
        clinic_id=clinic.id,
        product_key="botox",
        batch_key="C1234AB5",
        reason="Recalled",
        quarantined_at=NOW,
        quarantined_by_id=admin.id,
    )
    db.session.add(row)
    db.session.commit()

    body = nurse_api.get(api_url()).get_json()

    assert [t["id"] for t in body["treatments"]] == [second.id, first.id]
    assert body["treatments"][1] == {
        "id": first.id,
        "treated_at": "2026-03-02T10:00:00Z",
        "patient_id": first.patient_id,
        "quarantine_reason": None,
    }
    assert [(c["treatment_id"], c["reason"]) for c in body["cases"]] == [(first.id, "urgent")]
    assert body["quarantine"]["reason"] == "Recalled"
    assert body["quarantine"]["quarantined_by"]["id"] == admin.id
    by_kind = {s["kind"]: s for s in body["signals"]}
    assert by_kind["spread"]["case_treatment_ids"] == [first.id]  # never another clinic's
    assert by_kind["notice"]["case_treatment_ids"] == []
    assert by_kind["notice"]["figures"] == {"patients": 4, "clinics": 1}
    assert by_kind["notice"]["kind_label"] == "Signal at another clinic"
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == (
        "batch.view"
    )


def test_another_clinics_batch_and_an_unknown_one_are_404(nurse_api, clinic, other_clinic):
    treated(other_clinic, "Hal Hill", batch="HILL1")
    db.session.commit()

    assert_error(nurse_api.get(api_url(batch="HILL1")), 404)
    assert_error(nurse_api.get(api_url(batch="NOPE")), 404)
    assert_error(nurse_api.get("/api/v1/batches/botox/C1234%20AB5"), 404)
    assert "HILL1" not in nurse_api.get("/api/v1/batches").text


def test_without_a_token_the_batches_are_401(app, clinic):
    assert_error(app.test_client().get("/api/v1/batches"), 401)


# --- admin actions -----------------------------------------------------------------------------


def test_an_admin_token_quarantines_lifts_and_closes(admin_api, clinic, admin):
    treated(clinic, "Ann One")
    row = signal(clinic)
    db.session.commit()

    made = admin_api.post(api_url() + "/quarantine", {"reason": "Recalled"})
    assert made.status_code == 201 and made.get_json()["reason"] == "Recalled"
    assert_error(admin_api.post(api_url() + "/quarantine", {"reason": "Again"}), 409)
    closed = admin_api.post(api_url() + f"/signals/{row.id}/close", {"outcome": "quarantined"})
    assert closed.status_code == 200 and closed.get_json()["outcome"] == "quarantined"
    assert closed.get_json()["closed_by"] == {"id": admin.id, "name": admin.name}
    assert_error(
        admin_api.post(api_url() + f"/signals/{row.id}/close", {"outcome": "reported"}), 409
    )
    lifted = admin_api.post(api_url() + "/quarantine/lift")
    assert lifted.status_code == 200 and lifted.get_json()["lifted_by"]["id"] == admin.id
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"batch.quarantine", "batch.quarantine_lift", "batch_signal.close"} <= actions


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/quarantine", {"reason": "x" * 10_000}, "reason"),
        ("/quarantine", {"reason": "   "}, "reason"),
        ("/signals/{id}/close", {"outcome": "thrown_away"}, "outcome"),
        ("/signals/{id}/close", {"outcome": "quarantined"}, "outcome"),  # it is not
        ("/signals/{id}/close", {"outcome": "reported", "note": "x" * 10_000}, "note"),
    ],
)
def test_bad_input_is_422_and_nothing_is_saved(admin_api, clinic, url, body, field):
    treated(clinic, "Ann One")
    row = signal(clinic)
    db.session.commit()

    fields = assert_error(admin_api.post(api_url() + url.format(id=row.id), body), 422)

    assert field in fields
    assert db.session.scalar(select(func.count()).select_from(BatchQuarantine)) == 0
    db.session.refresh(row)
    assert row.closed_at is None


def test_a_clinicians_token_may_not_quarantine_or_close(nurse_api, clinic):
    treated(clinic, "Ann One")
    row = signal(clinic)
    db.session.commit()

    assert_error(nurse_api.post(api_url() + "/quarantine", {"reason": "X"}), 403)
    assert_error(nurse_api.post(api_url() + "/quarantine/lift"), 403)
    assert_error(
        nurse_api.post(api_url() + f"/signals/{row.id}/close", {"outcome": "reported"}), 403
    )
    assert db.session.scalar(select(func.count()).select_from(BatchQuarantine)) == 0


def test_the_batch_operations_are_in_the_document(app, nurse_api):
    paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]

    assert {"/api/v1/batches", "/api/v1/batches/{product}/{batch}"} <= set(paths)
    parameters = paths["/api/v1/batches/{product}/{batch}"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["product", "batch"]
    assert "pattern" in parameters[0]["schema"]
    assert "/api/v1/batches/{product}/{batch}" in app.test_client().get("/api/v1/docs").text
