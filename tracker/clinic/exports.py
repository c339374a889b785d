"""Exports a clinician downloads: flags as CSV (the queue's filters, or one case) and a case
as an HL7 FHIR R4 Bundle.

Each is looked up within the signed-in user's clinic (another clinic's treatment answers 404)
and audited before it is sent, as the API's FHIR export is. An erased patient's record is
exported as it is read everywhere else: under the placeholder name, contact data gone.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, current_app, request
from flask_login import current_user, login_required

from ..errors import render_error
from ..extensions import db
from ..models import Treatment
from ..services.flags.export import export_csv
from ..services.flags.fhir import export_treatment
from ..services.flags.queue import ALL_STATUSES, FlagFilters
from ..services.staff.staff_admin import staff_by_name
from ..timeutil import local, utcnow
from . import bp
from .access import audit_staff, clinic_get_or_404
from .flag_forms import FlagFilterForm


def _download(body: Iterable[str] | str, mimetype: str, name: str, suffix: str) -> Response:
    """An attachment named `name`, the clinic's local time of the download, and `suffix`."""
    stamp = f"{local(utcnow(), current_user.clinic.timezone):%Y%m%d-%H%M}"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}{suffix}"'
    return response


def _csv(filters: FlagFilters, name: str, treatment_id: int | None = None) -> Response:
    """Commit the audit row, then stream the flags as CSV in the clinic's time."""
    tz_name = current_user.clinic.timezone
    clinic_id = current_user.clinic_id
    response = _download(
        export_csv(db.engine, clinic_id, filters, tz_name=tz_name, treatment_id=treatment_id),
        "text/csv",
        name,
        ".csv",
    )
    db.session.commit()
    return response


@bp.get("/flags.csv")
@login_required
def export_flags():
    """The queue's flags, with its filters (a status filter brings resolved ones), as CSV."""
    form = FlagFilterForm(staff_by_name(current_user.clinic_id), formdata=request.args)
    if not form.validate():
        return render_error(422, "Choose the filters from the lists on the flag queue.")
    filters = form.to_filters()
    audit_staff("flags.export", target=filters.describe())
    return _csv(filters, "flags")


@bp.get("/treatments/<int:treatment_id>/flags.csv")
@login_required
def export_treatment_flags(treatment_id: int):
    """Every flag of one case (the treatment), whatever its status, as CSV."""
    treatment = clinic_get_or_404(Treatment, treatment_id)
    audit_staff("treatment.export.csv", treatment.patient_id, target=f"treatment:{treatment.id}")
    return _csv(FlagFilters(status=ALL_STATUSES), f"case-{treatment.id}-flags", treatment.id)


@bp.get("/treatments/<int:treatment_id>/fhir")
@login_required
def treatment_fhir(treatment_id: int):
    """The case as an HL7 FHIR R4 Bundle to download, the same one the API gives."""
    treatment = clinic_get_or_404(Treatment, treatment_id)
    bundle = export_treatment(treatment, current_app.config["TRACKER_BASE_URL"])
    audit_staff("treatment.export.fhir", treatment.patient_id, target=f"treatment:{treatment.id}")
    response = _download(
        current_app.json.dumps(bundle, indent=2),
        "application/fhir+json",
        f"case-{treatment.id}",
        ".fhir.json",
    )
    db.session.commit()
    return response
