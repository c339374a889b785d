"""Error pages: a clear, friendly page for every error status, never a traceback."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from . import redaction
from .extensions import db
from .invalid import InvalidInput
from .services.patients.erased import PatientErased

MESSAGES = {
    400: (_l("Something was wrong with that request"), _l("Go back and try again.")),
    401: (_l("Please sign in"), _l("Open the link in your latest email from the clinic.")),
    403: (_l("Not allowed"), _l("You do not have access to this page.")),
    404: (_l("Not found"), _l("This page does not exist, or you do not have access to it.")),
    405: (_l("Not allowed"), _l("That action is not available here.")),
    409: (_l("Already changed"), _l("Someone else changed this first. Reload and try again.")),
    413: (
        _l("That was too much to send"),
        _l("Nothing was saved. Keep notes short (2,000 characters at most) and try again."),
    ),
    422: (_l("Please check what you entered"), _l("Go back, correct it and try again.")),
    429: (_l("Too many attempts"), _l("Please wait a few minutes and try again.")),
    500: (
        _l("Something went wrong on our side"),
        _l("Nothing you entered was lost. Try again soon."),
    ),
}


def render_error(status: int, detail: str | None = None):
    """The error page for `status`, with an optional sentence saying what to do."""
    title, hint = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    return render_template(
        "errors/error.html", status=status, title=title, hint=detail or hint
    ), status


def register(app: Flask) -> None:
    """Install the handlers, and keep tokens out of every log line they (or anyone) write."""
    redaction.install()

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        app.logger.warning("CSRF refused: %s", error.description)
        return render_error(
            400,
            gettext(
                "This form had expired or did not come from this site, so nothing was saved. "
                "Go back, reload the page and send it again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return render_error(error.code or 500)

    @app.errorhandler(InvalidInput)
    def refused_input(error: InvalidInput):
        # A refusal no view showed next to its fields (a view should): still a 422, not a 500.
        app.logger.warning("Input refused outside a form: %s", ", ".join(error.fields))
        hint = gettext("%(problem)s Go back, correct it and try again.", problem=error)
        return render_error(422, hint)

    @app.errorhandler(PatientErased)
    def erased_patient(error: PatientErased):
        # Whichever service refused, nothing the request wrote before is kept.
        db.session.rollback()
        return render_error(409, str(error))

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("Unhandled error", exc_info=error)
        return render_error(InternalServerError.code)
