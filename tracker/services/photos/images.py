"""Turning an upload into a photo we store: decoded to prove it is one, then re-encoded clean.

An upload is judged by decoding it with Pillow (and pillow-heif for HEIC), never by its name or
declared type: only a JPEG, PNG, WebP or HEIC picture that decodes completely is accepted. Before
decoding, an upload over `MAX_UPLOAD_BYTES` is refused; before loading the pixels, one whose
header declares more than `MAX_PIXELS` (Pillow's own decompression-bomb limit is set to the same
number as a second guard). A file with bytes after the picture's end (a "polyglot": a real
picture with, say, HTML appended) is refused, as is a truncated one. An animated picture keeps
its first frame only.

What is stored is new: the picture turned upright by its EXIF orientation, flattened onto white,
at most `MAX_SIDE` pixels on its long side, written as a fresh JPEG with no EXIF, GPS, XMP, ICC
profile, comment or embedded thumbnail; and a thumbnail of at most `THUMBNAIL_SIDE` the same way.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pillow_heif
from flask_babel import gettext
from PIL import Image, ImageOps

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""The largest upload read at all (10 MB), refused before decoding."""
MAX_PIXELS = 40_000_000
"""The most pixels a picture may declare (40 megapixels), refused before its pixels are loaded."""
MAX_SIDE = 2048
"""The stored photo's longest side, in pixels."""
THUMBNAIL_SIDE = 320
"""The thumbnail's longest side, in pixels."""
JPEG_QUALITY = 85

pillow_heif.register_heif_opener()
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
"""Pillow warns past this many pixels and refuses past twice as many; `process` makes the
warning an error, so a bomb whose header slipped past our own check still stops. (The warnings
filter is process-wide, so with threads it is a second guard only: our header check, which
needs no filter, refuses first.)"""

HEIF = "HEIF"
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", HEIF})
"""Pillow's names for what we accept. MPO is a JPEG with further pictures after it (phones
write them: a depth map, a preview); its first picture is the photo."""


class ImageRefused(ValueError):
    """The upload is not a photo we store; `message` says why, for the patient."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class ProcessedImage:
    """A photo as stored: `data` and `thumbnail` are clean JPEG bytes; `width` and `height` are
    the stored photo's (not the upload's)."""

    data: bytes
    thumbnail: bytes
    width: int
    height: int


def unreadable() -> ImageRefused:
    return ImageRefused(
        gettext("That file is not a photo we can read: use a JPEG, PNG, WebP or HEIC picture.")
    )


def too_large() -> ImageRefused:
    return ImageRefused(
        gettext(
            "That photo is too large: use one of at most %(num)s MB.",
            num=MAX_UPLOAD_BYTES // (1024 * 1024),
        )
    )


def too_many_pixels() -> ImageRefused:
    return ImageRefused(
        gettext(
            "That photo is too big to process: use one of at most %(num)s megapixels.",
            num=MAX_PIXELS // 1_000_000,
        )
    )


def extra_data() -> ImageRefused:
    return ImageRefused(
        gettext(
            "That file has something other than a picture in it: "
            "use the photo as your camera or phone saved it."
        )
    )


def process(upload: bytes) -> ProcessedImage:
    """Decode `upload`, refuse it unless it is a whole JPEG, PNG, WebP or HEIC picture within
    the limits, and return it re-encoded (upright, RGB, bounded, no metadata) with a thumbnail.
    Raises `ImageRefused` with a message for the patient."""
    if not upload:
        raise ImageRefused(gettext("That file is empty: choose a photo to add."))
    if len(upload) > MAX_UPLOAD_BYTES:
        raise too_large()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(upload)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise unreadable()
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise too_many_pixels()
                _refuse_unless_whole(image, upload)
                image.seek(0)
                image.load()
                picture = _upright_rgb(image)
        except ImageRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise too_many_pixels() from None
        except (OSError, SyntaxError, ValueError, TypeError, IndexError, struct.error, EOFError):
            raise unreadable() from None
    photo = _bounded(picture, MAX_SIDE)
    return ProcessedImage(
        data=_clean_jpeg(photo),
        thumbnail=_clean_jpeg(_bounded(photo, THUMBNAIL_SIDE)),
        width=photo.width,
        height=photo.height,
    )


def _upright_rgb(image: Image.Image) -> Image.Image:
    """The first frame, turned by its EXIF orientation, in RGB with any transparency on white."""
    frame = ImageOps.exif_transpose(image) or image
    if frame.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if frame.mode.startswith("I;16"):  # 16-bit grey (a PNG): scaled to 8 bits, not clipped
        frame = frame.convert("I").point(lambda value: value / 256).convert("L")
    return frame.convert("RGB")


def _bounded(picture: Image.Image, side: int) -> Image.Image:
    """A copy at most `side` pixels on its long side, the same picture if already within."""
    if max(picture.size) <= side:
        return picture
    copy = picture.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    return copy


def _clean_jpeg(picture: Image.Image) -> bytes:
    """`picture` as a JPEG holding pixels only: written from a fresh image (no `info` carried,
    so no comment, EXIF, XMP or ICC profile) and with none passed to the encoder."""
    fresh = Image.frombytes("RGB", picture.size, picture.convert("RGB").tobytes())
    out = io.BytesIO()
    fresh.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


# Where the picture ends: each format's own structure says, so bytes after it can be refused.


def _picture_end(image: Image.Image, upload: bytes) -> int | None:
    """Where the picture in `upload` ends by its format's structure, or None when the structure
    is broken or cut short (a truncated file)."""
    return _END_OF[image.format](image, upload)


def _jpeg_end(data: bytes, start: int = 0) -> int | None:
    """Where the JPEG starting at `start` ends (just after its EOI marker), or None when it is not
    a whole JPEG. Walks the segments by their lengths (so an EOI inside an EXIF thumbnail is
    skipped) and the entropy-coded data after each SOS up to the next real marker."""
    if data[start : start + 2] != b"\xff\xd8":
        return None
    at = start + 2
    size = len(data)
    while at + 1 < size:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte before the marker
            at += 1
            continue
        at += 2
        if marker == 0xD9:
            return at
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if at + 2 > size:
            return None
        (length,) = struct.unpack(">H", data[at : at + 2])
        if length < 2:
            return None
        at += length
        if marker == 0xDA:  # the scan's data, up to the next marker (not a stuffed 0 or an RST)
            while True:
                at = data.find(b"\xff", at)
                if at < 0 or at + 1 >= size:
                    return None
                following = data[at + 1]
                if following == 0xFF:
                    at += 1
                elif following == 0x00 or 0xD0 <= following <= 0xD7:
                    at += 2
                else:
                    break
    return None


def _mpo_end(image: Image.Image, data: bytes) -> int | None:
    """The end of an MPO's last picture: its pictures are whole JPEGs one after another."""
    end: int | None = 0
    for _ in range(getattr(image, "n_frames", 1)):
        if end is None:
            return None
        while data[end : end + 1] == b"\x00":
            end += 1
        end = _jpeg_end(data, end)
    return end


def _png_end(image: Image.Image, data: bytes) -> int | None:
    """Just after IEND and its CRC, walking the chunks from the signature."""
    at = 8
    while at + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        at += 12 + length
        if kind == b"IEND":
            return at if at <= len(data) else None
    return None


def _webp_end(image: Image.Image, data: bytes) -> int | None:
    """Where the RIFF header's size says the file ends."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    (size,) = struct.unpack("<I", data[4:8])
    end = 8 + size
    return end if end <= len(data) else None


HEIF_TOP_LEVEL_BOXES = frozenset(
    b"ftyp meta mdat free skip moov moof mfra uuid wide pdin styp sidx ssix prft emsg etyp".split()
)
"""The boxes ISO/IEC 14496-12 and 23008-12 place at a HEIF file's top level."""


def _heif_end(image: Image.Image, data: bytes) -> int | None:
    """The end of the top-level ISO boxes (ftyp first), walked by their sizes; bytes that are no
    top-level box end the walk (they are after the picture); a box longer than the file is a
    file cut short."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind not in HEIF_TOP_LEVEL_BOXES or (at == 0 and kind != b"ftyp"):
            break
        if size == 1:
            if at + 16 > len(data):
                return None
            (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
        elif size == 0:  # the last box, to the end of the file
            return len(data)
        if size < 8:
            break
        if at + size > len(data):
            return None
        at += size
    return at or None


_END_OF: dict[str, Callable[[Image.Image, bytes], int | None]] = {
    "JPEG": lambda image, data: _jpeg_end(data),
    "MPO": _mpo_end,
    "PNG": _png_end,
    "WEBP": _webp_end,
    HEIF: _heif_end,
}
_PADDED = frozenset({"JPEG", "MPO"})
"""Formats a camera may end with zero bytes after the picture."""


def _refuse_unless_whole(image: Image.Image, upload: bytes) -> None:
    """Refuse a picture cut short, or with anything but (JPEG) zero padding after its end."""
    end = _picture_end(image, upload)
    if end is None:
        raise unreadable()
    rest = upload[end:]
    if image.format in _PADDED:
        rest = rest.strip(b"\x00")
    if rest:
        raise extra_data()
