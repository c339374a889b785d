"""A check-in's photos: their list (metadata and where to download each) and each JPEG itself.

Only the token clinic's check-ins and photos (anything else is 404); both reads are audited, and
the image is served as the case page serves it: never cached, inline under a safe name.
"""

from __future__ import annotations

from ..extensions import db
from ..models import CheckIn, Photo
from ..photo_files import photo_response, viewed
from ..services.photos.photos import photos_by_checkin
from . import bp, schemas
from .common import audit_api
from .spec import Binary, operation


@bp.get("/checkins/<int:checkin_id>/photos")
@operation("A check-in's photos", tag="photos", responses={200: schemas.PhotoList})
def checkin_photos(checkin: CheckIn):
    """Each photo the patient added to the check-in (metadata only; `download_url` gives the
    image). Audited as a view of the patient's record."""
    photos = photos_by_checkin([checkin.id]).get(checkin.id, [])
    audit_api("checkin.photos.list", checkin.treatment.patient_id, target=f"checkin:{checkin.id}")
    result = schemas.PhotoList(photos=[schemas.PhotoOut.model_validate(photo) for photo in photos])
    db.session.commit()
    return result


@bp.get("/photos/<int:photo_id>")
@operation("A photo (the JPEG)", tag="photos", responses={200: Binary}, media_type="image/jpeg")
def get_photo(photo: Photo):
    """The stored JPEG (re-encoded on upload: at most 2048 px, no metadata), with
    `Cache-Control: no-store` and `Content-Disposition: inline`. Audited (`photo.view`)."""
    audit_api("photo.view", photo.checkin.treatment.patient_id, target=viewed(photo))
    response = photo_response(photo)  # reads the image before the commit expires the row
    db.session.commit()
    return response
