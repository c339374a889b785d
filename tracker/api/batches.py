"""Batches: what the clinic used lately with its figures, one batch's record, and (admin
tokens) quarantining a batch, lifting it, and closing its signals.

A batch is named in the path by its keys, each encoded as tracker/batch_urls.py says (the
list's `url` gives each batch's path); one the clinic never treated from is a 404.
"""

from __future__ import annotations

from flask import g, url_for

from ..batch_urls import add_converter
from ..catalogue import DEFAULT_BATCH_WATCH
from ..extensions import db
from ..models import SIGNAL_KINDS, BatchQuarantine, BatchSignal, User
from ..services.batches import quarantine, signals
from ..services.batches.record import BatchRecord, batch_record
from ..services.batches.usage import batch_usage
from ..timeutil import utcnow
from . import batch_schemas as out
from . import bp, schemas
from .auth import current_user
from .common import PATH_CHECKS, audit_api, flag_out
from .errors import ApiError
from .spec import operation

add_converter(bp)
BATCH = "/batches/<batch_key:product>/<batch_key:batch>"
USAGE_FIELDS = tuple(set(out.BatchOut.model_fields) - {"url", "quarantined", "open_signals"})
"""The list's fields that are the usage figures themselves (`usage.BatchUsage`)."""
FIGURES = tuple(out.BatchFigures.model_fields)


def _staff(user: User | None) -> schemas.StaffBrief | None:
    return schemas.StaffBrief(id=user.id, name=user.name) if user else None


def quarantine_out(row: BatchQuarantine) -> out.QuarantineOut:
    return out.QuarantineOut(
        reason=row.reason,
        quarantined_at=row.quarantined_at,
        quarantined_by=_staff(row.quarantined_by),
        lifted_at=row.lifted_at,
        lifted_by=_staff(row.lifted_by),
    )


INTERNAL_FIGURES = {"sources"}
"""A notice's keeping of which other clinic's signals it told of: their ids stay here."""


def signal_out(signal: BatchSignal, case_ids: list[int]) -> out.SignalOut:
    return out.SignalOut(
        id=signal.id,
        kind=signal.kind,
        kind_label=SIGNAL_KINDS[signal.kind],
        opened_at=signal.opened_at,
        figures={k: v for k, v in (signal.figures or {}).items() if k not in INTERNAL_FIGURES},
        case_treatment_ids=case_ids,
        closed_at=signal.closed_at,
        closed_by=_staff(signal.closed_by),
        outcome=signal.outcome,
        close_note=signal.close_note,
    )


def detail_out(record: BatchRecord) -> out.BatchDetail:
    patient_of = {t.id: t.patient_id for t in record.treatments}
    return out.BatchDetail(
        product=record.product,
        batch_number=record.batch_number,
        product_key=record.product_key,
        batch_key=record.batch_key,
        figures=(
            out.BatchFigures(**{name: getattr(record.usage, name) for name in FIGURES})
            if record.usage
            else None
        ),
        treatments=[out.BatchTreatmentOut.model_validate(t) for t in record.treatments],
        cases=[flag_out(f, patient_of[f.treatment_id]) for f in record.flags],
        quarantine=quarantine_out(record.quarantine) if record.quarantine else None,
        quarantines=[quarantine_out(q) for q in record.quarantines],
        signals=[signal_out(s, record.signal_cases(s)) for s in record.signals],
    )


def _batch_in_path(kwargs: dict) -> None:
    """The batch the URL names, kept for the view (`_batch`), or 404 before any look at the
    body; its signal too, when the URL names one."""
    if "product" not in kwargs or "batch" not in kwargs:
        return
    record = batch_record(current_user().clinic_id, kwargs["product"], kwargs["batch"])
    if record is None:
        raise ApiError(404)
    g.api_batch = record
    if "signal_id" in kwargs:
        found = [s for s in record.signals if s.id == kwargs["signal_id"]]
        if not found:
            raise ApiError(404)
        g.api_batch_signal = found[0]


def _batch() -> BatchRecord:
    """The batch of this request's URL (found by `_batch_in_path`)."""
    return g.api_batch


PATH_CHECKS.append(_batch_in_path)


def _admin() -> User:
    user = current_user()
    if not user.is_admin:
        raise ApiError(403, "Only the clinic's admins may do that.")
    return user


@bp.get("/batches")
@operation("The batches the clinic used lately", tag="batches", responses={200: out.BatchList})
def batch_list():
    """Every product batch the clinic treated from in the last 120 days, the most recently
    used first: treatments, patients, patients with urgent / severe / review flags (of any
    status), the serious rate (treatments with an urgent or severe flag per treatment), when
    last used, whether it is quarantined and how many signals are open."""
    clinic_id = current_user().clinic_id
    open_counts: dict[tuple[str, str], int] = {}
    for signal in signals.open_signals(clinic_id):
        keys = (signal.product_key, signal.batch_key)
        open_counts[keys] = open_counts.get(keys, 0) + 1
    quarantined = quarantine.keys_in_force(clinic_id)
    result = out.BatchList(
        lookback_days=DEFAULT_BATCH_WATCH.lookback_days,
        batches=[
            out.BatchOut(
                **{name: getattr(b, name) for name in USAGE_FIELDS},
                url=url_for("api.get_batch", product=b.product_key, batch=b.batch_key),
                quarantined=(b.product_key, b.batch_key) in quarantined,
                open_signals=open_counts.get((b.product_key, b.batch_key), 0),
            )
            for b in batch_usage(clinic_id, utcnow())
        ],
    )
    audit_api("batches.list")
    db.session.commit()
    return result


@bp.get(BATCH)
@operation("A batch", tag="batches", responses={200: out.BatchDetail})
def get_batch(product: str, batch: str):
    """One batch at this clinic: its treatments (any date), their flags (the cases), its
    quarantines and its signals (a signal's cases are this clinic's treatments only)."""
    record = _batch()
    audit_api("batch.view", target=f"batch_of_treatment:{record.treatments[0].id}")
    result = detail_out(record)
    db.session.commit()
    return result


@bp.post(BATCH + "/quarantine")
@operation(
    "Quarantine a batch (admins)",
    tag="batches",
    body=out.QuarantineIn,
    responses={201: out.QuarantineOut},
    errors=(403, 409),
    example={"reason": "The manufacturer recalled it"},
)
def quarantine_batch(product: str, batch: str, body: out.QuarantineIn):
    """Quarantine the batch at the clinic with a reason: recording a treatment from it then
    needs `quarantine_reason`. 403 for a clinician's token, 409 if it is quarantined already."""
    admin = _admin()
    try:
        row = quarantine.quarantine_batch(admin.clinic_id, product, batch, admin, body.reason)
    except quarantine.QuarantineConflict as conflict:
        raise ApiError(409, str(conflict)) from None
    audit_api("batch.quarantine", target=f"batch_quarantine:{row.id}")
    db.session.flush()
    result = quarantine_out(row)
    db.session.commit()
    return result, 201


@bp.post(BATCH + "/quarantine/lift")
@operation(
    "Lift a batch's quarantine (admins)",
    tag="batches",
    body=schemas.NoBody,
    body_required=False,
    responses={200: out.QuarantineOut},
    errors=(403, 409),
)
def lift_quarantine(product: str, batch: str, body: schemas.NoBody):
    """Lift the batch's quarantine (it is kept, with who lifted it and when). 403 for a
    clinician's token, 409 if it is not quarantined."""
    admin = _admin()
    try:
        row = quarantine.lift_quarantine(admin.clinic_id, product, batch, admin)
    except quarantine.QuarantineConflict as conflict:
        raise ApiError(409, str(conflict)) from None
    audit_api("batch.quarantine_lift", target=f"batch_quarantine:{row.id}")
    result = quarantine_out(row)
    db.session.commit()
    return result


@bp.post(BATCH + "/signals/<int:signal_id>/close")
@operation(
    "Close a batch signal with an outcome (admins)",
    tag="batches",
    body=out.SignalCloseIn,
    responses={200: out.SignalOut},
    errors=(403, 409),
    example={"outcome": "reported", "note": "Yellow Card sent"},
)
def close_signal(product: str, batch: str, signal_id: int, body: out.SignalCloseIn):
    """Close an open signal of the batch with an outcome and an optional note. 403 for a
    clinician's token, 409 if it is closed already."""
    admin = _admin()
    record, signal = _batch(), g.api_batch_signal
    try:
        signals.close_signal(signal, admin, body.outcome, body.note)
    except signals.SignalConflict as conflict:
        raise ApiError(409, str(conflict)) from None
    audit_api("batch_signal.close", target=f"batch_signal:{signal.id}")
    result = signal_out(signal, record.signal_cases(signal))
    db.session.commit()
    return result
