"""Admin pages: the clinic's symptom catalogue, its staff and alert address, and the audit log.

Admins only (clinicians get 403); anything of another clinic answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..catalogue import AREA_NAMES, LANGUAGE_NAMES, TRANSLATED_LANGUAGES
from ..errors import render_error
from ..extensions import db
from ..invalid import InvalidInput
from ..models import User
from ..services.clinics import catalogue_admin
from ..services.clinics.clinics import set_clinic_contact
from ..services.messaging import alerts
from ..services.staff import second_factor, staff_admin
from . import bp
from .access import admin_required, audit_staff
from .admin_forms import (
    CHANGE_LABELS,
    AlertSettingsForm,
    AuditFilterForm,
    ClinicAddressForm,
    SecondFactorPolicyForm,
    StaffDetailsForm,
    StaffForm,
    SymptomForm,
)
from .paging import page_number

Found = TypeVar("Found")


def _found(thing: Found | None) -> Found:
    """The object looked up in the signed-in user's clinic, or 404."""
    if thing is None:
        abort(404)
    return thing


def _admin() -> User:
    """The signed-in admin as a model object, for the services."""
    return current_user._get_current_object()


# --- catalogue ---------------------------------------------------------------------------------


@bp.get("/catalogue")
@admin_required
def catalogue():
    """The clinic's symptom catalogue: what each symptom makes the app do."""
    symptoms = catalogue_admin.clinic_symptoms(current_user.clinic_id)
    return render_template(
        "clinic/catalogue.html",
        symptoms=symptoms,
        tz=current_user.clinic.timezone,
        languages=TRANSLATED_LANGUAGES,
        language_names=LANGUAGE_NAMES,
        area_names=AREA_NAMES,
        outdated_by_language={
            language: [s for s in symptoms if language in catalogue_admin.outdated_translations(s)]
            for language in TRANSLATED_LANGUAGES
        },
    )


@bp.route("/catalogue/<int:symptom_id>", methods=["GET", "POST"])
@admin_required
def edit_symptom(symptom_id: int):
    """Edit one catalogue entry; each saved change is kept with who made it and when."""
    symptom = _found(catalogue_admin.clinic_symptom(current_user.clinic_id, symptom_id))
    form = SymptomForm.for_symptom(symptom)
    if form.validate_on_submit():
        try:
            change = catalogue_admin.update_symptom(
                symptom, form.to_edit(), actor=_admin(), ip_address=request.remote_addr
            )
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            db.session.commit()
            flash(f"Saved {symptom.name}." if change else f"No changes to {symptom.name}.")
            for language in catalogue_admin.outdated_translations(symptom):
                flash(
                    f"The {LANGUAGE_NAMES[language]} of {symptom.name} may now be out of date: "
                    f"patients who read {LANGUAGE_NAMES[language]} see the English until you "
                    "update it or confirm that it still says the same."
                )
            return redirect(url_for("clinic.catalogue"))
    history = catalogue_admin.symptom_history(symptom)
    page = render_template(
        "clinic/symptom_form.html",
        form=form,
        symptom=symptom,
        history=history,
        labels=CHANGE_LABELS,
        languages=TRANSLATED_LANGUAGES,
        language_names=LANGUAGE_NAMES,
        tz=current_user.clinic.timezone,
    )
    return page, 422 if form.errors else 200


# --- staff -------------------------------------------------------------------------------------


def _staff_page(
    alert_form: AlertSettingsForm | None = None,
    policy_form: SecondFactorPolicyForm | None = None,
    address_form: ClinicAddressForm | None = None,
) -> str:
    """The staff list with its settings forms (each as saved, unless given as posted)."""
    clinic = current_user.clinic
    return render_template(
        "clinic/staff.html",
        rows=staff_admin.list_staff(clinic.id),
        tz=clinic.timezone,
        alert_form=alert_form or AlertSettingsForm(alert_email=clinic.alert_email),
        policy_form=policy_form or SecondFactorPolicyForm(required=clinic.require_second_factor),
        address_form=address_form or ClinicAddressForm(obj=clinic),
    )


@bp.get("/staff")
@admin_required
def staff():
    """The clinic's staff: role, registration number, second factor, last sign-in."""
    return _staff_page()


def _save_setting(form, setter: Callable[..., bool], *fields: str, saved: str, unchanged: str):
    """Save one of the staff page's clinic settings: `setter(clinic, *values of fields, ...)`
    (True: it changed), or show the page again with the posted form and its errors (422)."""
    if form.validate_on_submit():
        try:
            changed = setter(
                current_user.clinic,
                *(form[name].data for name in fields),
                actor=_admin(),
                ip_address=request.remote_addr,
            )
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            db.session.commit()
            flash(saved if changed else unchanged)
            return redirect(url_for("clinic.staff"))
    shown_as = {AlertSettingsForm: "alert_form", ClinicAddressForm: "address_form"}[type(form)]
    return _staff_page(**{shown_as: form}), 422


@bp.post("/staff/alerts")
@admin_required
def alert_settings():
    """Set where urgent alerts and the morning digest go (empty: each active admin)."""
    return _save_setting(
        AlertSettingsForm(),
        alerts.set_alert_email,
        "alert_email",
        saved="Saved the alert address.",
        unchanged="No change to the alert address.",
    )


@bp.post("/staff/address")
@admin_required
def clinic_address():
    """Set the clinic's postal address and phone, which its regulator's reports give; audited."""
    return _save_setting(
        ClinicAddressForm(),
        set_clinic_contact,
        "address",
        "phone",
        saved="Saved the clinic's address and phone.",
        unchanged="No change to the address or phone.",
    )


@bp.post("/staff/second-factor")
@admin_required
def second_factor_policy():
    """Require a second factor of every clinician (admins always need one); audited."""
    form = SecondFactorPolicyForm()
    if not form.validate_on_submit():
        return _staff_page(policy_form=form), 422
    second_factor.set_requirement(
        current_user.clinic, form.required.data, actor=_admin(), ip_address=request.remote_addr
    )
    db.session.commit()
    if form.required.data:
        flash("Every clinician now sets up a second factor at their next sign-in.")
    else:
        flash("Clinicians may now sign in without a second factor; admins still need one.")
    return redirect(url_for("clinic.staff"))


@bp.post("/staff/<int:user_id>/second-factor/reset")
@admin_required
def reset_second_factor(user_id: int):
    """Remove a colleague's second factor (a lost phone); they set one up at next sign-in."""
    user = _found(staff_admin.clinic_user(current_user.clinic_id, user_id))
    try:
        reset = staff_admin.reset_second_factor(
            user, actor=_admin(), ip_address=request.remote_addr
        )
    except InvalidInput as refused:
        return render_error(403, f"{refused} Ask another admin.")
    db.session.commit()
    if reset:
        flash(f"Reset {user.name}'s second factor; they are signed out everywhere.")
    else:
        flash(f"{user.name} had no second factor to reset.")
    return redirect(url_for("clinic.staff"))


@bp.route("/staff/<int:user_id>/details", methods=["GET", "POST"])
@admin_required
def staff_details(user_id: int):
    """Change a staff member's profession and registration number; audited."""
    user = _found(staff_admin.clinic_user(current_user.clinic_id, user_id))
    form = StaffDetailsForm(obj=user)
    if form.validate_on_submit():
        try:
            changed = staff_admin.set_professional_details(
                user,
                form.profession.data,
                form.registration_number.data,
                actor=_admin(),
                ip_address=request.remote_addr,
            )
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            db.session.commit()
            flash(f"Saved {user.name}'s details." if changed else "Nothing had changed.")
            return redirect(url_for("clinic.staff"))
    html = render_template("clinic/staff_details.html", form=form, user=user)
    return html, 422 if form.errors else 200


@bp.route("/staff/new", methods=["GET", "POST"])
@admin_required
def add_staff():
    """Add a clinician or admin with an initial password."""
    form = StaffForm()
    if form.validate_on_submit():
        try:
            user = staff_admin.add_staff(
                current_user.clinic,
                form.to_new_staff(),
                actor=_admin(),
                ip_address=request.remote_addr,
            )
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            db.session.commit()
            flash(f"Added {user.name}. Give them their initial password in person.")
            return redirect(url_for("clinic.staff"))
    return render_template("clinic/staff_form.html", form=form), 422 if form.errors else 200


@bp.post("/staff/<int:user_id>/deactivate")
@admin_required
def deactivate_staff(user_id: int):
    """Stop a staff member signing in; their sessions end at once."""
    user = _found(staff_admin.clinic_user(current_user.clinic_id, user_id))
    try:
        staff_admin.deactivate(user, actor=_admin(), ip_address=request.remote_addr)
    except InvalidInput as refused:
        return render_error(403, f"{refused} Ask another admin.")
    db.session.commit()
    flash(f"{user.name} can no longer sign in; their sessions have ended.")
    return redirect(url_for("clinic.staff"))


@bp.post("/staff/<int:user_id>/reactivate")
@admin_required
def reactivate_staff(user_id: int):
    """Let a deactivated staff member sign in again."""
    user = _found(staff_admin.clinic_user(current_user.clinic_id, user_id))
    staff_admin.reactivate(user, actor=_admin(), ip_address=request.remote_addr)
    db.session.commit()
    flash(f"{user.name} can sign in again.")
    return redirect(url_for("clinic.staff"))


# --- audit log ---------------------------------------------------------------------------------


@bp.get("/audit")
@admin_required
def audit_log():
    """Who viewed or changed what, newest first, by patient or staff member; itself audited."""
    staff = [row.user for row in staff_admin.list_staff(current_user.clinic_id)]
    form = AuditFilterForm(staff, formdata=request.args)
    log = None
    if form.validate() and _patient_filter_ok(form):
        log = staff_admin.audit_log(
            current_user.clinic_id,
            patient_id=form.patient.data,
            user_id=form.user_id,
            page=page_number(),
        )
        target = f"user:{form.user_id}" if form.user_id else None
        audit_staff("audit.view", patient_id=form.patient.data, target=target)
    page = render_template("clinic/audit.html", form=form, log=log, tz=current_user.clinic.timezone)
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return page, 422 if form.errors else 200


def _patient_filter_ok(form: AuditFilterForm) -> bool:
    """The patient filter, if any, names a patient of this clinic (same answer for others')."""
    patient_id = form.patient.data
    if patient_id is None or staff_admin.clinic_patient(current_user.clinic_id, patient_id):
        return True
    form.patient.errors.append("No patient of this clinic has that ID.")
    return False
