"""Staff sign-in (password, then second factor), sign-out and password change."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import routes, second_factor  # noqa: E402,F401  (views attach themselves to bp)
