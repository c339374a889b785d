"""Patients and treatments (placeholder: being built)."""

from flask import render_template
from flask_login import login_required

from . import bp


@bp.get("/patients")
@login_required
def patients():
    """The clinic's patients."""
    return render_template("clinic/patients.html")
