"""Decoding an upload and re-encoding it clean (tracker/services/photos/images.py): only a whole
JPEG, PNG, WebP or HEIC picture within the limits is accepted, judged by decoding; what comes out
is an upright RGB JPEG, bounded in size, with no metadata at all."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, ImageCms

from tests.photo_helpers import (
    HTML,
    compressible_png,
    encoded,
    heic,
    jpeg,
    jpeg_declaring,
    noisy_jpeg,
    picture,
    png,
    png_declaring,
    png_with_text_bomb,
    webp,
)
from tracker.services.photos import images
from tracker.services.photos.images import (
    MAX_PIXELS,
    MAX_SIDE,
    MAX_UPLOAD_BYTES,
    THUMBNAIL_SIDE,
    ImageRefused,
    process,
)

UNREADABLE = "That file is not a photo we can read: use a JPEG, PNG, WebP or HEIC picture."
EXTRA = "That file has something other than a picture in it"
TOO_MANY_PIXELS = "That photo is too big to process: use one of at most 40 megapixels."


def refusal(upload: bytes) -> str:
    with pytest.raises(ImageRefused) as refused:
        process(upload)
    return refused.value.message


def mpo() -> bytes:
    return encoded(picture(), "MPO", save_all=True, append_images=[picture((32, 32), "blue")])


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    "make", [jpeg, png, webp, heic, mpo], ids=["jpeg", "png", "webp", "heic", "mpo"]
)
def test_each_accepted_format_comes_out_as_a_jpeg_and_a_thumbnail(make):
    result = process(make())
    stored, thumbnail = decoded(result.data), decoded(result.thumbnail)
    assert stored.format == thumbnail.format == "JPEG" and stored.mode == "RGB"
    assert (result.width, result.height) == stored.size == (64, 48)
    red, green, blue = stored.getpixel((32, 24))
    assert red > 200 and green < 60 and blue < 60


def test_a_heic_photo_from_pillow_heif_decodes():
    result = process(heic((300, 200), "blue"))
    assert (result.width, result.height) == (300, 200)
    assert decoded(result.data).getpixel((150, 100))[2] > 200


def test_a_large_photo_is_bounded_on_its_long_side_and_its_thumbnail_smaller():
    result = process(jpeg((3000, 1500)))
    assert (result.width, result.height) == (MAX_SIDE, MAX_SIDE // 2)
    assert decoded(result.thumbnail).size == (THUMBNAIL_SIDE, THUMBNAIL_SIDE // 2)


def test_transparency_is_flattened_onto_white():
    result = process(png(mode="RGBA", colour=(255, 0, 0, 0)))
    assert decoded(result.data).getpixel((10, 10)) == pytest.approx((255, 255, 255), abs=3)


def test_sixteen_bit_grey_is_scaled_not_clipped():
    result = process(encoded(Image.new("I;16", (32, 32), 32768), "PNG"))
    assert decoded(result.data).getpixel((5, 5))[0] == pytest.approx(128, abs=3)


def test_an_exif_rotated_photo_comes_out_upright():
    # Stored 200 x 100, red on the left; Orientation 6 means "turn 90 degrees clockwise to view".
    image = picture((200, 100), "blue")
    image.paste((255, 0, 0), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    result = process(encoded(image, "JPEG", exif=exif.tobytes(), quality=95))
    upright = decoded(result.data)
    assert upright.size == (100, 200)
    assert upright.getpixel((50, 20))[0] > 200  # the red half is now on top
    assert upright.getpixel((50, 180))[2] > 200
    assert 0x0112 not in upright.getexif()


def jpeg_markers(data: bytes) -> list[tuple[int, bytes]]:
    """Each segment's marker and first bytes, up to the first scan."""
    markers, at = [], 2
    while data[at] == 0xFF and data[at + 1] != 0xDA:
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        markers.append((data[at + 1], data[at + 4 : at + 4 + 12]))
        at += 2 + length
    return markers


def test_no_camera_gps_xmp_icc_or_comment_survives():
    exif = Image.Exif()
    exif[0x010F] = "SnoopCam"  # Make
    exif[0x0110] = "Spy Model 3"  # Model
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPSInfo
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>SecretPlace</rdf:RDF></x:xmpmeta>'
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = encoded(
        picture((400, 300)),
        "JPEG",
        exif=exif.tobytes(),
        xmp=xmp,
        icc_profile=icc,
        comment=b"taken at home",
    )
    source = Image.open(io.BytesIO(upload))
    assert source.getexif()[0x010F] == "SnoopCam" and "icc_profile" in source.info  # made right
    result = process(upload)
    for data in (result.data, result.thumbnail):
        for secret in (b"SnoopCam", b"Spy Model", b"SecretPlace", b"taken at home", b"Exif"):
            assert secret not in data
        image = decoded(data)
        assert dict(image.getexif()) == {}
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)
        # Only the JFIF header (APP0) and the picture's own segments: no APP1-15 (EXIF, XMP,
        # ICC, MPF, ...) and no comment (COM).
        kinds = {marker for marker, _ in jpeg_markers(data)}
        assert kinds <= {0xE0, 0xDB, 0xC0, 0xC4}, sorted(hex(k) for k in kinds)


def test_an_animated_picture_keeps_its_first_frame():
    frames = [picture(colour="red"), picture(colour="blue")]
    for format in ("PNG", "WEBP"):
        upload = encoded(frames[0], format, save_all=True, append_images=frames[1:], duration=100)
        assert Image.open(io.BytesIO(upload)).n_frames == 2  # made right
        first = decoded(process(upload).data).getpixel((10, 10))
        assert first[0] > 200 and first[2] < 60, format


# Refused, each with its message.


def test_a_text_file_named_jpg_is_refused():
    assert refusal(b"Dear clinic, here is my photo.\n" * 20) == UNREADABLE


def test_a_zero_byte_file_is_refused():
    assert refusal(b"") == "That file is empty: choose a photo to add."


def test_an_svg_is_refused():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
    assert refusal(svg) == UNREADABLE


@pytest.mark.parametrize("format", ["GIF", "BMP", "TIFF"])
def test_other_real_image_formats_are_refused(format):
    assert refusal(encoded(picture(), format)) == UNREADABLE


def test_a_truncated_jpeg_is_refused():
    whole = noisy_jpeg()
    process(whole)  # whole, it is fine
    for cut in (len(whole) // 2, len(whole) - 2, 400):
        assert refusal(whole[:cut]) == UNREADABLE


@pytest.mark.parametrize("make", [png, webp, heic], ids=["png", "webp", "heic"])
def test_other_formats_cut_short_are_refused(make):
    whole = make((200, 150))
    assert refusal(whole[: len(whole) - 10]) == UNREADABLE


@pytest.mark.parametrize(
    "make", [jpeg, png, webp, heic, mpo], ids=["jpeg", "png", "webp", "heic", "mpo"]
)
def test_a_polyglot_picture_with_html_appended_is_refused(make):
    assert refusal(make() + HTML).startswith(EXTRA)


def test_a_jpeg_polyglot_ending_in_a_fake_end_marker_is_refused():
    # The appended data ends in FF D9 (the JPEG end marker): the last EOI is not the picture's.
    assert refusal(jpeg() + HTML + b"\xff\xd9").startswith(EXTRA)


def test_a_jpeg_with_zero_padding_after_it_is_accepted():
    assert process(jpeg() + b"\x00" * 512).width == 64


def test_a_jpeg_whose_exif_thumbnail_ends_early_is_still_whole():
    # The EXIF thumbnail is a JPEG with its own EOI inside APP1: the walk skips it by length.
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    thumbnail = jpeg((8, 8))
    upload = bytearray(jpeg((64, 48), exif=exif.tobytes() + thumbnail))
    assert process(bytes(upload)).width == 64


def test_a_30000_by_30000_image_is_refused_without_decoding_it():
    assert refusal(png_declaring(30_000, 30_000)) == TOO_MANY_PIXELS
    assert refusal(jpeg_declaring(30_000, 30_000)) == TOO_MANY_PIXELS


def test_a_png_bomb_is_refused():
    # A few bytes declaring a huge picture; a real, whole PNG of ~49 MP in ~50 KB; a text chunk
    # that inflates to 64 MB.
    assert refusal(png_declaring(20_000, 20_000)) == TOO_MANY_PIXELS
    bomb = compressible_png(7000, 7000)
    assert len(bomb) < 100_000
    assert refusal(bomb) == TOO_MANY_PIXELS
    assert refusal(png_with_text_bomb()) == UNREADABLE


def test_pillows_own_bomb_guard_is_set_to_the_same_limit():
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


def test_the_header_check_alone_refuses_a_bomb(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's guard off
    assert refusal(png_declaring(30_000, 30_000)) == TOO_MANY_PIXELS
    assert refusal(compressible_png(7000, 7000)) == TOO_MANY_PIXELS


@pytest.mark.parametrize("side", [30_000, 7_000], ids=["past-twice-the-limit", "past-the-limit"])
def test_pillows_guard_alone_refuses_a_bomb(monkeypatch, side):
    # Our own header check off: Pillow's error (past twice the limit) and its warning (past the
    # limit, made an error) still refuse the picture before its pixels are loaded.
    monkeypatch.setattr(images, "MAX_PIXELS", 10**12)
    assert refusal(png_declaring(side, side)).startswith("That photo is too big to process")


def test_just_within_the_pixel_limit_is_accepted():
    result = process(compressible_png(6000, 6000))  # 36 MP of black, a few kilobytes
    assert (result.width, result.height) == (MAX_SIDE, MAX_SIDE)


def test_an_upload_over_10_mb_is_refused_before_decoding():
    too_big = jpeg() + b"\x00" * MAX_UPLOAD_BYTES
    assert refusal(too_big) == "That photo is too large: use one of at most 10 MB."


@pytest.mark.parametrize(
    "options",
    [{"progressive": True}, {"restart_marker_blocks": 4}, {"subsampling": 0, "quality": 100}],
    ids=["progressive", "restart-markers", "no-subsampling"],
)
def test_jpegs_written_other_ways_are_whole(options):
    upload = encoded(Image.effect_noise((300, 200), 40).convert("RGB"), "JPEG", **options)
    assert process(upload).width == 300
    assert refusal(upload + HTML).startswith(EXTRA)
