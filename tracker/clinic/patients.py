"""The clinic's patients: the list, adding and editing, the patient page and its actions.

Every view is scoped to the signed-in user's clinic (another clinic's ids are 404) and writes an
audit row.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..catalogue import LANGUAGE_NAMES
from ..extensions import db
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..models import Patient
from ..services.patients import patients as patients_service
from ..services.patients.erased import refuse_if_erased
from ..services.patients.links import revoke_links as revoke_patient_links
from ..services.patients.treatments import resend_invite as resend_patient_invite
from . import bp
from .access import audit_staff, clinic_get_or_404
from .paging import page_number
from .patient_forms import ActionForm, PatientForm

PER_PAGE = 25
SEARCH_MAX_CHARS = 100


@bp.get("/patients")
@login_required
def patients():
    """The clinic's patients, searchable by name or email, 25 a page (erased ones on request)."""
    query = request.args.get("q", "").strip()[:SEARCH_MAX_CHARS]
    include_erased = request.args.get("erased") == "1"
    page = patients_service.search_page(
        current_user.clinic_id, query, page_number(), PER_PAGE, include_erased=include_erased
    )
    summaries = patients_service.summaries([p.id for p in page.items])
    audit_staff("patients.list", target=f"page:{page.page}")
    html = render_template(
        "clinic/patients.html",
        page=page,
        q=query,
        summaries=summaries,
        include_erased=include_erased,
    )
    db.session.commit()
    return html


@bp.route("/patients/new", methods=["GET", "POST"])
@login_required
def new_patient():
    """Add a patient."""
    form = PatientForm(timezone=current_user.clinic.timezone)
    if form.validate_on_submit():
        try:
            patient = patients_service.create_patient(current_user.clinic_id, form.details())
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            audit_staff("patient.create", patient.id, target=f"patient:{patient.id}")
            db.session.commit()
            flash(f"{patient.name} added. Record their treatment to send the invite.")
            return redirect(url_for("clinic.patient_detail", patient_id=patient.id))
    if form.errors:
        db.session.rollback()
        return render_template("clinic/patient_form.html", form=form, patient=None), 422
    return render_template("clinic/patient_form.html", form=form, patient=None)


@bp.route("/patients/<int:patient_id>/edit", methods=["GET", "POST"])
@login_required
def edit_patient(patient_id: int):
    """Change a patient's contact details, timezone and reminder settings."""
    patient = clinic_get_or_404(Patient, patient_id)
    refuse_if_erased(patient)
    form = PatientForm(obj=patient)
    if form.validate_on_submit():
        try:
            changed = patients_service.update_patient(patient, form.details())
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            audit_staff("patient.update", patient.id, target="fields:" + ",".join(changed))
            db.session.commit()
            flash("Details saved." if changed else "Nothing had changed.")
            if "email" in changed:
                flash(
                    "Links sent to the old address still work until they expire: withdraw "
                    "them below if that address was wrong."
                )
            return redirect(url_for("clinic.patient_detail", patient_id=patient.id))
    if form.errors:
        restart_write()  # the page shown again is a view of the patient, audited as such
    audit_staff("patient.edit.view", patient.id)
    html = render_template("clinic/patient_form.html", form=form, patient=patient)
    db.session.commit()
    return html, 422 if form.errors else 200


@bp.get("/patients/<int:patient_id>")
@login_required
def patient_detail(patient_id: int):
    """A patient's treatments, check-ins and flags over time, and the clinic's actions."""
    patient = clinic_get_or_404(Patient, patient_id)
    record = patients_service.patient_record(patient)
    audit_staff("patient.view", patient.id)
    html = render_template(
        "clinic/patient_detail.html", record=record, language_names=LANGUAGE_NAMES
    )
    db.session.commit()
    return html


@bp.post("/patients/<int:patient_id>/resend-invite")
@login_required
def resend_invite(patient_id: int):
    """Queue a new invite, with a fresh link, for the patient's latest treatment."""
    patient = clinic_get_or_404(Patient, patient_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    refuse_if_erased(patient)
    message = resend_patient_invite(patient)
    if message is None:
        flash("Record a treatment first: the invite is about a treatment.")
    else:
        audit_staff("patient.invite.resend", patient.id, target=f"outbox:{message.id}")
        db.session.commit()
        flash(f"A new invite with a fresh link is on its way to {patient.name}.")
    return redirect(url_for("clinic.patient_detail", patient_id=patient.id))


@bp.post("/patients/<int:patient_id>/revoke-links")
@login_required
def revoke_links(patient_id: int):
    """Withdraw every unused link of the patient and end their sessions."""
    patient = clinic_get_or_404(Patient, patient_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    count = revoke_patient_links(patient)
    audit_staff("patient.links.revoke", patient.id, target=f"links:{count}")
    db.session.commit()
    flash(f"Withdrew {count} unused link(s); {patient.name}'s sessions have ended.")
    return redirect(url_for("clinic.patient_detail", patient_id=patient.id))
