"""Photos in and out of HTTP: the files a patient's form sent, and a stored photo as a response.

Shared by the patient's pages and the clinic's; who may see which photo is each view's check.
"""

from __future__ import annotations

from flask import Response
from werkzeug.datastructures import MultiDict

from .models import Photo
from .services.photos.photos import MAX_PER_CHECKIN, MAX_UPLOAD_BYTES

PHOTOS_FIELD = "photos"
"""The name of every file input of a form that takes photos (camera and library alike)."""


def uploaded_photos(files: MultiDict) -> list[bytes]:
    """The photos a form sent, as bytes, in order; inputs left empty are skipped.

    Each is read only a byte past the size limit (the service refuses it as too large, without
    this process holding a larger file), and only one past the number a check-in may have (the
    service refuses that too): the request's own size limit bounds the rest.
    """
    uploads = []
    for storage in files.getlist(PHOTOS_FIELD):
        data = storage.stream.read(MAX_UPLOAD_BYTES + 1)
        if not data and not storage.filename:
            continue  # an input with no file chosen (a chosen file of 0 bytes is refused)
        uploads.append(data)
        if len(uploads) > MAX_PER_CHECKIN:
            break
    return uploads


def photo_response(photo: Photo, thumbnail: bool = False) -> Response:
    """A stored photo (or its thumbnail) to show in the browser, never cached nor sniffed."""
    data = photo.thumbnail if thumbnail else photo.data
    response = Response(data, mimetype=photo.content_type)
    response.headers["Content-Disposition"] = f'inline; filename="photo-{photo.id}.jpg"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def viewed(photo: Photo, thumbnail: bool = False) -> str:
    """The audit target of a view of the photo (or of its thumbnail)."""
    return f"photo:{photo.id}{';thumbnail' if thumbnail else ''}"


def photos_chosen(files: MultiDict) -> bool:
    """Whether the form sent any photo (a file chosen in any of its photo inputs)."""
    return any(storage.filename for storage in files.getlist(PHOTOS_FIELD))
