"""The flag queue, a flag's detail page and its actions (the exports are in `exports`).

Every flag is looked up within the signed-in user's clinic (another clinic's answers 404), and
every page, export and completed action writes one audit row (ids only, never notes).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import render_error
from ..extensions import db
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..models import OUTCOMES, SYSTEM_OUTCOMES, Flag, User
from ..services.clinics.catalogue_admin import clinic_symptoms
from ..services.flags import flag_actions
from ..services.flags import queue as queue_service
from ..services.patients.checkins import record_checkin
from ..services.staff.staff_admin import staff_by_name
from ..timeutil import utcnow
from . import bp
from .access import audit_staff, clinic_get_or_404
from .flag_forms import (
    REASON_LABELS,
    AcknowledgeForm,
    FlagFilterForm,
    NoteForm,
    PhoneCheckInForm,
    ResolveForm,
)
from .paging import page_number


def _staff_member() -> User:
    """The signed-in clinician as a model object, for the services."""
    return current_user._get_current_object()


def _clinic_staff() -> list[User]:
    """The clinic's staff, for the practitioner filter."""
    return staff_by_name(current_user.clinic_id)


def _page_helpers() -> dict:
    return {
        "tz": current_user.clinic.timezone,
        "REASON_LABELS": REASON_LABELS,
        "OUTCOMES": OUTCOMES,
        "SYSTEM_OUTCOMES": SYSTEM_OUTCOMES,
    }


@bp.get("/")
@bp.get("/flags")
@login_required
def queue():
    """Open and acknowledged flags, most urgent first, then oldest; filtered and paged."""
    form = FlagFilterForm(_clinic_staff(), formdata=request.args)
    page = None
    if form.validate():
        filters = form.to_filters()
        number = page_number()
        page = queue_service.flag_page(current_user.clinic_id, filters, number, utcnow())
        audit_staff("flags.list", target=filters.describe())
    html = render_template("clinic/queue.html", form=form, page=page, **_page_helpers())
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html, 422 if form.errors else 200


def _show(flag: Flag, status: int = 200, **forms):
    """The flag detail page, audited as a view, with fresh forms unless a posted one is shown."""
    _audit("flag.view", flag, f"flag:{flag.id}")
    now = utcnow()
    symptoms = clinic_symptoms(flag.clinic_id)
    forms.setdefault(
        "checkin_form", PhoneCheckInForm.for_catalogue(symptoms, current_user.clinic.timezone, now)
    )
    forms.setdefault("acknowledge_form", AcknowledgeForm())
    forms.setdefault("note_form", NoteForm())
    forms.setdefault("resolve_form", ResolveForm())
    case = queue_service.load_case(flag, now)
    html = render_template("clinic/flag_detail.html", case=case, **forms, **_page_helpers())
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html, status


@bp.get("/flags/<int:flag_id>")
@login_required
def flag_detail(flag_id: int):
    """One flag: the patient, the treatment, the symptom history, notes and actions."""
    return _show(clinic_get_or_404(Flag, flag_id))


def _shown_again(flag: Flag, **forms):
    """A refused form: nothing it wrote is kept, and the page it came from is shown again."""
    restart_write()
    return _show(flag, 422, **forms)


def _audit(action: str, flag: Flag, target: str) -> None:
    """One audit row about the flag's patient (the target names a record, never its text)."""
    audit_staff(action, patient_id=flag.treatment.patient_id, target=target)


def _back_to(flag: Flag, message: str):
    """Commit the action, say what happened, and show the flag again."""
    db.session.commit()
    flash(message)
    return redirect(url_for("clinic.flag_detail", flag_id=flag.id))


def _refused(conflict: flag_actions.FlagConflict):
    """The 409 page for an action the flag's current status does not allow."""
    db.session.rollback()
    return render_error(409, f"{conflict} Reload the flag to see what changed.")


@bp.post("/flags/<int:flag_id>/acknowledge")
@login_required
def acknowledge_flag(flag_id: int):
    """Mark the flag as being looked at, by whom and when."""
    flag = clinic_get_or_404(Flag, flag_id)
    if not AcknowledgeForm().validate_on_submit():
        return render_error(400)
    try:
        flag_actions.acknowledge(flag, _staff_member())
    except flag_actions.FlagConflict as conflict:
        return _refused(conflict)
    _audit("flag.acknowledge", flag, f"flag:{flag.id}")
    return _back_to(flag, "Acknowledged.")


@bp.post("/flags/<int:flag_id>/notes")
@login_required
def add_flag_note(flag_id: int):
    """Add a note to the flag, kept with who wrote it and when."""
    flag = clinic_get_or_404(Flag, flag_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            note = flag_actions.add_note(flag, _staff_member(), form.body.data)
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            _audit("flag.note", flag, f"note:{note.id}")
            return _back_to(flag, "Note saved.")
    return _shown_again(flag, note_form=form)


@bp.post("/flags/<int:flag_id>/resolve")
@login_required
def resolve_flag(flag_id: int):
    """Close the flag with an outcome (and an optional note), by whom and when."""
    flag = clinic_get_or_404(Flag, flag_id)
    form = ResolveForm()
    if form.validate_on_submit():
        try:
            flag_actions.resolve(
                flag, _staff_member(), form.outcome.data, form.resolution_note.data
            )
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        except flag_actions.FlagConflict as conflict:
            return _refused(conflict)
        else:
            _audit("flag.resolve", flag, f"flag:{flag.id}")
            return _back_to(flag, f"Resolved: {OUTCOMES[flag.outcome]}.")
    return _shown_again(flag, resolve_form=form)


@bp.post("/flags/<int:flag_id>/checkin")
@login_required
def record_phone_checkin(flag_id: int):
    """Record what the patient said on a phone follow-up, through the patient's own service."""
    flag = clinic_get_or_404(Flag, flag_id)
    tz = current_user.clinic.timezone
    form = PhoneCheckInForm.for_catalogue(clinic_symptoms(flag.clinic_id), tz, utcnow())
    if form.validate_on_submit():
        try:
            result = record_checkin(
                flag.treatment,
                form.entries(),
                note=form.checkin_note.data,
                reported_at=form.reported_at_utc(tz),
                source="clinician",
                recorded_by=_staff_member(),
            )
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            _audit("checkin.create", flag, f"checkin:{result.checkin.id}")
            return _back_to(flag, f"Phone follow-up recorded; new flags: {len(result.new_flags)}.")
    return _shown_again(flag, checkin_form=form)
