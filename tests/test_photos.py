"""Storing a check-in's photos (tracker/services/photos/photos.py): all or nothing, within the
limits, copied to the check-in's clinic and treatment, and read back only by the patient's own
clinic or the patient."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select

from tests import builders
from tests.conftest import TREATED_AT
from tests.photo_helpers import HTML, jpeg, jpeg_declaring, noisy_jpeg, png, png_declaring
from tracker.extensions import db
from tracker.invalid import InvalidInput
from tracker.models import CheckIn, Photo
from tracker.models.photo import STORED_TYPE
from tracker.services.patients.erased import PatientErased
from tracker.services.photos.photos import (
    MAX_PER_CHECKIN,
    MAX_PER_TREATMENT,
    add_photos,
    clinic_photo,
    patient_photo,
    photos_by_checkin,
)
from tracker.timeutil import utcnow


def a_checkin(treatment, hours: float = 24) -> CheckIn:
    result = builders.checkin(treatment, TREATED_AT + timedelta(hours=hours), {"bruising": 1})
    db.session.commit()
    return result.checkin


def stored() -> int:
    return db.session.scalar(select(func.count(Photo.id)))


def refused(checkin: CheckIn, uploads) -> str:
    with pytest.raises(InvalidInput) as refusal:
        add_photos(checkin, uploads)
    db.session.rollback()
    assert set(refusal.value.fields) == {"photos"}
    return refusal.value.fields["photos"]


def test_photos_are_stored_with_the_checkins_clinic_and_treatment(make_patient):
    _, treatment = make_patient()
    checkin = a_checkin(treatment)
    now = utcnow()
    photos = add_photos(checkin, [jpeg(), png((100, 80))], now=now)
    db.session.commit()
    assert [(p.width, p.height) for p in photos] == [(64, 48), (100, 80)]
    for photo in photos:
        assert photo.clinic_id == treatment.clinic_id and photo.treatment_id == treatment.id
        assert photo.checkin_id == checkin.id and photo.content_type == STORED_TYPE
        assert photo.byte_size == len(photo.data) and photo.data.startswith(b"\xff\xd8")
        assert photo.thumbnail.startswith(b"\xff\xd8") and photo.created_at == now


def test_nothing_is_stored_for_no_uploads(make_patient):
    _, treatment = make_patient()
    assert add_photos(a_checkin(treatment), []) == [] and stored() == 0


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"just some text\n" * 10, "That file is not a photo we can read"),
        (noisy_jpeg()[:3000], "That file is not a photo we can read"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "That file is not a photo we can read"),
        (jpeg() + HTML, "That file has something other than a picture in it"),
        (b"", "That file is empty"),
        (png_declaring(30_000, 30_000), "That photo is too big to process"),
        (jpeg_declaring(30_000, 30_000), "That photo is too big to process"),
        (png_declaring(20_000, 20_000), "That photo is too big to process"),
    ],
    ids=["text", "truncated", "svg", "polyglot", "empty", "30k-png", "30k-jpeg", "png-bomb"],
)
def test_a_bad_upload_is_refused_with_its_reason_and_nothing_is_stored(
    make_patient, upload, message
):
    _, treatment = make_patient()
    checkin = a_checkin(treatment)
    assert refused(checkin, [upload]).startswith(message)
    assert stored() == 0
    assert db.session.get(CheckIn, checkin.id).reports  # the check-in itself is untouched


def test_one_bad_upload_among_good_ones_stores_none_and_says_which(make_patient):
    _, treatment = make_patient()
    checkin = a_checkin(treatment)
    message = refused(checkin, [jpeg(), b"not a photo", png()])
    assert message.startswith("Photo 2: That file is not a photo we can read")
    assert stored() == 0


def test_a_fourth_photo_on_a_checkin_is_refused(make_patient):
    _, treatment = make_patient()
    checkin = a_checkin(treatment)
    add_photos(checkin, [jpeg()] * MAX_PER_CHECKIN)
    db.session.commit()
    message = refused(checkin, [jpeg()])
    assert message == "A check-in can have at most 3 photos: it has 3 already."
    assert stored() == MAX_PER_CHECKIN


def test_four_photos_at_once_are_refused(make_patient):
    _, treatment = make_patient()
    message = refused(a_checkin(treatment), [jpeg()] * (MAX_PER_CHECKIN + 1))
    assert message == "Add at most 3 photos to a check-in."
    assert stored() == 0


def test_a_21st_photo_on_a_treatment_is_refused(make_patient):
    _, treatment = make_patient()
    checkins = [a_checkin(treatment, hours=hour) for hour in range(1, 9)]
    for checkin in checkins[:6]:
        add_photos(checkin, [jpeg()] * 3)
    add_photos(checkins[6], [jpeg()] * 2)
    db.session.commit()
    assert stored() == MAX_PER_TREATMENT
    message = refused(checkins[7], [jpeg()])
    assert message == "A treatment can have at most 20 photos: it has 20 already."
    assert stored() == MAX_PER_TREATMENT


def test_another_treatments_photos_do_not_count(make_patient):
    patient, treatment = make_patient()
    for hour in range(1, 8):
        add_photos(a_checkin(treatment, hour), [jpeg()] * (3 if hour < 7 else 2))
    second = builders.treatment(patient, TREATED_AT + timedelta(days=30))
    db.session.commit()
    later = builders.checkin(second, TREATED_AT + timedelta(days=31), {"bruising": 0}).checkin
    assert len(add_photos(later, [jpeg()])) == 1


def test_an_erased_patients_checkin_takes_no_photos(make_patient):
    patient, treatment = make_patient()
    checkin = a_checkin(treatment)
    patient.erased_at = utcnow()
    db.session.commit()
    with pytest.raises(PatientErased):
        add_photos(checkin, [jpeg()])
    db.session.rollback()
    assert stored() == 0


def test_photos_by_checkin_lists_each_checkins_photos_without_reading_the_images(make_patient):
    _, treatment = make_patient()
    first, second, empty = (a_checkin(treatment, hour) for hour in (1, 2, 3))
    a, b = add_photos(first, [jpeg(), png()])
    (c,) = add_photos(second, [jpeg()])
    db.session.commit()
    ids = first.id, second.id, empty.id, [a.id, b.id], [c.id]
    db.session.expunge_all()
    found = photos_by_checkin(ids[:3])
    assert {k: [p.id for p in v] for k, v in found.items()} == {ids[0]: ids[3], ids[1]: ids[4]}
    for photo in found[first.id]:
        assert {"data", "thumbnail"} <= inspect(photo).unloaded
    assert photos_by_checkin([]) == {}


def test_a_photo_is_found_only_for_its_own_clinic_and_patient(make_patient, other_clinic):
    patient, treatment = make_patient()
    other_patient, other_treatment = make_patient("Sam Other", clinic=other_clinic)
    neighbour, _ = make_patient("Neil Neighbour")
    (photo,) = add_photos(a_checkin(treatment), [jpeg()])
    db.session.commit()
    assert clinic_photo(photo.id, treatment.clinic_id) == photo
    assert clinic_photo(photo.id, other_clinic.id) is None
    assert patient_photo(photo.id, patient.id) == photo
    assert patient_photo(photo.id, other_patient.id) is None
    assert patient_photo(photo.id, neighbour.id) is None
    assert clinic_photo(photo.id + 1, treatment.clinic_id) is None


def test_no_camera_or_gps_field_survives_in_the_stored_photo(make_patient):
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "SnoopCam", "Spy Model 3"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}
    _, treatment = make_patient()
    (photo,) = add_photos(a_checkin(treatment), [jpeg((200, 100), exif=exif.tobytes())])
    db.session.commit()
    photo_id = photo.id
    db.session.expunge_all()
    row = db.session.get(Photo, photo_id)
    for data in (row.data, row.thumbnail):
        assert b"Exif" not in data and b"SnoopCam" not in data and b"Spy Model" not in data


def test_a_welsh_patient_reads_the_refusal_in_welsh(make_patient):
    from flask_babel import force_locale

    _, treatment = make_patient()
    checkin = a_checkin(treatment)
    with force_locale("cy"):
        message = refused(checkin, [b"not a photo"])
    assert message.startswith("Nid yw'r ffeil honno'n llun y gallwn ei ddarllen")


def test_a_refused_photo_leaves_a_checkin_of_the_same_transaction_to_be_committed(make_patient):
    _, treatment = make_patient()
    checkin = builders.checkin(treatment, TREATED_AT + timedelta(hours=5), {"bruising": 2}).checkin
    with pytest.raises(InvalidInput):
        add_photos(checkin, [jpeg(), jpeg() + HTML])
    db.session.commit()  # what a page does: keep the check-in, show the photo's refusal
    checkin_id = checkin.id
    db.session.expunge_all()
    kept = db.session.get(CheckIn, checkin_id)
    assert [r.severity for r in kept.reports] == [2]
    assert stored() == 0
