"""The patient's own language switch: one button in every signed-in page's navigation."""

from __future__ import annotations

from flask import current_app, g, redirect, request, url_for
from werkzeug.exceptions import HTTPException
from wtforms import HiddenField, RadioField
from wtforms.fields.choices import SelectChoice

from ..catalogue import LANGUAGE_OWN_NAMES, LANGUAGES
from ..errors import render_error
from ..extensions import db
from ..forms import Form
from . import bp
from .session import audit_patient, patient_required

PAGES_TO_RETURN_TO = frozenset(
    {"patient.checkin", "patient.timeline", "patient.reminder_settings", "patient.answer"}
)
"""The pages the switch goes back to, shown again in the new language; anything else, even a
path on this site, goes to the check-in page, so the switch can never be an open redirect."""


class LanguageForm(Form):
    """The language the patient chose, and the page they chose it on."""

    language = RadioField(
        choices=[SelectChoice(code, LANGUAGE_OWN_NAMES[code]) for code in LANGUAGES]
    )
    back = HiddenField()


def page_to_return_to(path: str | None) -> str:
    """`path` if it is one of `PAGES_TO_RETURN_TO` on this site, else the check-in page."""
    if path and path.startswith("/") and not path.startswith("//"):
        try:
            endpoint, _arguments = current_app.create_url_adapter(request).match(path, method="GET")
        except HTTPException:  # no such page (or a redirect to one): start from the check-in
            endpoint = None
        if endpoint in PAGES_TO_RETURN_TO:
            return path
    return url_for("patient.checkin")


@bp.post("/patient/language")
@patient_required
def change_language():
    """Show the patient's pages and send their emails in the language they chose; audited."""
    form = LanguageForm()
    if not form.validate_on_submit():  # a language we do not ship, a NUL: only a tampered form
        problems = (str(message) for messages in form.errors.values() for message in messages)
        return render_error(422, " ".join(problems))
    if form.language.data != g.patient.language:
        g.patient.language = form.language.data
        audit_patient("patient.language.change", target=f"patient:{g.patient.id}")
        db.session.commit()
    return redirect(page_to_return_to(form.back.data))
