"""Photos for the page tests: real JPEGs made by Pillow, files as a browser posts them, and photos
stored as the service would (for the tests of showing them)."""

from __future__ import annotations

import io
import os

from PIL import Image

from tracker.extensions import db
from tracker.models import CheckIn, Photo


def jpeg_bytes(width: int = 64, height: int = 48, colour: str = "tomato", noise: bool = False):
    """A real JPEG of `width` x `height`: one colour, or random noise (which hardly compresses,
    so a big one is big in bytes too)."""
    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def png_bytes(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "navy").save(out, "PNG")
    return out.getvalue()


def stored_photo(checkin: CheckIn, colour: str = "tomato") -> Photo:
    """A photo of `checkin` stored directly (as `add_photos` stores one), flushed."""
    data = jpeg_bytes(200, 150, colour)
    photo = Photo(
        clinic_id=checkin.treatment.clinic_id,
        treatment_id=checkin.treatment_id,
        checkin_id=checkin.id,
        width=200,
        height=150,
        byte_size=len(data),
        data=data,
        thumbnail=jpeg_bytes(40, 30, colour),
        created_at=checkin.created_at,
    )
    db.session.add(photo)
    db.session.flush()
    return photo


def upload(data: bytes, name: str = "photo.jpg") -> tuple[io.BytesIO, str]:
    """A file for the test client's multipart form, as a browser sends a chosen file."""
    return io.BytesIO(data), name


def no_file() -> tuple[io.BytesIO, str]:
    """What a browser sends for a file input left empty."""
    return io.BytesIO(b""), ""


def image_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size
