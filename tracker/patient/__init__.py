"""The patient's pages: personal link, daily check-in, answer, timeline."""

from flask import Blueprint

bp = Blueprint("patient", __name__)

from . import routes  # noqa: E402,F401  (routes attach themselves to bp)
