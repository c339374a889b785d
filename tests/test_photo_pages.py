"""Photos with a check-in, through the pages (issue 16): the patient attaches them to the
check-in or adds them on its answer page, sees their own on the timeline; the clinic sees them
on the case page; nobody else sees them at all.

Photos are real JPEGs made by Pillow. The pages' tests store photos directly where only showing
them is tested (`stored_photo`), and post real files where the upload is.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import test_patient_pages
from tests.conftest import PatientActions, StaffActions, csrf_token
from tests.photo_page_helpers import image_size, jpeg_bytes, no_file, stored_photo, upload
from tests.sql_helpers import executed_statements
from tests.test_patient_pages import DAY1, SESSION_ENDED, follow
from tracker.extensions import db
from tracker.models import AuditEvent, CheckIn, OutboxMessage, Photo, SymptomReport
from tracker.security import CONTENT_SECURITY_POLICY
from tracker.services.messaging.alerts import URGENT_ALERT
from tracker.services.patients.checkins import SymptomEntry, record_checkin

signed_in = test_patient_pages.signed_in
"""Pat, treated yesterday, has opened this morning's link (the patient pages' fixture)."""

NOT_AN_IMAGE = b"this is a text file, not a photo\n"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def post_checkin(client, photos=(), **fields):
    """The check-in form as a phone sends it (multipart), headache mild unless told otherwise,
    with `photos` (files) in its photo inputs."""
    page = client.get("/checkin")
    data = {"csrf_token": csrf_token(page.text), "severity_headache": "1", **fields}
    data["photos"] = list(photos) or [no_file(), no_file()]  # both inputs, left empty
    return client.post("/checkin", data=data, content_type="multipart/form-data")


def post_photos(client, checkin_id: int, photos, csrf: str | None = None):
    """The answer page's "add photos" form."""
    if csrf is None:
        csrf = csrf_token(client.get(f"/checkins/{checkin_id}").text)
    return client.post(
        f"/checkins/{checkin_id}/photos",
        data={"csrf_token": csrf, "photos": list(photos)},
        content_type="multipart/form-data",
    )


def the_checkin() -> CheckIn:
    return db.session.scalars(select(CheckIn)).one()


# --- the check-in form -------------------------------------------------------------------------


def test_the_checkin_form_takes_photos_from_the_camera_or_the_library(client, signed_in):
    page = client.get("/checkin").text
    assert 'enctype="multipart/form-data"' in page
    assert (
        '<input type="file" id="photo-camera" name="photos" accept="image/*" capture="environment">'
        in page
    )
    assert '<input type="file" id="photo-library" name="photos" accept="image/*" multiple>' in page
    assert "Take a photo with your camera" in page
    assert "Or choose photos you have already taken" in page
    assert "Only your clinic sees them." in page


def test_a_checkin_with_a_photo_stores_it_with_the_checkin(client, signed_in):
    response = post_checkin(client, [upload(jpeg_bytes(120, 80)), no_file()])
    assert response.status_code == 302
    checkin = the_checkin()
    photo = db.session.scalars(select(Photo)).one()
    assert photo.checkin_id == checkin.id
    assert image_size(photo.data) == (120, 80)
    assert "patient.photo.add" in audit_actions()
    answer = follow(client, response).text
    assert f"/photos/{photo.id}/thumbnail" in answer


def test_a_checkin_without_photos_works_as_before(client, signed_in, patient_actions):
    assert post_checkin(client).status_code == 302  # multipart, both inputs empty
    assert patient_actions.submit_checkin({"bruising": 1}).status_code == 302  # url-encoded
    assert count(CheckIn) == 2 and count(Photo) == 0
    assert "patient.photo.add" not in audit_actions()


def test_a_photo_over_the_1_mib_form_limit_is_taken_on_the_checkin(client, signed_in, app):
    big = jpeg_bytes(1200, 1000, noise=True)
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    assert post_checkin(client, [upload(big)]).status_code == 302
    assert count(Photo) == 1


def test_a_refused_photo_keeps_the_checkin_and_says_so_on_its_answer_page(client, signed_in):
    response = post_checkin(client, [upload(NOT_AN_IMAGE, "rash.jpg")], severity_bruising="2")
    assert response.status_code == 302  # the symptoms are saved whatever the photo
    checkin = the_checkin()
    reports = db.session.scalars(select(SymptomReport).where(SymptomReport.severity >= 1))
    assert sorted(r.symptom.code for r in reports) == ["bruising", "headache"]
    assert count(Photo) == 0
    answer = follow(client, response)
    assert "Your check-in was saved, but not your photos:" in answer.text
    assert f'action="/checkins/{checkin.id}/photos"' in answer.text  # try again, there
    assert "patient.photo.add" not in audit_actions()
    # The message was for that one page.
    assert "not your photos" not in client.get(f"/checkins/{checkin.id}").text


def test_an_urgent_checkin_with_a_refused_photo_still_alerts_the_clinic_at_once(
    client, admin, signed_in
):
    response = post_checkin(client, [upload(NOT_AN_IMAGE)], urgent="difficulty_breathing")
    assert response.status_code == 302
    alerts = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == URGENT_ALERT))
    assert len(alerts.all()) == 1
    answer = follow(client, response).text
    assert "Your clinic has been alerted." in answer and "not your photos" in answer


def test_a_refused_form_with_photos_says_to_choose_them_again(client, signed_in):
    response = post_checkin(client, [upload(jpeg_bytes())], severity_headache="9")
    assert response.status_code == 422
    assert "Nothing was saved yet." in response.text
    assert "Your photos were not saved either: choose them again." in response.text
    assert count(CheckIn) == 0 and count(Photo) == 0


def test_a_request_over_the_photo_limit_is_a_clear_413_and_stores_nothing(client, signed_in, app):
    app.config["MAX_PHOTO_REQUEST_LENGTH"] = 256 * 1024  # the limit is read per request
    response = post_checkin(client, [upload(jpeg_bytes(600, 600, noise=True))])
    assert response.status_code == 413
    assert "That was too much to send" in response.text
    assert "10 MB each" in response.text
    assert count(CheckIn) == 0 and count(Photo) == 0


# --- adding photos on the answer page ----------------------------------------------------------


@pytest.fixture
def sent(client, signed_in):
    """Pat's check-in, just sent (without photos) in this session: its id."""
    assert post_checkin(client).status_code == 302
    return the_checkin().id


def test_photos_are_added_on_the_answer_page(client, sent):
    page = client.get(f"/checkins/{sent}").text
    assert "Photos with this check-in" in page and "Add these photos" in page
    response = post_photos(client, sent, [upload(jpeg_bytes()), upload(jpeg_bytes(30, 40))])
    assert response.status_code == 302
    assert response.headers["Location"] == f"/checkins/{sent}#photos"
    photos = db.session.scalars(select(Photo).order_by(Photo.id)).all()
    assert [p.checkin_id for p in photos] == [sent, sent]
    page = follow(client, response).text
    assert "Your photos were added to this check-in." in page
    for photo in photos:
        assert f'href="/photos/{photo.id}"' in page
        assert f'src="/photos/{photo.id}/thumbnail"' in page


def test_a_refused_photo_on_the_answer_page_is_a_clear_422_and_stores_nothing(client, sent):
    response = post_photos(client, sent, [upload(jpeg_bytes()), upload(NOT_AN_IMAGE)])
    assert response.status_code == 422
    assert "Your photos were not saved:" in response.text
    assert count(Photo) == 0


def test_no_photo_chosen_on_the_answer_page_is_a_clear_422(client, sent):
    response = post_photos(client, sent, [no_file(), no_file()])
    assert response.status_code == 422
    assert "Choose a photo to add." in response.text


def test_a_fourth_photo_is_refused_and_nothing_of_it_stored(client, sent):
    photos = [upload(jpeg_bytes()) for _ in range(3)]
    assert post_photos(client, sent, photos).status_code == 302
    page = client.get(f"/checkins/{sent}").text
    assert "Add these photos" not in page  # three already: no form
    response = post_photos(client, sent, [upload(jpeg_bytes())], csrf=csrf_token(page))
    assert response.status_code == 422
    assert count(Photo) == 3


def test_a_photo_posted_after_the_session_ended_is_refused_and_not_stored(client, sent):
    csrf = csrf_token(client.get(f"/checkins/{sent}").text)
    client.post("/patient/signout", data={"csrf_token": csrf})
    response = post_photos(client, sent, [upload(jpeg_bytes())], csrf=csrf)
    assert response.status_code == 401
    assert SESSION_ENDED in response.text
    assert count(Photo) == 0


def test_a_photo_posted_after_the_session_timed_out_is_refused(client, sent, time_machine):
    csrf = csrf_token(client.get(f"/checkins/{sent}").text)
    time_machine.move_to(DAY1 + timedelta(hours=2), tick=False)
    response = post_photos(client, sent, [upload(jpeg_bytes())], csrf=csrf)
    assert response.status_code == 401
    assert count(Photo) == 0


def test_a_photo_posted_to_another_patients_checkin_is_not_found(client, sent, make_patient):
    _, other_treatment = make_patient("Olive Other")
    other = record_checkin(other_treatment, [SymptomEntry("headache", 1)]).checkin
    db.session.commit()
    csrf = csrf_token(client.get(f"/checkins/{sent}").text)
    response = post_photos(client, other.id, [upload(jpeg_bytes())], csrf=csrf)
    assert response.status_code == 404
    assert count(Photo) == 0


def test_photos_go_only_to_a_checkin_of_this_session(client, signed_in, sent, time_machine):
    patient, _ = signed_in
    time_machine.move_to(DAY1 + timedelta(minutes=10), tick=False)
    assert PatientActions(client).sign_in(patient).status_code == 302  # a new session
    page = client.get(f"/checkins/{sent}").text
    assert "Add these photos" not in page
    response = post_photos(client, sent, [upload(jpeg_bytes())], csrf=csrf_token(page))
    assert response.status_code == 403
    assert "only just after sending it" in response.text
    assert count(Photo) == 0


# --- the patient sees their own photos ---------------------------------------------------------


def test_the_patient_sees_their_photos_on_their_timeline_and_opens_them(client, sent):
    photo = stored_photo(db.session.get(CheckIn, sent))
    db.session.commit()
    timeline = client.get("/timeline").text
    assert "My photos" in timeline
    assert f'href="/photos/{photo.id}"' in timeline
    assert f'src="/photos/{photo.id}/thumbnail"' in timeline
    full = client.get(f"/photos/{photo.id}")
    assert full.status_code == 200 and full.mimetype == "image/jpeg"
    assert image_size(full.data) == (200, 150)
    assert full.headers["Cache-Control"] == "no-store"
    thumbnail = client.get(f"/photos/{photo.id}/thumbnail")
    assert image_size(thumbnail.data) == (40, 30)
    views = db.session.scalars(
        select(AuditEvent.target).where(AuditEvent.action == "patient.photo.view")
    ).all()
    assert views == [f"photo:{photo.id}", f"photo:{photo.id};thumbnail"]


def test_a_timeline_without_photos_has_no_photo_section(client, sent):
    assert "My photos" not in client.get("/timeline").text


def test_another_patients_photo_is_not_found(client, signed_in, make_patient):
    _, other_treatment = make_patient("Olive Other")
    other = record_checkin(other_treatment, [SymptomEntry("headache", 1)]).checkin
    photo = stored_photo(other)
    db.session.commit()
    for url in (f"/photos/{photo.id}", f"/photos/{photo.id}/thumbnail"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.mimetype == "text/html"


def test_a_photo_needs_a_live_patient_session(app, sent):
    photo = stored_photo(db.session.get(CheckIn, sent))
    db.session.commit()
    assert app.test_client().get(f"/photos/{photo.id}").status_code == 401


# --- the clinic sees them on the case page -----------------------------------------------------


@pytest.fixture
def photographed(make_patient, time_machine):
    """Pat's three check-ins, two of them with photos: (treatment, check-ins, photos)."""
    time_machine.move_to(DAY1, tick=False)
    _, treatment = make_patient()
    checkins = [
        record_checkin(treatment, [SymptomEntry("eyelid_drooping", 2)], reported_at=at).checkin
        for at in (DAY1 - timedelta(hours=3), DAY1 - timedelta(hours=2), DAY1 - timedelta(hours=1))
    ]
    photos = [stored_photo(checkins[0]), stored_photo(checkins[2]), stored_photo(checkins[2])]
    db.session.commit()
    return treatment, checkins, photos


def test_the_case_page_shows_each_checkins_photos_in_its_row(photographed, nurse):
    treatment, checkins, photos = photographed
    page = nurse.client.get(f"/clinic/cases/{treatment.id}").text
    rows = {c.id: page.split(f'<tr id="checkin-{c.id}">')[1].split("</tr>")[0] for c in checkins}
    assert f'src="/clinic/photos/{photos[0].id}/thumbnail"' in rows[checkins[0].id]
    assert f'href="/clinic/photos/{photos[0].id}"' in rows[checkins[0].id]
    assert "/clinic/photos/" not in rows[checkins[1].id]
    assert all(f'href="/clinic/photos/{p.id}"' in rows[checkins[2].id] for p in photos[1:])
    # Newest check-in first, as the table always was; its photos in the order they came.
    assert page.index(f"photo-{photos[1].id}") < page.index(f"photo-{photos[2].id}")
    assert page.index(f"photo-{photos[2].id}") < page.index(f"photo-{photos[0].id}")


def test_the_case_page_reads_its_photos_in_one_statement_without_their_bytes(photographed, nurse):
    treatment, *_ = photographed
    with executed_statements() as statements:
        assert nurse.client.get(f"/clinic/cases/{treatment.id}").status_code == 200
    photo_reads = [s for s in statements if "FROM photos" in s]
    assert len(photo_reads) == 1, photo_reads
    assert "photos.data" not in photo_reads[0] and "photos.thumbnail" not in photo_reads[0]


@pytest.mark.parametrize("suffix", ["", "/thumbnail"])
def test_the_clinic_opens_a_photo_with_safe_headers_audited(photographed, nurse, suffix):
    treatment, _, photos = photographed
    photo = photos[0]
    response = nurse.client.get(f"/clinic/photos/{photo.id}{suffix}")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert image_size(response.data) == ((40, 30) if suffix else (200, 150))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == f'inline; filename="photo-{photo.id}.jpg"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "img-src 'self'" in CONTENT_SECURITY_POLICY
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "photo.view")).one()
    assert event.patient_id == treatment.patient_id
    assert event.target == f"photo:{photo.id}{';thumbnail' if suffix else ''}"


@pytest.mark.parametrize("suffix", ["", "/thumbnail"])
def test_another_clinics_nurse_gets_404_for_a_photo(app, photographed, other_clinic, suffix):
    _, _, photos = photographed
    client = app.test_client()
    assert StaffActions(client).sign_in("nurse@hillside.test").status_code == 302
    response = client.get(f"/clinic/photos/{photos[0].id}{suffix}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "photo.view" not in audit_actions()


def test_a_photo_url_without_signing_in_goes_to_sign_in(app, photographed):
    _, _, photos = photographed
    response = app.test_client().get(f"/clinic/photos/{photos[0].id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
