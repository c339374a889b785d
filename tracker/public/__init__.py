"""Pages anyone may see: the landing page."""

from flask import Blueprint, render_template

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    """What Aftercare is, and where patients and staff go."""
    return render_template("public/index.html")
