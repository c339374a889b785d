"""The flag queue and flag detail (placeholder: being built)."""

from flask import render_template
from flask_login import login_required

from . import bp


@bp.get("/")
@bp.get("/flags")
@login_required
def queue():
    """Open and acknowledged flags, most urgent first."""
    return render_template("clinic/queue.html")
