"""The API's one error shape, `{"error": {"code", "message", "fields"}}`, for every 4xx and 5xx.

Flask answers some errors before any API view runs (no such URL: 404, wrong method: 405). Those
are caught by app-level handlers registered per status code, which Flask consults before the
app's catch-all HTML handler; for paths outside /api/ they hand the error back to that handler.
A service's refusal is answered here for every view: `InvalidInput` as 422 with its `fields`,
`PatientErased` (an erased patient's record is read-only) as 409 `patient_erased`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from ..invalid import InvalidInput
from ..services.patients.erased import PatientErased

API_PREFIX = "/api/"

CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Send a valid token: Authorization: Bearer <token>."),
    403: ("forbidden", "You may not do that."),
    404: ("not_found", "No such resource (or it belongs to another clinic)."),
    405: ("method_not_allowed", "That method is not allowed on this URL."),
    409: ("conflict", "The resource changed first; reload it and try again."),
    413: ("payload_too_large", "The request body is over the size limit."),
    415: ("unsupported_media_type", "Send the body as application/json."),
    422: ("invalid_fields", "Some fields are invalid: see `fields`."),
    429: ("too_many_requests", "Too many attempts; wait and try again (see Retry-After)."),
    500: ("internal_error", "Something went wrong on our side."),
}
HANDLED_STATUSES = tuple(code for code in CODES if code < 500)
PASSED_ON_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiError(Exception):
    """An error answered as the JSON envelope with `status`."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        default_code, default_message = CODES.get(status, CODES[500])
        super().__init__(message or default_message)
        self.status = status
        self.code = code or default_code
        self.message = message or default_message
        self.fields = fields or {}
        self.headers = headers or {}


def error_response(error: ApiError):
    """The envelope as a Flask response."""
    response = jsonify(
        {"error": {"code": error.code, "message": error.message, "fields": error.fields}}
    )
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def from_http_exception(error: HTTPException) -> ApiError:
    """Werkzeug's exception (404, 405, 413...) as an ApiError, keeping Allow and the like."""
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k in PASSED_ON_HEADERS}
    return ApiError(status, headers=headers)


def fields_from_validation(error: ValidationError) -> dict[str, str]:
    """Pydantic's errors as {"dotted.field.path": "message"} (the first message per field)."""
    fields: dict[str, str] = {}
    for problem in error.errors(include_url=False, include_input=False):
        key = ".".join(str(part) for part in problem["loc"]) or "body"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "Unknown field."
        fields.setdefault(key, message)
    return fields


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def register(bp: Blueprint) -> None:
    """Install the handlers: the blueprint's own, and app-level ones per status for /api/."""

    @bp.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error)

    @bp.errorhandler(InvalidInput)
    def invalid_input(error: InvalidInput):
        return error_response(ApiError(422, fields=error.fields))

    @bp.errorhandler(PatientErased)
    def erased_patient(error: PatientErased):
        return error_response(ApiError(409, str(error), code="patient_erased"))

    @bp.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return error_response(from_http_exception(error))
        current_app.logger.exception("Unhandled API error", exc_info=error)
        return error_response(ApiError(500))

    def by_status(error: HTTPException):
        if is_api_request():
            return error_response(from_http_exception(error))
        return _web_handler(error)

    for status in HANDLED_STATUSES:
        bp.app_errorhandler(status)(by_status)


def _web_handler(error: HTTPException):
    """Pass a non-API error to the app's own handler for its exception class (HTML pages)."""
    handlers = current_app.error_handler_spec[None][None]
    for cls in type(error).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return handler(error)
    return error
