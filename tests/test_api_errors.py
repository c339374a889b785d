"""Every API error is the JSON envelope; the OpenAPI document and docs page describe the API."""

from __future__ import annotations

import json
import re

import pytest
from werkzeug.routing import Rule

from tests.api_helpers import Api, assert_error, mint_token
from tracker.security import CONTENT_SECURITY_POLICY


@pytest.fixture
def api(client, clinic) -> Api:
    """The Riverside nurse's token on the test client."""
    return Api(client, mint_token())


def test_an_unknown_api_url_is_a_json_404(client):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/api/v2/patients"), 404)


def test_web_pages_keep_their_html_error_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    response = client.put("/signin")
    assert response.status_code == 405 and response.mimetype == "text/html"


def test_a_wrong_method_is_a_json_405_with_allow(api):
    response = api.open("/api/v1/symptoms", "DELETE")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    assert_error(api.open("/api/v1/patients", "GET"), 405)


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/patients", data='{"name": ', content_type="application/json")
    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"name": "A"}', "text/plain"),
        ("name=A", "application/x-www-form-urlencoded"),
        ('{"name": "A"}', None),
    ],
)
def test_a_body_that_is_not_json_is_415(api, data, content_type):
    response = api.post("/api/v1/patients", data=data, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


def test_a_json_body_that_is_not_an_object_is_422(api):
    assert "body" in assert_error(api.post("/api/v1/patients", json=[1, 2]), 422)


def test_nan_and_infinity_are_refused(api, make_patient):
    patient, _ = make_patient()
    body = (
        '{"treated_at": "2026-03-02T10:00:00Z", "product": "B", "batch_number": "1", '
        '"indication": "cosmetic", "areas": ["forehead"], "units": NaN}'
    )
    response = api.post(
        f"/api/v1/patients/{patient.id}/treatments", data=body, content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)


def test_unknown_query_parameters_are_422(api):
    fields = assert_error(api.get("/api/v1/symptoms?lang=fr"), 422, "invalid_fields")
    assert fields == {"lang": "Unknown parameter."}


def test_a_body_over_the_limit_is_413(app, api):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps({"name": "x" * limit})
    response = api.post("/api/v1/patients", data=body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_no_csrf_token_is_needed_with_a_bearer_token(api):
    response = api.post(
        "/api/v1/patients", {"name": "A B", "email": "ab@example.com", "timezone": "UTC"}
    )
    assert response.status_code == 201


def test_an_unexpected_failure_is_a_json_500_without_details(api, monkeypatch):
    from tracker.services.clinics import catalogue_admin

    def broken(clinic_id):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(catalogue_admin, "clinic_symptoms", broken)
    response = api.get("/api/v1/symptoms")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret detail" not in response.get_data(as_text=True)


def test_api_responses_keep_the_security_headers(api):
    response = api.get("/api/v1/symptoms")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- the OpenAPI document ----------------------------------------------------------------------

CONTRACT = {
    ("post", "/api/v1/token"),
    ("delete", "/api/v1/token"),
    ("get", "/api/v1/symptoms"),
    ("post", "/api/v1/patients"),
    ("get", "/api/v1/patients/{patient_id}"),
    ("patch", "/api/v1/patients/{patient_id}"),
    ("get", "/api/v1/patients/{patient_id}/checkins"),
    ("post", "/api/v1/patients/{patient_id}/treatments"),
    ("get", "/api/v1/treatments/{treatment_id}"),
    ("post", "/api/v1/treatments/{treatment_id}/checkins"),
    ("get", "/api/v1/treatments/{treatment_id}/fhir"),
    ("get", "/api/v1/flags"),
    ("post", "/api/v1/flags/{flag_id}/acknowledge"),
    ("post", "/api/v1/flags/{flag_id}/resolve"),
    ("get", "/api/v1/cases"),
    ("post", "/api/v1/cases/{treatment_id}/assign"),
    ("post", "/api/v1/cases/{treatment_id}/resolve"),
    ("get", "/api/v1/batches"),
    ("get", "/api/v1/batches/{product}/{batch}"),
    ("post", "/api/v1/batches/{product}/{batch}/quarantine"),
    ("post", "/api/v1/batches/{product}/{batch}/quarantine/lift"),
    ("post", "/api/v1/batches/{product}/{batch}/signals/{signal_id}/close"),
    ("get", "/api/v1/cases/{treatment_id}/report"),
    ("put", "/api/v1/cases/{treatment_id}/report"),
    ("get", "/api/v1/checkins/{checkin_id}/photos"),
    ("get", "/api/v1/photos/{photo_id}"),
}


def _document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_openapi_document_is_3_1_and_lists_exactly_the_contract(client):
    document = _document(client)
    assert document["openapi"].startswith("3.1")
    operations = {(m, p) for p, methods in document["paths"].items() for m in methods}
    assert operations == CONTRACT


def test_every_api_route_is_in_the_document(app, client):
    documented = {
        (m.upper(), p) for p, methods in _document(client)["paths"].items() for m in methods
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in {
            "api.openapi_json",
            "api.docs",
        }:
            path = _openapi_path(rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, path) in documented


def _openapi_path(rule: Rule) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <int:id>, <batch_key:product>


def test_request_models_refuse_unknown_fields_in_the_document(client):
    document = _document(client)
    schemas = document["components"]["schemas"]
    body = document["paths"]["/api/v1/patients"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schemas[ref]["additionalProperties"] is False
    assert body["content"]["application/json"]["example"]["timezone"] == "Europe/London"


def test_operations_document_their_errors_and_paging(client):
    document = _document(client)
    flags = document["paths"]["/api/v1/flags"]["get"]
    limit = next(p for p in flags["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 100
    assert {"200", "401", "422"} <= set(flags["responses"])
    checkin = document["paths"]["/api/v1/treatments/{treatment_id}/checkins"]["post"]
    assert {"201", "401", "404", "413", "415", "422"} <= set(checkin["responses"])
    token = document["paths"]["/api/v1/token"]["post"]
    assert token["security"] == [] and "429" in token["responses"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_docs_page_works_offline_under_the_strict_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "POST /api/v1/treatments/{treatment_id}/checkins" in html
    assert "DELETE /api/v1/token" in html and "No content" in html
    assert "<script" not in html and "https://" not in html.split("</head>")[0]
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
