"""The photos in the API: a check-in's photos listed (metadata and a download URL) and each JPEG
served, only to the check-in's own clinic, audited, never cached."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from tests import builders
from tests.api_helpers import OTHER_NURSE, Api, assert_error, mint_token
from tests.conftest import TREATED_AT
from tests.photo_helpers import jpeg, png
from tracker.extensions import db
from tracker.models import AuditEvent
from tracker.services.photos.photos import add_photos


@pytest.fixture
def apis(app, client, clinic, other_clinic) -> tuple[Api, Api]:
    """The Riverside nurse's API client, and a Hillside nurse's on a client of its own."""
    return Api(client, mint_token()), Api(app.test_client(), mint_token(OTHER_NURSE))


@pytest.fixture
def api(apis) -> Api:
    return apis[0]


@pytest.fixture
def photographed(make_patient):
    """A check-in with two photos, and one without."""
    patient, treatment = make_patient()
    first = builders.checkin(treatment, TREATED_AT + timedelta(hours=20), {"bruising": 1}).checkin
    bare = builders.checkin(treatment, TREATED_AT + timedelta(hours=30), {"bruising": 0}).checkin
    photos = add_photos(first, [jpeg((120, 90)), png((50, 40))])
    db.session.commit()
    return patient, first, bare, photos


def audit_rows(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_checkins_photos_are_listed_with_a_download_url_and_audited(api, photographed):
    patient, checkin, _, photos = photographed
    response = api.get(f"/api/v1/checkins/{checkin.id}/photos")
    assert response.status_code == 200
    listed = response.get_json()["photos"]
    assert [p["id"] for p in listed] == [p.id for p in photos]
    first = listed[0]
    assert first == {
        "id": photos[0].id,
        "checkin_id": checkin.id,
        "created_at": first["created_at"],
        "content_type": "image/jpeg",
        "width": 120,
        "height": 90,
        "byte_size": photos[0].byte_size,
        "download_url": f"/api/v1/photos/{photos[0].id}",
    }
    assert first["created_at"].endswith("Z") or first["created_at"].endswith("+00:00")
    (row,) = audit_rows("checkin.photos.list")
    assert (row.patient_id, row.target) == (patient.id, f"checkin:{checkin.id}")


def test_a_checkin_without_photos_lists_none(api, photographed):
    _, _, bare, _ = photographed
    assert api.get(f"/api/v1/checkins/{bare.id}/photos").get_json() == {"photos": []}


def test_a_photo_downloads_as_an_uncached_inline_jpeg_and_is_audited(api, photographed):
    patient, _, _, photos = photographed
    response = api.get(f"/api/v1/photos/{photos[0].id}")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.data == photos[0].data
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="photo-{photos[0].id}.jpg"'
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(response.data)).size == (120, 90)
    (row,) = audit_rows("photo.view")
    assert (row.patient_id, row.target, row.actor_type) == (
        patient.id,
        f"photo:{photos[0].id}",
        "user",
    )


def test_another_clinics_checkin_and_photo_are_404_and_not_audited(apis, photographed):
    other_api = apis[1]
    _, checkin, _, photos = photographed
    assert_error(other_api.get(f"/api/v1/checkins/{checkin.id}/photos"), 404)
    assert_error(other_api.get(f"/api/v1/photos/{photos[0].id}"), 404)
    assert audit_rows("photo.view") == [] and audit_rows("checkin.photos.list") == []


def test_unknown_ids_are_404_and_no_token_is_401(api, client, photographed):
    _, checkin, _, photos = photographed
    assert_error(api.get(f"/api/v1/checkins/{checkin.id + 100}/photos"), 404)
    assert_error(api.get(f"/api/v1/photos/{photos[-1].id + 100}"), 404)
    assert_error(client.get(f"/api/v1/photos/{photos[0].id}"), 401)
    assert_error(client.get(f"/api/v1/checkins/{checkin.id}/photos"), 401)


def test_the_document_describes_the_photo_as_a_jpeg_not_json(client):
    document = client.get("/api/v1/openapi.json").get_json()
    ok = document["paths"]["/api/v1/photos/{photo_id}"]["get"]["responses"]["200"]
    assert ok["content"] == {
        "image/jpeg": {"schema": {"type": "string", "contentMediaType": "image/jpeg"}}
    }
    listed = document["paths"]["/api/v1/checkins/{checkin_id}/photos"]["get"]["responses"]
    assert {"200", "401", "404"} <= set(listed)
    docs = client.get("/api/v1/docs").get_data(as_text=True)
    assert "GET /api/v1/photos/{photo_id}" in docs and "(image/jpeg)" in docs
