"""Recording a treatment (which invites the patient) and the treatment page."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..batches import batch_key, product_key
from ..extensions import db
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..models import BatchQuarantine, Patient, Treatment
from ..services.batches import quarantine
from ..services.patients import treatments as treatments_service
from ..services.patients.erased import refuse_if_erased
from ..services.patients.treatments import RecordedTreatment
from ..timeutil import local, utcnow
from . import bp
from .access import audit_staff, clinic_get_or_404
from .patient_forms import TreatmentForm


def _treatment_form(clinic_timezone: str) -> TreatmentForm:
    """The form, defaulting to now (clinic time) and the signed-in clinician as practitioner."""
    now_local = local(utcnow(), clinic_timezone).replace(second=0, microsecond=0, tzinfo=None)
    form = TreatmentForm(treated_at=now_local, practitioner_id=current_user.id)
    form.set_practitioners(treatments_service.clinic_staff(current_user.clinic_id))
    return form


def _saved(patient: Patient, recorded: RecordedTreatment):
    """Audit and commit a recorded treatment, say what happened, and show it."""
    treatment = recorded.treatment
    audit_staff("treatment.create", patient.id, target=f"treatment:{treatment.id}")
    if treatment.quarantine_reason is not None:
        audit_staff("treatment.quarantine_override", patient.id, f"treatment:{treatment.id}")
    db.session.commit()
    flash(
        f"Treatment recorded. The invite is on its way to {patient.name}."
        if recorded.invite
        else "Treatment recorded. No invite was sent: its follow-up period has ended."
    )
    return redirect(url_for("clinic.treatment_detail", treatment_id=treatment.id))


def _quarantine_of(form: TreatmentForm) -> BatchQuarantine | None:
    """The quarantine the form's refusal names, to warn of it beside the reason to go ahead."""
    if "quarantine_reason" not in form.errors and not form.quarantine_reason.data:
        return None
    keys = product_key(form.product.data or ""), batch_key(form.batch_number.data or "")
    return quarantine.in_force(current_user.clinic_id, *keys)


@bp.route("/patients/<int:patient_id>/treatments/new", methods=["GET", "POST"])
@login_required
def new_treatment(patient_id: int):
    """Record a treatment; saving it queues the patient's invite in the same transaction."""
    patient = clinic_get_or_404(Patient, patient_id)
    refuse_if_erased(patient)
    timezone = current_user.clinic.timezone
    form = _treatment_form(timezone)
    if form.validate_on_submit():
        try:
            recorded = treatments_service.record_treatment(patient, form.details(timezone))
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            return _saved(patient, recorded)
    if form.errors:
        restart_write()  # the form shown again is a view of the patient, audited as such
    audit_staff("treatment.form.view", patient.id)
    html = render_template(
        "clinic/treatment_form.html",
        form=form,
        patient=patient,
        timezone=timezone,
        quarantine=_quarantine_of(form),
    )
    db.session.commit()
    return html, 422 if form.errors else 200


@bp.get("/treatments/<int:treatment_id>")
@login_required
def treatment_detail(treatment_id: int):
    """What was given, where and by whom, with the check-ins and flags that followed."""
    treatment = clinic_get_or_404(Treatment, treatment_id)
    record = treatments_service.treatment_record(treatment)
    audit_staff("treatment.view", treatment.patient_id, target=f"treatment:{treatment.id}")
    html = render_template("clinic/treatment_detail.html", record=record)
    db.session.commit()
    return html
