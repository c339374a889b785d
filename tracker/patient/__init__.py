"""The patient's pages: personal link, daily check-in, answer, timeline, reminder settings."""

from flask import Blueprint

bp = Blueprint("patient", __name__)

from . import reminders, routes  # noqa: E402,F401  (routes attach themselves to bp)
