"""Patients' photos for the clinic's staff: each served only to a clinician of the patient's own
clinic (another clinic's answers 404, as if it did not exist), audited as `photo.view`."""

from __future__ import annotations

from flask import abort
from flask_login import current_user, login_required

from ..extensions import db
from ..photo_files import photo_response, viewed
from ..services.photos.photos import clinic_photo
from . import bp
from .access import audit_staff


@bp.get("/photos/<int:photo_id>")
@login_required
def photo(photo_id: int):
    """A patient's photo, full size."""
    return _clinic_photo(photo_id, thumbnail=False)


@bp.get("/photos/<int:photo_id>/thumbnail")
@login_required
def photo_thumbnail(photo_id: int):
    """A patient's photo as the case page shows it, small."""
    return _clinic_photo(photo_id, thumbnail=True)


def _clinic_photo(photo_id: int, thumbnail: bool):
    found = clinic_photo(photo_id, current_user.clinic_id)
    if found is None:
        abort(404)
    response = photo_response(found, thumbnail)
    patient_id = found.checkin.treatment.patient_id
    audit_staff("photo.view", patient_id=patient_id, target=viewed(found, thumbnail))
    db.session.commit()
    return response
