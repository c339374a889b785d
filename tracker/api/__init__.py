"""The JSON API under /api/v1: bearer tokens, pydantic-validated bodies, an OpenAPI document.

Token authentication only (no cookies), so CSRF protection does not apply to it.
"""

from flask import Blueprint

from ..extensions import csrf
from . import errors

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
errors.register(bp)

from . import batches, cases, docs, flags, photos, views  # noqa: E402,F401  (views attach themselves to bp)
