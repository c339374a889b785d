"""Photos in the patient's data rights: the JSON record export carries each photo (base64, with
its type and check-in), and erasing contact data keeps the photos as clinical record unless the
admin also ticks "delete photos" (audited, as a count)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from sqlalchemy import func, select

from tests import builders
from tests.conftest import STAFF_PASSWORD, TREATED_AT, StaffActions, csrf_token
from tests.photo_helpers import jpeg, png
from tracker.extensions import db
from tracker.models import AuditEvent, CheckIn, Photo
from tracker.services.photos.photos import add_photos

ADMIN = "admin@riverside.test"


def with_photos(make_patient, name: str, count: int = 2):
    patient, treatment = make_patient(name)
    checkin = builders.checkin(treatment, TREATED_AT + timedelta(hours=20), {"bruising": 1})
    photos = add_photos(checkin.checkin, [jpeg((80, 60)), png((40, 30))][:count])
    db.session.commit()
    return patient, checkin.checkin, photos


def admin_client(app):
    client = app.test_client()
    assert StaffActions(client).sign_in(ADMIN, STAFF_PASSWORD).status_code == 302
    return client


def erase(client, patient, *, delete_photos: bool):
    url = f"/clinic/patients/{patient.id}/erase"
    page = client.get(url)
    assert 'name="delete_photos"' in page.text
    data = {"csrf_token": csrf_token(page.text), "confirm_name": patient.name}
    if delete_photos:
        data["delete_photos"] = "y"
    return client.post(url, data=data)


def photos_of(checkin_id: int) -> int:
    return db.session.scalar(select(func.count(Photo.id)).where(Photo.checkin_id == checkin_id))


def audit_rows(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_json_export_carries_each_photo_as_base64_with_its_type(app, admin, make_patient):
    patient, checkin, photos = with_photos(make_patient, "Riley Private")
    stored = [(p.id, p.data, p.width, p.height, p.created_at) for p in photos]
    with_photos(make_patient, "Sam Other")  # another patient's photos are not in the export
    response = admin_client(app).get(f"/clinic/patients/{patient.id}/export.json")
    assert response.status_code == 200
    exported = json.loads(response.text)["photos"]
    assert [photo["id"] for photo in exported] == [row[0] for row in stored]
    for photo, (photo_id, data, width, height, created_at) in zip(exported, stored, strict=True):
        assert photo == {
            "id": photo_id,
            "checkin_id": checkin.id,
            "created_at": created_at.isoformat(),
            "content_type": "image/jpeg",
            "width": width,
            "height": height,
            "data_base64": photo["data_base64"],
        }
        assert base64.b64decode(photo["data_base64"]) == data
    assert json.loads(response.text)["checkins"][0]["id"] == checkin.id


def test_a_patient_without_photos_exports_an_empty_list(app, admin, make_patient):
    patient, _ = make_patient()
    response = admin_client(app).get(f"/clinic/patients/{patient.id}/export.json")
    assert json.loads(response.text)["photos"] == []


def test_erasure_keeps_the_photos_as_clinical_record_by_default(app, admin, make_patient):
    patient, checkin, _ = with_photos(make_patient, "Riley Private")
    assert erase(admin_client(app), patient, delete_photos=False).status_code == 302
    db.session.expire_all()
    assert photos_of(checkin.id) == 2
    assert db.session.get(CheckIn, checkin.id) is not None
    assert len(audit_rows("patient.erase")) == 1 and audit_rows("photo.delete") == []


def test_erasure_with_delete_photos_deletes_only_this_patients_photos_audited(
    app, admin, make_patient
):
    patient, checkin, _ = with_photos(make_patient, "Riley Private")
    _, others_checkin, _ = with_photos(make_patient, "Sam Other", count=1)
    response = erase(admin_client(app), patient, delete_photos=True)
    assert response.status_code == 302
    db.session.expire_all()
    assert photos_of(checkin.id) == 0
    assert photos_of(others_checkin.id) == 1
    assert db.session.get(CheckIn, checkin.id) is not None  # the check-in itself is kept
    (row,) = audit_rows("photo.delete")
    assert (row.patient_id, row.target, row.actor_type) == (patient.id, "photos:-2", "user")
    assert len(audit_rows("patient.erase")) == 1


def test_a_refused_erasure_deletes_no_photos(app, admin, make_patient):
    patient, checkin, _ = with_photos(make_patient, "Riley Private")
    client = admin_client(app)
    page = client.get(f"/clinic/patients/{patient.id}/erase")
    response = client.post(
        f"/clinic/patients/{patient.id}/erase",
        data={"csrf_token": csrf_token(page.text), "confirm_name": "Wrong", "delete_photos": "y"},
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert photos_of(checkin.id) == 2 and audit_rows("photo.delete") == []
