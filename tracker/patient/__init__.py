"""The patient's pages: personal link, daily check-in, answer, timeline, reminder settings."""

from flask import Blueprint

bp = Blueprint("patient", __name__)

from . import answers, language, photos, reminders, routes  # noqa: E402,F401  (routes attach themselves to bp)
from .session import load_patient_session  # noqa: E402

bp.before_request(load_patient_session)
