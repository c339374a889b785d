"""The case page (one treatment's flags, patient, contact and history) and the case actions:
assign, add a note, resolve the whole case, and go on to the next case.

Every case is looked up within the signed-in user's clinic (another clinic's answers 404). A
refused action changes nothing and shows the page again with the reason (409 for a conflict,
422 for a form to correct), audited as a view like the page itself.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..models import OUTCOMES, REASON_LABELS, SYSTEM_OUTCOMES, Treatment, User
from ..services.clinics.catalogue_admin import clinic_symptoms
from ..services.flags import case_actions, cases, regulator_report
from ..services.photos.photos import photos_by_checkin
from ..services.staff.staff_admin import staff_by_name
from ..timeutil import local_date, utcnow
from . import bp
from .access import audit_staff, clinic_get_or_404
from .case_forms import AssignForm, CaseResolveForm
from .flag_forms import AcknowledgeForm, NoteForm, PhoneCheckInForm, ResolveForm


def staff_member() -> User:
    """The signed-in clinician as a model object, for the services."""
    return current_user._get_current_object()


def page_helpers() -> dict:
    """What the flag and case pages' templates read besides the case."""
    return {
        "tz": current_user.clinic.timezone,
        "REASON_LABELS": REASON_LABELS,
        "OUTCOMES": OUTCOMES,
        "SYSTEM_OUTCOMES": SYSTEM_OUTCOMES,
    }


def show_case(
    treatment: Treatment,
    status: int = 200,
    *,
    focus: int | None = None,
    refusal: str | None = None,
    **forms,
):
    """The case page, audited as a view, with fresh forms unless a posted one is shown again."""
    audit_staff("case.view", patient_id=treatment.patient_id, target=f"treatment:{treatment.id}")
    now = utcnow()
    symptoms = clinic_symptoms(treatment.clinic_id)
    forms.setdefault(
        "checkin_form", PhoneCheckInForm.for_catalogue(symptoms, current_user.clinic.timezone, now)
    )
    forms.setdefault("acknowledge_form", AcknowledgeForm())
    forms.setdefault("note_form", NoteForm())
    forms.setdefault("resolve_form", ResolveForm())
    today = local_date(utcnow(), current_user.clinic.timezone)
    forms.setdefault("case_resolve_form", CaseResolveForm(reported_on=today))
    assigned = str(treatment.assigned_to_id or "")
    forms.setdefault(
        "assign_form", AssignForm(staff_by_name(treatment.clinic_id), assignee=assigned)
    )
    case = cases.load_case(treatment, now)
    html = render_template(
        "clinic/case_detail.html",
        case=case,
        photos=photos_by_checkin([c.id for c in case.checkins]),  # one statement, no image read
        focus=focus,
        refusal=refusal,
        report=regulator_report.saved_report(treatment.id),
        **forms,
        **page_helpers(),
    )
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html, status


def shown_again(treatment: Treatment, status: int = 422, **kwargs):
    """A refused action: nothing it wrote is kept, and the case page is shown again."""
    restart_write()
    return show_case(treatment, status, **kwargs)


def back_to_case(treatment_id: int, message: str, anchor: str | None = None):
    """Commit the action, say what happened, and show the case again."""
    db.session.commit()
    flash(message)
    return redirect(url_for("clinic.case_detail", treatment_id=treatment_id, _anchor=anchor))


def _audit(action: str, treatment: Treatment, target: str) -> None:
    audit_staff(action, patient_id=treatment.patient_id, target=target)


@bp.get("/cases/<int:treatment_id>")
@login_required
def case_detail(treatment_id: int):
    """One case: patient, contact, treatment, its flags and actions first; history below."""
    return show_case(clinic_get_or_404(Treatment, treatment_id))


@bp.post("/cases/<int:treatment_id>/assign")
@login_required
def assign_case(treatment_id: int):
    """Give the case to a clinician of this clinic, or to nobody."""
    treatment = clinic_get_or_404(Treatment, treatment_id)
    form = AssignForm(staff_by_name(treatment.clinic_id))
    if not form.validate_on_submit():
        return shown_again(treatment, assign_form=form)
    try:
        assignee = case_actions.assign(treatment, form.assignee_id())
    except case_actions.CaseConflict as conflict:
        return shown_again(treatment, 409, refusal=str(conflict), assign_form=form)
    if assignee is None:
        _audit("case.unassign", treatment, f"treatment:{treatment.id}")
        return back_to_case(treatment.id, "Nobody is assigned to this case now.")
    _audit("case.assign", treatment, f"treatment:{treatment.id};user:{assignee.id}")
    return back_to_case(treatment.id, f"Assigned to {assignee.name}.")


@bp.post("/cases/<int:treatment_id>/notes")
@login_required
def add_case_note(treatment_id: int):
    """Add a note to the case, kept with who wrote it and when."""
    treatment = clinic_get_or_404(Treatment, treatment_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            note = case_actions.add_note(treatment, staff_member(), form.body.data)
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        except case_actions.CaseConflict as conflict:
            return shown_again(treatment, 409, refusal=str(conflict), note_form=form)
        else:
            _audit("flag.note", treatment, f"note:{note.id}")
            return back_to_case(treatment.id, "Note saved.", "notes")
    return shown_again(treatment, note_form=form)


@bp.post("/cases/<int:treatment_id>/resolve")
@login_required
def resolve_case(treatment_id: int):
    """Resolve every flag of the case with one outcome, provided they are the flags shown;
    "Resolve and open next case" goes on to the next case in the queue's order."""
    treatment = clinic_get_or_404(Treatment, treatment_id)
    form = CaseResolveForm()
    if not form.validate_on_submit():
        return shown_again(treatment, case_resolve_form=form)
    place = cases.queue_place(current_user.clinic_id, treatment.id)
    try:
        resolved = case_actions.resolve_case(
            treatment,
            staff_member(),
            form.outcome.data,
            form.resolution_note.data,
            form.shown_flag_ids(),
            reported_on=form.reported_on.data,
            reference=form.reference.data,
        )
    except InvalidInput as invalid:
        form.show_refusal(invalid)
        return shown_again(treatment, case_resolve_form=form)
    except case_actions.CaseConflict as conflict:
        return shown_again(treatment, 409, refusal=str(conflict))
    for flag in resolved:
        _audit("flag.resolve", treatment, f"flag:{flag.id}")
    message = f"Case resolved: {OUTCOMES[form.outcome.data]}."
    if not form.resolve_and_next.data:
        return back_to_case(treatment.id, message)
    next_id = cases.next_case_id(current_user.clinic_id, place)
    if next_id is None:
        db.session.commit()
        flash(f"{message} No more cases: the queue is empty.")
        return redirect(url_for("clinic.queue"))
    return back_to_case(next_id, f"{message} This is the next case.")
