"""Batches for the batch watch's tests: treatments from one batch, flags, and signal rows
stored directly (the sweep that raises them is tested with its rules)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests import builders
from tests.builders import TREATED_AT
from tracker.batch_urls import key_to_segment
from tracker.batches import batch_key, product_key
from tracker.extensions import db
from tracker.models import BatchSignal, Clinic, Treatment

NOW = TREATED_AT + timedelta(days=10)


def treated(
    clinic: Clinic,
    name: str,
    product: str = "Botox",
    batch: str = "C1234AB5",
    at: datetime = TREATED_AT,
    reasons: tuple[str, ...] = (),
) -> Treatment:
    """A new patient `name` treated from the batch at `at`, with a flag for each reason."""
    patient = builders.patient(clinic, name)
    treatment = builders.treatment(patient, at, product=product, batch=batch)
    for reason in reasons:
        code = None if reason == "no_response" else "bruising"
        builders.flag(treatment, reason, code, opened_at=at + timedelta(days=1))
    return treatment


def signal(
    clinic: Clinic,
    kind: str = "spread",
    product: str = "Botox",
    batch: str = "C1234AB5",
    treatment_ids: list[int] | None = None,
    figures: dict | None = None,
    opened_at: datetime = NOW,
) -> BatchSignal:
    row = BatchSignal(
        clinic_id=clinic.id,
        kind=kind,
        product_key=product_key(product),
        batch_key=batch_key(batch),
        product=product,
        batch_number=batch,
        treatment_ids=treatment_ids or [],
        figures=figures or {"patients": 2},
        opened_at=opened_at,
    )
    db.session.add(row)
    db.session.flush()
    return row


def batch_url(product: str = "Botox", batch: str = "C1234AB5", prefix: str = "/clinic") -> str:
    """The batch page's path (or the API's, with prefix "/api/v1"), its keys encoded."""
    segments = key_to_segment(product_key(product)), key_to_segment(batch_key(batch))
    return f"{prefix}/batches/{segments[0]}/{segments[1]}"
