"""Photos with a check-in (issue 16), end to end: a patient on a phone attaches a photo taken
with the camera to a check-in; the nurse sees it on the case page and it loads; another clinic's
nurse gets 404 for its URL (and for its thumbnail's)."""

from __future__ import annotations

from PIL import Image
from sqlalchemy import select

from tests.e2e import data
from tests.e2e.conftest import DESKTOP, _page
from tests.e2e.pages import (
    assert_accessible,
    enter_password,
    expect,
    report,
    screenshot,
    staff_sign_in,
    start_check_in,
)
from tracker.extensions import db
from tracker.models import CheckIn, Photo


def stored_photos(seeding, treated: data.Treated) -> list[tuple[int, int, int, int]]:
    """(photo id, check-in id, width, height) of each of the treatment's photos."""
    with data.on(seeding):
        rows = db.session.execute(
            select(Photo.id, Photo.checkin_id, Photo.width, Photo.height)
            .where(Photo.treatment_id == treated.treatment_id)
            .order_by(Photo.id)
        )
        return [tuple(row) for row in rows]


def checkin_ids(seeding, treated: data.Treated) -> list[int]:
    with data.on(seeding):
        return list(
            db.session.scalars(
                select(CheckIn.id).where(CheckIn.treatment_id == treated.treatment_id)
            )
        )


def test_a_phone_photo_reaches_the_nurse_and_no_other_clinic(
    stack, seeding, phone, desktop, chromium, tmp_path
):
    treated = data.treated_patient(seeding, "Phoebe Photo")
    token = data.personal_link(seeding, treated)
    stack.tokens.append(token)
    picture = tmp_path / "eyelid.jpg"
    Image.new("RGB", (320, 240), "peachpuff").save(picture, "JPEG")

    # The patient, on the phone: a symptom, and a photo from the camera input.
    start_check_in(phone, f"{stack.base_url}/p/{token}")
    phone.get_by_text("Add photos (optional)").tap()
    phone.get_by_label("Take a photo with your camera").set_input_files(picture)
    screenshot(phone, "phone-checkin-with-photo")
    assert_accessible(phone)
    report(phone, {"Eyelid drooping": "Moderate"})
    photos = phone.locator("#photos")
    expect(photos.get_by_role("heading", name="Photos with this check-in")).to_be_visible()
    thumbnail = photos.get_by_role("img")
    expect(thumbnail).to_have_count(1)
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") > 0
    screenshot(phone, "phone-answer-with-photo")
    assert_accessible(phone)
    [(photo_id, checkin_id, width, height)] = stored_photos(seeding, treated)
    assert checkin_ids(seeding, treated) == [checkin_id]
    assert (width, height) == (320, 240)

    # The nurse of the patient's clinic: the photo in its check-in's row, and it loads.
    staff_sign_in(desktop, stack)
    desktop.goto(f"{stack.base_url}/clinic/cases/{treated.treatment_id}")
    row = desktop.locator(f"#checkin-{checkin_id}")
    image = row.get_by_role("img")
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") > 0
    screenshot(desktop, "case-page-with-photo")
    assert_accessible(desktop)
    with desktop.expect_response(lambda r: r.url.endswith(f"/clinic/photos/{photo_id}")) as full:
        row.get_by_role("link").click()
    response = full.value
    assert response.status == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == f'inline; filename="photo-{photo_id}.jpg"'
    assert desktop.evaluate("document.images[0].naturalWidth") == 320

    # Another clinic's nurse: not found, for the photo and for its thumbnail.
    _, outsider = data.clinic_of_its_own(seeding, stack, "Otto Outsider")
    context, other = _page(chromium, DESKTOP)
    try:
        enter_password(other, stack, outsider)
        for path in (f"/clinic/photos/{photo_id}", f"/clinic/photos/{photo_id}/thumbnail"):
            response = other.goto(f"{stack.base_url}{path}")
            assert response is not None and response.status == 404, path
            expect(other.get_by_role("heading", name="Not found")).to_be_visible()
    finally:
        context.close()
