"""A patient's data rights, for the clinic's admins: export the whole record, erase contact data.

Admins only (clinicians get 403, whatever the patient): a whole-record download is the clinic's
answer to a subject access request, a governance act like erasure, and clinicians already see
the record on screen and export a case as FHIR. Another clinic's patient is 404.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for

from ..errors import render_error
from ..extensions import db
from ..infrastructure.database import restart_write
from ..models import Patient
from ..services.governance import data_rights
from ..services.patients.erased import refuse_if_erased
from . import bp
from .access import admin_required, audit_staff, clinic_get_or_404
from .patient_forms import EraseForm


@bp.get("/patients/<int:patient_id>/export.json")
@admin_required
def export_patient(patient_id: int):
    """Download the patient's whole record as JSON (not kept by the browser's cache)."""
    patient = clinic_get_or_404(Patient, patient_id)
    refuse_if_erased(patient)
    body = current_app.json.dumps(data_rights.export_record(patient), indent=2)
    audit_staff("patient.export", patient.id, target="format:json")
    db.session.commit()
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="aftercare-patient-{patient.id}.json"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/patients/<int:patient_id>/erase", methods=["GET", "POST"])
@admin_required
def erase_patient(patient_id: int):
    """Ask the admin to type the patient's name, then erase their contact data in one go."""
    patient = clinic_get_or_404(Patient, patient_id)
    if patient.erased_at is not None:
        db.session.rollback()
        return render_error(409, "This patient's contact data has already been erased.")
    form = EraseForm()
    if form.validate_on_submit():
        if data_rights.name_matches(patient, form.confirm_name.data):
            done = data_rights.erase_patient(patient, delete_photos=form.delete_photos.data)
            audit_staff(
                "patient.erase",
                patient.id,
                target=f"outbox:-{done.messages_deleted},~{done.messages_blanked};"
                f"links:{done.links_revoked}",
            )
            if form.delete_photos.data:
                audit_staff("photo.delete", patient.id, target=f"photos:-{done.photos_deleted}")
            db.session.commit()
            flash(
                "Contact data erased. The clinical record is kept, restricted to reading"
                + (", without their photos." if form.delete_photos.data else ".")
            )
            return redirect(url_for("clinic.patient_detail", patient_id=patient.id))
        form.confirm_name.errors.append("Type the patient's name exactly as shown to confirm.")
    if form.errors:
        restart_write()  # the page shown again is a view of the patient, audited as such
    audit_staff("patient.erase.view", patient.id)
    html = render_template("clinic/patient_erase.html", form=form, patient=patient)
    db.session.commit()
    return html, 422 if form.errors else 200
