"""The case queue, a flag's page (the case page at that flag) and the flag actions (the
exports are in `exports`).

Every flag is looked up within the signed-in user's clinic (another clinic's answers 404), and
every page, export and completed action writes one audit row (ids only, never notes).
"""

from __future__ import annotations

from flask import g, render_template, request
from flask_login import current_user, login_required

from ..errors import render_error
from ..extensions import db
from ..invalid import InvalidInput
from ..models import OUTCOMES, SIGNAL_KINDS, Flag, Treatment
from ..services.batches.signals import open_signals
from ..services.clinics.catalogue_admin import clinic_symptoms
from ..services.flags import cases, flag_actions
from ..services.patients.checkins import record_checkin
from ..services.staff.staff_admin import staff_by_name
from ..timeutil import utcnow
from . import bp
from .access import audit_staff, clinic_get_or_404
from .case_forms import CaseFilterForm
from .cases import back_to_case, page_helpers, show_case, shown_again, staff_member
from .flag_forms import AcknowledgeForm, NoteForm, PhoneCheckInForm, ResolveForm
from .paging import page_number


def _clinic_staff():
    """The clinic's staff, for the practitioner filter."""
    return staff_by_name(current_user.clinic_id)


@bp.get("/")
@bp.get("/flags")
@login_required
def queue():
    """Cases (treatments with open or acknowledged flags), most urgent first, then oldest;
    filtered and paged."""
    form = CaseFilterForm(_clinic_staff(), formdata=request.args)
    page = None
    if form.validate():
        filters = form.to_case_filters(current_user)
        page = cases.case_page(current_user.clinic_id, filters, page_number(), utcnow())
        g.queue_case_count = page.pagination.counts.queue  # the navigation's, read with the page
        audit_staff("flags.list", target=filters.describe())
    html = render_template(
        "clinic/queue.html",
        form=form,
        page=page,
        open_signals=open_signals(current_user.clinic_id),
        SIGNAL_KINDS=SIGNAL_KINDS,
        **page_helpers(),
    )
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html, 422 if form.errors else 200


@bp.get("/flags/<int:flag_id>")
@login_required
def flag_detail(flag_id: int):
    """One flag: the case page of its treatment, at that flag."""
    flag = clinic_get_or_404(Flag, flag_id)
    return show_case(flag.treatment, focus=flag.id)


def _done(flag: Flag, message: str):
    return back_to_case(flag.treatment_id, message, f"flag-{flag.id}")


def _refused(flag: Flag, conflict: Exception, **forms):
    """The case page again, with why the flag's current status does not allow the action."""
    return shown_again(flag.treatment, 409, focus=flag.id, refusal=str(conflict), **forms)


@bp.post("/flags/<int:flag_id>/acknowledge")
@login_required
def acknowledge_flag(flag_id: int):
    """Mark the flag as being looked at, by whom and when."""
    flag = clinic_get_or_404(Flag, flag_id)
    if not AcknowledgeForm().validate_on_submit():
        return render_error(400)
    try:
        flag_actions.acknowledge(flag, staff_member())
    except flag_actions.FlagConflict as conflict:
        return _refused(flag, conflict)
    _audit("flag.acknowledge", flag, f"flag:{flag.id}")
    return _done(flag, "Acknowledged.")


@bp.post("/flags/<int:flag_id>/notes")
@login_required
def add_flag_note(flag_id: int):
    """Add a note to the flag, kept with who wrote it and when."""
    flag = clinic_get_or_404(Flag, flag_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            note = flag_actions.add_note(flag, staff_member(), form.body.data)
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            _audit("flag.note", flag, f"note:{note.id}")
            return _done(flag, "Note saved.")
    return shown_again(flag.treatment, focus=flag.id, note_form=form)


@bp.post("/flags/<int:flag_id>/resolve")
@login_required
def resolve_flag(flag_id: int):
    """Close the flag with an outcome (and an optional note), by whom and when."""
    flag = clinic_get_or_404(Flag, flag_id)
    form = ResolveForm()
    if form.validate_on_submit():
        try:
            flag_actions.resolve(flag, staff_member(), form.outcome.data, form.resolution_note.data)
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        except flag_actions.FlagConflict as conflict:
            return _refused(flag, conflict)
        else:
            _audit("flag.resolve", flag, f"flag:{flag.id}")
            return _done(flag, f"Resolved: {OUTCOMES[flag.outcome]}.")
    return shown_again(flag.treatment, focus=flag.id, resolve_form=form, resolving=flag.id)


def _audit(action: str, flag: Flag, target: str) -> None:
    """One audit row about the flag's patient (the target names a record, never its text)."""
    audit_staff(action, patient_id=flag.treatment.patient_id, target=target)


def _phone_checkin(treatment: Treatment, focus: int | None = None):
    """Record what the patient said on a phone follow-up, through the patient's own service."""
    tz = current_user.clinic.timezone
    form = PhoneCheckInForm.for_catalogue(clinic_symptoms(treatment.clinic_id), tz, utcnow())
    if form.validate_on_submit():
        try:
            result = record_checkin(
                treatment,
                form.entries(),
                note=form.checkin_note.data,
                reported_at=form.reported_at_utc(tz),
                source="clinician",
                recorded_by=staff_member(),
            )
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            audit_staff(
                "checkin.create", treatment.patient_id, target=f"checkin:{result.checkin.id}"
            )
            message = f"Phone follow-up recorded; new flags: {len(result.new_flags)}."
            return back_to_case(treatment.id, message)
    return shown_again(treatment, focus=focus, checkin_form=form)


@bp.post("/flags/<int:flag_id>/checkin")
@login_required
def record_phone_checkin(flag_id: int):
    """A phone follow-up recorded from a flag's page."""
    flag = clinic_get_or_404(Flag, flag_id)
    return _phone_checkin(flag.treatment, flag.id)


@bp.post("/cases/<int:treatment_id>/checkin")
@login_required
def record_case_checkin(treatment_id: int):
    """A phone follow-up recorded from the case page."""
    return _phone_checkin(clinic_get_or_404(Treatment, treatment_id))
