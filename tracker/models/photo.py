"""Photos a patient adds to a check-in: part of the clinical record, seen by their clinic only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .checkin import CheckIn
from .types import UTCDateTime

STORED_TYPE = "image/jpeg"
"""What a stored photo and its thumbnail are: every upload (JPEG, PNG, WebP or HEIC) is
re-encoded to it."""


class Photo(db.Model):
    """One photo of a check-in, as stored after decoding and re-encoding: bounded in size, with
    no metadata left (no EXIF, GPS, XMP, ICC or embedded thumbnail), turned upright first.

    The image and its thumbnail are in the database, so backups, the JSON export and erasure
    cover them like the rest of the record; both are deferred, so listing photos reads neither.
    `clinic_id` and `treatment_id` are copied from the check-in for the clinic's checks and the
    per-treatment limit."""

    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint(f"content_type = '{STORED_TYPE}'", name="photo_type_known"),
        Index("ix_photos_checkin", "checkin_id", "id"),
        Index("ix_photos_treatment", "treatment_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"))
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id"))
    content_type: Mapped[str] = mapped_column(String(40), default=STORED_TYPE)
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    checkin: Mapped[CheckIn] = relationship()
