"""Operations: one decorator validates a view's input with pydantic and describes it in OpenAPI.

The OpenAPI document is built from the very models the decorator validates with (pydantic's JSON
Schema 2020-12 is OpenAPI 3.1's schema dialect), so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from ..batch_urls import BATCH_KEY_SCHEMA
from .errors import CODES, ApiError, fields_from_validation
from .schemas import MAX_ID

JSON_MIMETYPES = ("application/json",)
REF_TEMPLATE = "#/components/schemas/{model}"


class Binary:
    """A response of raw bytes in the operation's `media_type` (e.g. image/jpeg), not a JSON
    model: described as a string of that media type (OpenAPI 3.1 `contentMediaType`)."""


@dataclass
class Operation:
    """What the OpenAPI document says about one view."""

    summary: str
    description: str
    tag: str
    responses: dict[int, type[BaseModel] | type[Binary] | None]  # None: no content (204)
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    public: bool = False
    errors: tuple[int, ...] = ()
    request_example: dict[str, Any] | None = None
    media_type: str = "application/json"


def operation(
    summary: str,
    *,
    tag: str,
    responses: dict[int, type[BaseModel] | type[Binary] | None],
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    query: type[BaseModel] | None = None,
    public: bool = False,
    errors: tuple[int, ...] = (),
    example: dict[str, Any] | None = None,
    media_type: str = "application/json",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Authenticate (unless `public`), validate the query and body, and serialise the result.

    The view gets each record named in the URL (`patient_id` becomes `patient`, found within
    the token user's clinic or 404), `query=` and `body=` as model instances, and returns a
    model (200), a `(model, status)` pair, `(model, status, headers)`, or a `Response` (204).
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        meta = Operation(
            summary=summary,
            description=(view.__doc__ or "").strip(),
            tag=tag,
            responses=responses,
            body=body,
            body_required=body_required,
            query=query,
            public=public,
            errors=errors,
            request_example=example,
            media_type=media_type,
        )

        @wraps(view)
        def wrapped(**kwargs: Any) -> Response:
            from .auth import require_user
            from .common import load_path_records

            if not public:
                require_user()
            if any(isinstance(v, int) and not 1 <= v <= MAX_ID for v in kwargs.values()):
                raise ApiError(404)
            kwargs = load_path_records(kwargs)  # a 404 comes before any look at the body
            if query is not None:
                kwargs["query"] = parse_query(query)
            elif request.args:
                raise ApiError(422, fields=dict.fromkeys(request.args, "Unknown parameter."))
            if body is not None:
                kwargs["body"] = parse_body(body, required=body_required)
            return to_response(view(**kwargs))

        wrapped.api_operation = meta  # type: ignore[attr-defined]
        return wrapped

    return decorate


def parse_query(model: type[BaseModel]) -> BaseModel:
    """The query string validated by `model`; unknown or repeated parameters are refused."""
    values: dict[str, str] = {}
    for name, items in request.args.lists():
        if len(items) > 1:
            raise ApiError(422, fields={name: "Give this parameter once."})
        values[name] = items[0]
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ApiError(422, fields=fields_from_validation(error)) from None


def parse_body(model: type[BaseModel], *, required: bool = True) -> BaseModel:
    """The JSON body validated by `model`: 415 for another type, 400 for broken JSON, 422 else."""
    data = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not data and not required:
        return model()
    if request.mimetype not in JSON_MIMETYPES:
        raise ApiError(415)
    try:
        return model.model_validate_json(data)
    except ValidationError as error:
        if any(problem["type"] == "json_invalid" for problem in error.errors()):
            raise ApiError(400, "The body is not valid JSON.", code="malformed_json") from None
        raise ApiError(422, fields=fields_from_validation(error)) from None


def to_response(result: Any) -> Response:
    """A view's model (with optional status and headers) as a JSON response."""
    if isinstance(result, Response):
        return result
    status, headers = 200, {}
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else {}
    response = jsonify(result.model_dump(mode="json"))
    response.status_code = status
    response.headers.update(headers)
    return response


# --- the OpenAPI document ---------------------------------------------------------------------

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _path_and_parameters(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for converter, name in _CONVERTER.findall(rule):
        schema: dict[str, Any] = {"type": "string"}
        if converter == "int":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        elif converter == "batch_key":
            schema = dict(BATCH_KEY_SCHEMA)
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _CONVERTER.sub(r"{\2}", rule), parameters


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = []
    for name, info in model.model_fields.items():
        schema = schemas[name]
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": info.is_required(),
                "description": info.description or "",
                "schema": schema,
            }
        )
    return parameters


def _error_statuses(meta: Operation, has_path_ids: bool) -> list[int]:
    statuses = {400, 422, *meta.errors}
    if not meta.public:
        statuses.add(401)
    if has_path_ids:
        statuses.add(404)
    if meta.body is not None:
        statuses.update({413, 415})
    return sorted(statuses)


def build_openapi(app: Flask, *, title: str, version: str, description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every operation on the app's API blueprint."""
    from .schemas import ErrorOut

    operations: list[tuple[str, str, str, Operation, list[dict[str, Any]]]] = []
    models: set[type[BaseModel]] = {ErrorOut}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta: Operation | None = getattr(view, "api_operation", None)
        if meta is None:
            continue
        path, parameters = _path_and_parameters(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            name = rule.endpoint.rsplit(".", 1)[-1]
            operations.append((name, path, method.lower(), meta, parameters))
        models.update(model for model in meta.responses.values() if model not in (None, Binary))
        if meta.body is not None:
            models.add(meta.body)

    keyed = [(model, mode) for model in models for mode in ("validation", "serialization")]
    refs, top = models_json_schema(keyed, ref_template=REF_TEMPLATE)
    components = top.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    for name, path, method, meta, path_parameters in operations:
        entry: dict[str, Any] = {
            "operationId": name,
            "summary": meta.summary,
            "description": meta.description,
            "tags": [meta.tag],
            "parameters": list(path_parameters),
            "responses": {},
        }
        if not meta.public:
            entry["security"] = [{"bearerAuth": []}]
        else:
            entry["security"] = []
        if meta.query is not None:
            query_schema = meta.query.model_json_schema(ref_template=REF_TEMPLATE)
            components.update(query_schema.pop("$defs", {}))
            entry["parameters"] += _query_parameters(meta.query, query_schema["properties"])
        if meta.body is not None:
            media: dict[str, Any] = {"schema": refs[(meta.body, "validation")]}
            if meta.request_example is not None:
                media["example"] = meta.request_example
            entry["requestBody"] = {
                "required": meta.body_required,
                "content": {"application/json": media},
            }
        for status, model in meta.responses.items():
            entry["responses"][str(status)] = {"description": _status_text(status)}
            if model is Binary:
                schema = {"schema": {"type": "string", "contentMediaType": meta.media_type}}
                entry["responses"][str(status)]["content"] = {meta.media_type: schema}
            elif model is not None:
                schema = {"schema": refs[(model, "serialization")]}
                entry["responses"][str(status)]["content"] = {meta.media_type: schema}
        for status in _error_statuses(meta, bool(path_parameters)):
            response: dict[str, Any] = {
                "description": CODES[status][1],
                "content": {"application/json": {"schema": refs[(ErrorOut, "serialization")]}},
            }
            if status == 429:
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before trying again.",
                        "schema": {"type": "string"},
                    }
                }
            entry["responses"][str(status)] = response
        paths.setdefault(path, {})[method] = entry

    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from POST /api/v1/token, valid for 12 hours.",
                }
            },
        },
    }


def _status_text(status: int) -> str:
    return {200: "OK", 201: "Created", 204: "No content"}.get(status, str(status))
