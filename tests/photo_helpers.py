"""Pictures for the photo tests, made small and in memory (and a few crafted byte by byte)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

HTML = b"<html><script>alert(document.cookie)</script></html>"


def picture(size=(64, 48), colour="red", mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def encoded(image: Image.Image, format: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def jpeg(size=(64, 48), colour="red", **options) -> bytes:
    return encoded(picture(size, colour), "JPEG", **options)


def png(size=(64, 48), colour="red", mode="RGB") -> bytes:
    return encoded(picture(size, colour, mode), "PNG")


def webp(size=(64, 48), colour="red") -> bytes:
    return encoded(picture(size, colour), "WEBP")


def heic(size=(64, 48), colour="red") -> bytes:
    import tracker.services.photos.images  # noqa: F401  (registers the HEIF opener)

    return encoded(picture(size, colour), "HEIF", quality=80)


def noisy_jpeg(size=(400, 300)) -> bytes:
    """A JPEG with real scan data (noise does not compress away), for cutting it short."""
    return encoded(Image.effect_noise(size, 64).convert("RGB"), "JPEG", quality=90)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, idat: bytes | None = None) -> bytes:
    """A PNG whose header declares `width` x `height` (8-bit grey) without the pixels being made:
    its image data is `idat` (by default a few compressed bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat if idat is not None else zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def compressible_png(width: int, height: int) -> bytes:
    """A real, whole PNG of `width` x `height` black grey pixels, compressed from rows streamed
    (never held at once): a few kilobytes that decode to width x height bytes."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte 0, then the row
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return png_declaring(width, height, b"".join(parts))


def png_with_text_bomb(megabytes: int = 64) -> bytes:
    """A small real PNG with a zTXt chunk that inflates to `megabytes` MB."""
    small = png()
    bomb = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (megabytes << 20), 9))
    return small[:33] + bomb + small[33:]  # after the signature and IHDR


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is rewritten to declare `width` x `height`."""
    data = bytearray(jpeg((16, 16)))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)
