"""The Batches page (what the clinic used lately, with its figures) and one batch's page: its
treatments, cases, quarantine and signals; admins quarantine it, lift it and close signals.

A batch is named in the URL by its keys (tracker/batch_urls.py); one the clinic never treated
from answers 404, exactly as if it did not exist.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..batch_urls import add_converter
from ..catalogue import DEFAULT_BATCH_WATCH
from ..extensions import db
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..models import REASON_LABELS, SIGNAL_KINDS, SIGNAL_OUTCOMES
from ..services.batches import quarantine, signals
from ..services.batches.record import BatchRecord, batch_record
from ..services.batches.usage import batch_usage
from ..timeutil import utcnow
from . import bp
from .access import admin_required, audit_staff
from .batch_forms import CloseSignalForm, LiftQuarantineForm, QuarantineForm
from .cases import staff_member

add_converter(bp)
BATCH = "/batches/<batch_key:product>/<batch_key:batch>"


@bp.get("/batches")
@login_required
def batches():
    """Every batch the clinic used in the look-back, with its treatments, patients and flags."""
    usage = batch_usage(current_user.clinic_id, utcnow())
    open_signals = signals.open_signals(current_user.clinic_id)
    audit_staff("batches.list")
    html = render_template(
        "clinic/batches.html",
        usage=usage,
        lookback_days=DEFAULT_BATCH_WATCH.lookback_days,
        open_signals=open_signals,
        signalled={(s.product_key, s.batch_key) for s in open_signals},
        quarantined=quarantine.keys_in_force(current_user.clinic_id),
        SIGNAL_KINDS=SIGNAL_KINDS,
    )
    db.session.commit()
    return html


def _record_or_404(product: str, batch: str) -> BatchRecord:
    record = batch_record(current_user.clinic_id, product, batch)
    if record is None:
        abort(404)
    return record


def show_batch(record: BatchRecord, status: int = 200, refusal: str | None = None, **forms):
    """The batch page, audited as a view, with fresh forms unless a posted one is shown again."""
    audit_staff("batch.view", target=f"batch_of_treatment:{record.treatments[0].id}")
    forms.setdefault("quarantine_form", QuarantineForm())
    forms.setdefault("lift_form", LiftQuarantineForm())
    forms.setdefault("close_form", CloseSignalForm())
    html = render_template(
        "clinic/batch_detail.html",
        record=record,
        refusal=refusal,
        tz=current_user.clinic.timezone,
        REASON_LABELS=REASON_LABELS,
        SIGNAL_KINDS=SIGNAL_KINDS,
        SIGNAL_OUTCOMES=SIGNAL_OUTCOMES,
        excess_p_value=DEFAULT_BATCH_WATCH.excess_p_value,
        lookback_days=DEFAULT_BATCH_WATCH.lookback_days,
        **forms,
    )
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html, status


def _refused(product: str, batch: str, status: int = 422, **kwargs):
    """A refused action: nothing it wrote is kept, and the batch page is shown again."""
    restart_write()
    return show_batch(_record_or_404(product, batch), status, **kwargs)


def _done(product: str, batch: str, action: str, target: str, message: str):
    audit_staff(action, target=target)
    db.session.commit()
    flash(message)
    return redirect(url_for("clinic.batch_detail", product=product, batch=batch))


@bp.get(BATCH)
@login_required
def batch_detail(product: str, batch: str):
    """One batch: its treatments at this clinic, its cases, its quarantine and its signals."""
    return show_batch(_record_or_404(product, batch))


@bp.post(BATCH + "/quarantine")
@admin_required
def quarantine_batch(product: str, batch: str):
    """Quarantine the batch with a reason (admins)."""
    _record_or_404(product, batch)
    form = QuarantineForm()
    if not form.validate_on_submit():
        return _refused(product, batch, quarantine_form=form)
    try:
        row = quarantine.quarantine_batch(
            current_user.clinic_id, product, batch, staff_member(), form.reason.data
        )
    except InvalidInput as invalid:
        form.show_refusal(invalid)
        return _refused(product, batch, quarantine_form=form)
    except quarantine.QuarantineConflict as conflict:
        return _refused(product, batch, 409, refusal=str(conflict))
    target = f"batch_quarantine:{row.id}"
    return _done(product, batch, "batch.quarantine", target, "Batch quarantined.")


@bp.post(BATCH + "/lift")
@admin_required
def lift_quarantine(product: str, batch: str):
    """Lift the batch's quarantine (admins)."""
    _record_or_404(product, batch)
    if not LiftQuarantineForm().validate_on_submit():
        return _refused(product, batch, 400, refusal="The form expired: try again.")
    try:
        row = quarantine.lift_quarantine(current_user.clinic_id, product, batch, staff_member())
    except quarantine.QuarantineConflict as conflict:
        return _refused(product, batch, 409, refusal=str(conflict))
    target = f"batch_quarantine:{row.id}"
    return _done(product, batch, "batch.quarantine_lift", target, "Quarantine lifted.")


@bp.post(BATCH + "/signals/<int:signal_id>/close")
@admin_required
def close_signal(product: str, batch: str, signal_id: int):
    """Close one of the batch's signals with an outcome and an optional note (admins)."""
    _record_or_404(product, batch)
    signal = signals.clinic_signal(current_user.clinic_id, signal_id)
    if signal is None or (signal.product_key, signal.batch_key) != (product, batch):
        abort(404)
    form = CloseSignalForm()
    if not form.validate_on_submit():
        return _refused(product, batch, close_form=form, closing=signal.id)
    try:
        signals.close_signal(signal, staff_member(), form.outcome.data, form.note.data)
    except InvalidInput as invalid:
        form.show_refusal(invalid)
        return _refused(product, batch, close_form=form, closing=signal.id)
    except signals.SignalConflict as conflict:
        return _refused(product, batch, 409, refusal=str(conflict))
    message = f"Signal closed: {SIGNAL_OUTCOMES[signal.outcome]}."
    return _done(product, batch, "batch_signal.close", f"batch_signal:{signal.id}", message)
