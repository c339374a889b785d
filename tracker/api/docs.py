"""The OpenAPI document and a page that reads it, served without any script or CDN."""

from __future__ import annotations

import json

from flask import current_app, jsonify, render_template

from . import bp
from .spec import build_openapi

DESCRIPTION = """\
Aftercare's JSON API for clinic integrations: a practice-management system, a phone follow-up
script, a mobile app. Every request but `POST /api/v1/token` needs `Authorization: Bearer
<token>`; everything is scoped to the token user's clinic (another clinic's ids answer 404).

Errors are always `{"error": {"code", "message", "fields"}}` with a 4xx status: 400 broken JSON,
401 no valid token, 403 an admins' operation with a clinician's token, 404 not found, 405 wrong
method, 409 conflicting change (code `patient_erased`: the patient's contact data was erased and
their record is read-only), 413 body over the limit, 415 not JSON, 422 invalid or unknown
fields, 429 too many sign-in failures.

Timestamps are ISO 8601 with an offset (naive times are refused) and come back in UTC. Lists
are paged with `limit` (at most 100) and the opaque `cursor` from the previous page's
`next_cursor`.
"""


def openapi_document() -> dict:
    """The document, built once per app from the registered operations."""
    cache = current_app.extensions.setdefault("tracker_api", {})
    if "openapi" not in cache:
        cache["openapi"] = build_openapi(
            current_app, title="Aftercare API", version="1.0.0", description=DESCRIPTION
        )
    return cache["openapi"]


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())


def type_text(schema: dict) -> str:
    """A short description of a JSON Schema type: "string", "integer 1-100", "list of X"..."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(type_text(option) for option in schema["anyOf"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(value) for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        sizes = [
            f"{label} {schema[key]}"
            for key, label in (("minItems", ">="), ("maxItems", "<="))
            if key in schema
        ]
        size = f" ({', '.join(sizes)} items)" if sizes else ""
        return "list" + size + " of " + type_text(schema.get("items", {}))
    if kind == "object" and "additionalProperties" in schema:
        values = schema["additionalProperties"]
        return "object" if values in (True, False) else "map of " + type_text(values)
    limits = [
        f"{label} {schema[key]}"
        for key, label in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("maximum", "<="),
            ("minLength", "length >="),
            ("maxLength", "length <="),
            ("pattern", "matching"),
        )
        if key in schema
    ]
    text = kind + (f" ({schema['format']})" if "format" in schema else "")
    return text + (" " + ", ".join(limits) if limits else "")


def fields(schema: dict) -> list[tuple[str, bool, str, str]]:
    """(name, required, type, description) of each property of an object schema."""
    required = set(schema.get("required", []))
    return [
        (name, name in required, type_text(prop), prop.get("description", ""))
        for name, prop in schema.get("properties", {}).items()
    ]


@bp.get("/docs")
def docs():
    """A readable page of every operation, its fields and its answers, from the document."""
    document = openapi_document()
    return render_template(
        "api/docs.html",
        document=document,
        schema_name=lambda schema: schema.get("$ref", "").rsplit("/", 1)[-1],
        fields=fields,
        type_text=type_text,
        pretty=lambda value: json.dumps(value, indent=2, ensure_ascii=False),
    )
