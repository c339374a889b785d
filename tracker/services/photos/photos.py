"""A check-in's photos: stored within the limits, all or nothing, and read back only by the
patient's own clinic or the patient themselves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import func, select

from ...extensions import db
from ...infrastructure.database import lock_for_update
from ...invalid import InvalidInput
from ...models import CheckIn, Photo, Treatment
from ...models.photo import STORED_TYPE
from ...timeutil import utcnow
from ..patients.erased import refuse_if_erased
from .images import MAX_UPLOAD_BYTES, ImageRefused, ProcessedImage, process

__all__ = [
    "FIELD",
    "MAX_PER_CHECKIN",
    "MAX_PER_TREATMENT",
    "MAX_UPLOAD_BYTES",
    "add_photos",
    "clinic_photo",
    "patient_photo",
    "photos_by_checkin",
]

MAX_PER_CHECKIN = 3
MAX_PER_TREATMENT = 20
FIELD = "photos"
"""The field a refusal names (`InvalidInput.fields`)."""


def add_photos(
    checkin: CheckIn, uploads: Sequence[bytes], now: datetime | None = None
) -> list[Photo]:
    """Store `uploads` (the raw bytes of each file) as photos of `checkin`, all or none.

    Every upload is decoded and re-encoded first; if any is refused, or the check-in would have
    more than `MAX_PER_CHECKIN` photos or its treatment more than `MAX_PER_TREATMENT` (counting
    what is stored), raises `InvalidInput` on "photos" with the reason and stores nothing.
    Raises `PatientErased` for an erased patient's record. Either refusal comes before anything
    is added to the session, so a caller that has just recorded the check-in in the same
    transaction can catch it and still commit the check-in (its symptoms are never lost to a bad
    photo). Flushes only: the caller commits (and audits). Empty `uploads` store nothing."""
    uploads = [upload for upload in uploads if upload is not None]
    if not uploads:
        return []
    treatment = checkin.treatment
    refuse_if_erased(treatment.patient)
    # Decoding takes up to a second a photo: before the row lock, so nobody waits for it (on
    # SQLite the request holds the write lock from its start; see the README).
    processed = [_processed(upload, index, len(uploads)) for index, upload in enumerate(uploads)]
    # Photos of one treatment one at a time: the counts below gate the write.
    lock_for_update(Treatment, treatment.id)
    _check_limits(checkin, len(uploads))
    now = now or utcnow()
    photos = [
        Photo(
            clinic_id=treatment.clinic_id,
            treatment_id=checkin.treatment_id,
            checkin_id=checkin.id,
            content_type=STORED_TYPE,
            width=image.width,
            height=image.height,
            byte_size=len(image.data),
            data=image.data,
            thumbnail=image.thumbnail,
            created_at=now,
        )
        for image in processed
    ]
    db.session.add_all(photos)
    db.session.flush()
    return photos


def _count(column, value: int) -> int:
    return db.session.scalar(select(func.count(Photo.id)).where(column == value)) or 0


def _check_limits(checkin: CheckIn, adding: int) -> None:
    """Refuse `adding` more photos past the check-in's or the treatment's limit."""
    on_checkin = _count(Photo.checkin_id, checkin.id)
    on_treatment = _count(Photo.treatment_id, checkin.treatment_id)
    if on_checkin + adding > MAX_PER_CHECKIN and on_checkin:
        message = gettext(
            "A check-in can have at most %(num)s photos: it has %(stored)s already.",
            num=MAX_PER_CHECKIN,
            stored=on_checkin,
        )
    elif on_checkin + adding > MAX_PER_CHECKIN:
        message = gettext("Add at most %(num)s photos to a check-in.", num=MAX_PER_CHECKIN)
    elif on_treatment + adding > MAX_PER_TREATMENT:
        message = gettext(
            "A treatment can have at most %(num)s photos: it has %(stored)s already.",
            num=MAX_PER_TREATMENT,
            stored=on_treatment,
        )
    else:
        return
    raise InvalidInput.on(FIELD, message)


def _processed(upload: bytes, index: int, count: int) -> ProcessedImage:
    try:
        return process(upload)
    except ImageRefused as refused:
        message = refused.message
        if count > 1:
            message = gettext("Photo %(num)s: %(reason)s", num=index + 1, reason=message)
        raise InvalidInput.on(FIELD, message) from None


def photos_by_checkin(checkin_ids: Iterable[int]) -> dict[int, list[Photo]]:
    """Each check-in's photos in the order they were added (no image bytes read); a check-in
    without photos is absent. The caller has already checked who may see the check-ins."""
    ids = sorted(set(checkin_ids))
    found: dict[int, list[Photo]] = defaultdict(list)
    if not ids:
        return {}
    for photo in db.session.scalars(
        select(Photo).where(Photo.checkin_id.in_(ids)).order_by(Photo.checkin_id, Photo.id)
    ):
        found[photo.checkin_id].append(photo)
    return dict(found)


def clinic_photo(photo_id: int, clinic_id: int) -> Photo | None:
    """The photo if it belongs to a patient of `clinic_id`, else None (the caller answers 404)."""
    return db.session.scalar(
        select(Photo).where(Photo.id == photo_id, Photo.clinic_id == clinic_id)
    )


def patient_photo(photo_id: int, patient_id: int) -> Photo | None:
    """The photo if it is of one of `patient_id`'s own check-ins, else None (404)."""
    return db.session.scalar(
        select(Photo)
        .join(Treatment, Treatment.id == Photo.treatment_id)
        .where(Photo.id == photo_id, Treatment.patient_id == patient_id)
    )
