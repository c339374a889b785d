"""The patient's photos: adding them to a check-in from its answer page, and seeing their own.

A photo is added only to the patient's own check-in, in the session it was sent in; it is shown
only to the signed-in patient whose it is (anything else answers 404), audited each time.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import render_error
from ..extensions import db
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..photo_files import photo_response, uploaded_photos, viewed
from ..services.photos.photos import MAX_PER_CHECKIN, patient_photo
from ..services.photos.photos import add_photos as store_photos
from . import bp
from .answers import answer_page, own_checkin_or_404
from .photo_forms import AddPhotosForm
from .session import audit_patient, patient_required, sent_in_this_session


@bp.post("/checkins/<int:checkin_id>/photos")
@patient_required
def add_photos(checkin_id: int):
    """Add photos to a check-in the patient sent in this session; its answer page again."""
    checkin = own_checkin_or_404(checkin_id)
    if not sent_in_this_session(checkin):
        return render_error(
            403,
            gettext(
                "Photos can be added to a check-in only just after sending it. Nothing was "
                "saved. To send photos now, send a new check-in with them."
            ),
        )
    if not AddPhotosForm().validate_on_submit():
        abort(400)
    uploads = uploaded_photos(request.files)
    try:
        if not uploads:
            raise InvalidInput.on("photos", gettext("Choose a photo to add."))
        store_photos(checkin, uploads)
    except InvalidInput as refused:
        restart_write()
        refusal = gettext("Your photos were not saved: %(reason)s", reason=refused)
        return answer_page(checkin, 422, photo_refusal=refusal)
    audit_patient("patient.photo.add", target=f"checkin:{checkin.id}")
    db.session.commit()
    flash(gettext("Your photos were added to this check-in. Only your clinic sees them."))
    return redirect(url_for("patient.answer", checkin_id=checkin_id, _anchor="photos"))


@bp.errorhandler(RequestEntityTooLarge)
def too_much_to_send(error: RequestEntityTooLarge):
    """Over the size limit: nothing was read, so nothing was saved; with photos, say their
    limits (the check-in's symptoms were not read either, and must be sent again)."""
    if not getattr(request, "takes_photos", False):
        return render_error(413)
    return render_error(
        413,
        gettext(
            "Nothing was saved, not even your answers. Photos can be up to 10 MB each, "
            "%(num)d at most: go back, choose fewer or smaller photos, and send again.",
            num=MAX_PER_CHECKIN,
        ),
    )


@bp.get("/photos/<int:photo_id>")
@patient_required
def photo(photo_id: int):
    """One of the signed-in patient's own photos, full size."""
    return _own_photo(photo_id, thumbnail=False)


@bp.get("/photos/<int:photo_id>/thumbnail")
@patient_required
def photo_thumbnail(photo_id: int):
    """The thumbnail of one of the signed-in patient's own photos."""
    return _own_photo(photo_id, thumbnail=True)


def _own_photo(photo_id: int, thumbnail: bool):
    found = patient_photo(photo_id, g.patient.id)
    if found is None:
        abort(404)
    response = photo_response(found, thumbnail)
    audit_patient("patient.photo.view", target=viewed(found, thumbnail))
    db.session.commit()
    return response
