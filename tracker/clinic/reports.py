"""A case's regulator report (MHRA Yellow Card, FDA MedWatch 3500): one page, filled from the
record, where the clinician adds what only they can give; printed, it is the report alone.

The case is looked up within the signed-in user's clinic (another clinic's answers 404), and a
treatment without flags is no case (404). Viewing is audited as "report.view", saving as
"report.update"; a refused save keeps nothing and shows the page again (422).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import login_required

from ..extensions import db
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..models import REACTION_OUTCOMES, SERIOUSNESS, Treatment
from ..services.flags import regulator_report
from ..services.flags.regulator_report import MISSING_LABELS, Report
from . import bp
from .access import audit_staff, clinic_get_or_404
from .cases import staff_member
from .patient_forms import INDICATION_LABELS, SEX_LABELS
from .report_forms import DESCRIPTION_PREFIX, ReportForm

ADMIN_FILLS = frozenset({"clinic_address", "clinic_phone", "profession", "registration_number"})
"""What an admin fills in on the staff page, not the clinician on this one."""


def _where_filled(report: Report) -> dict[str, str | None]:
    """Where each missing field is filled in (None: nowhere any more, for an erased patient)."""
    patient = report.patient
    edit_patient = (
        None if patient.erased_at else url_for("clinic.edit_patient", patient_id=patient.id)
    )
    staff_details = url_for("clinic.staff_details", user_id=report.reporter.id)
    return {
        "sex": edit_patient,
        "date_of_birth": edit_patient,
        "clinic_address": url_for("clinic.staff", _anchor="address"),
        "clinic_phone": url_for("clinic.staff", _anchor="address"),
        "profession": staff_details,
        "registration_number": staff_details,
        "outcome": "#report-form",
    }


def _initial(report: Report) -> dict:
    """The form's values as saved."""
    values = {
        "seriousness": report.seriousness,
        "outcome": report.confirmed_outcome or "",
        "other_medicines": report.other_medicines,
    }
    for reaction in report.reactions:
        values[DESCRIPTION_PREFIX + str(reaction.symptom.id)] = reaction.description
    return values


def _case_report_or_404(treatment_id: int) -> Report:
    treatment = clinic_get_or_404(Treatment, treatment_id)
    if not regulator_report.case_flags(treatment):
        abort(404)  # a treatment nobody flagged is not a case to report
    return regulator_report.build_report(treatment, staff_member())


@bp.route("/cases/<int:treatment_id>/report", methods=["GET", "POST"])
@login_required
def case_report(treatment_id: int):
    """The case's regulator report, with what it still lacks at the top and the clinician's
    part (seriousness, outcome, other medicines, descriptions) in a form below it."""
    report = _case_report_or_404(treatment_id)
    treatment = report.treatment
    form = ReportForm.for_reactions(report.reactions, **_initial(report))
    if form.validate_on_submit():
        try:
            regulator_report.update_report(report, staff_member(), form.changes())
        except InvalidInput as invalid:
            form.show_refusal(invalid)
        else:
            audit_staff("report.update", treatment.patient_id, target=f"treatment:{treatment.id}")
            db.session.commit()
            flash("Report saved.")
            return redirect(url_for("clinic.case_report", treatment_id=treatment.id))
    if form.errors:
        restart_write()  # nothing of the refused save is kept; the page shown is a view
        report = _case_report_or_404(treatment_id)
    audit_staff("report.view", treatment.patient_id, target=f"treatment:{treatment.id}")
    html = render_template(
        "clinic/case_report.html",
        report=report,
        form=form,
        tz=report.clinic.timezone,
        where_filled=_where_filled(report),
        MISSING_LABELS=MISSING_LABELS,
        ADMIN_FILLS=ADMIN_FILLS,
        SERIOUSNESS=SERIOUSNESS,
        REACTION_OUTCOMES=REACTION_OUTCOMES,
        INDICATION_LABELS=INDICATION_LABELS,
        SEX_LABELS=SEX_LABELS,
    )
    db.session.commit()
    return html, 422 if form.errors else 200
